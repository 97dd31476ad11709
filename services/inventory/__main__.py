from services.inventory.app import serve
from shared.service import main as run_service


def main() -> None:
    run_service("inventory", serve)


if __name__ == "__main__":
    main()
