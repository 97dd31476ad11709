"""SmartDCC's public DUIS toolkit beside the repository (installed by `make duis-tools`).

`python -m deploy.duis_tools keys` unpacks the DCC Boxed test key material (every `*.pem` and
`*.key` inside the signing tool's jar) into tools/duis/keys/: the DCC's DSP key that signs
responses in development, and the reference parties' certificates the development registry
names. Public test material, for development only. Standard library only: it runs before
anything else is installed.
"""
import hashlib
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS = REPO_ROOT / "tools" / "duis"
SIGNING_JAR = TOOLS / "node_modules" / "@smartdcc" / "duis-sign-wrap" / "dist" / "tool.jar"
TEMPLATES = TOOLS / "node_modules" / "@smartdcc" / "duis-templates" / "templates"
KEYS = TOOLS / "keys"
KEY_MATERIAL = (".pem", ".key")
STAMP_NAME = ".unpacked"  # holds the sha256 of the jar the keys came from


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unpack_keys(jar: Path = SIGNING_JAR, into: Path = KEYS) -> list[str]:
    """Unpack the jar's key material; nothing is rewritten when it is already there.
    Returns the names unpacked (empty when up to date)."""
    if not jar.is_file():
        raise SystemExit(f"{jar} is missing: run `make duis-tools` (npm ci in {TOOLS})")
    stamp, digest = into / STAMP_NAME, _digest(jar)
    with zipfile.ZipFile(jar) as archive:
        names = [n for n in archive.namelist() if "/" not in n and n.endswith(KEY_MATERIAL)]
        if stamp.is_file() and stamp.read_text().strip() == digest and all((into / n).is_file() for n in names):
            stamp.touch()  # up to date: a newer mtime keeps make from asking again
            return []
        into.mkdir(parents=True, exist_ok=True)
        for name in names:
            (into / name).write_bytes(archive.read(name))
    stamp.write_text(digest + "\n")
    return names


def main(argv: list[str]) -> int:
    if argv != ["keys"]:
        print("usage: python -m deploy.duis_tools keys", file=sys.stderr)
        return 2
    unpacked = unpack_keys()
    print(f"unpacked {len(unpacked)} DCC Boxed key files into {KEYS.relative_to(REPO_ROOT)}"
          if unpacked else f"{KEYS.relative_to(REPO_ROOT)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
