"""A container health check: healthy while the service's metrics answer and report its consumer
loop running (`smi_service_up{service="<name>"} 1`). Usage: python -m deploy.healthcheck NAME PORT"""
import re
import sys
import urllib.request


def service_up(metrics_text: str, service: str) -> bool:
    pattern = re.compile(rf'^smi_service_up\{{service="{re.escape(service)}"\}} (\S+)$', re.M)
    found = pattern.search(metrics_text)
    return found is not None and float(found.group(1)) == 1.0


def main(argv: list[str]) -> int:
    service, port = argv
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{int(port)}/metrics", timeout=3) as reply:
            text = reply.read().decode()
    except OSError as error:
        print(f"{service}: metrics do not answer on port {port}: {error}", file=sys.stderr)
        return 1
    if not service_up(text, service):
        print(f"{service}: consumer loop not running", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
