"""Party sign-in secrets as salted scrypt hashes (standard library only), and their check.

    python -m services.ssi.credentials <secret>   prints the hash to put in the party registry
"""
import base64
import hashlib
import hmac
import secrets
import sys

_N, _R, _P = 2**14, 8, 1
_SCHEME = "scrypt"


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join([_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify(secret: str, stored: str | None) -> bool:
    """True when `secret` matches the stored hash; False for no hash or one not understood."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(secret.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m services.ssi.credentials <secret>")
    print(hash_secret(sys.argv[1]))
