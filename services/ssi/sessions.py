"""Signed session cookies: `<party>|<expires epoch seconds>|<HMAC-SHA256>`. Pure; time passed in."""
import base64
import hashlib
import hmac

from shared.eui import InvalidEUI, canonical_eui

COOKIE = "smi_ssi_session"


def issue(secret: str, party: str, now: float, hours: float) -> str:
    payload = f"{party}|{int(now + hours * 3600)}"
    return f"{payload}|{_mac(secret, payload)}"


def party_of(secret: str, cookie: str | None, now: float) -> str | None:
    """The signed-in party, or None for no cookie, a forged or altered one, or an expired one."""
    if not cookie or cookie.count("|") != 2:
        return None
    party, expires, mac = cookie.split("|")
    if not hmac.compare_digest(mac, _mac(secret, f"{party}|{expires}")):
        return None
    try:
        if int(expires) <= now:
            return None
        return canonical_eui(party)
    except (ValueError, InvalidEUI):
        return None


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
