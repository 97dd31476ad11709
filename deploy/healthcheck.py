"""A container health check: healthy once the service answers `GET /ready` with 200 on its metrics
port (every part it needs is there: consumer groups joined, table restored, HTTP API listening).
Usage: python -m deploy.healthcheck NAME PORT"""
import sys

from deploy.local.readiness import service_ready


def main(argv: list[str]) -> int:
    service, port = argv
    ready, said = service_ready(int(port))
    if not ready:
        print(f"{service}: not ready: {said}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
