from services.ssi.app import serve
from shared.service import main as run_service


def main() -> None:
    run_service("ssi", serve)


if __name__ == "__main__":
    main()
