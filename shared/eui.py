"""EUI-64 identifiers (devices and parties): eight hex pairs joined by '-', one canonical form."""
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

# Explicit ASCII classes: look-alike characters (full-width digits, Cyrillic letters) never match.
_EUI = re.compile(r"[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}")
_COUNTER = re.compile(r"[0-9]{1,20}")


class InvalidEUI(ValueError):
    pass


def canonical_eui(value: str) -> str:
    """The canonical form (upper-case hex, '-' separated) of an EUI-64, or InvalidEUI."""
    if not isinstance(value, str) or not _EUI.fullmatch(value):
        raise InvalidEUI(f"not an EUI-64 (eight hex pairs joined by '-'): {value!r:.60}")
    return value.upper()


def is_eui(value: str) -> bool:
    return isinstance(value, str) and _EUI.fullmatch(value) is not None


def canonical_request_id(value: str) -> str:
    """A DUIS RequestID (originator:target:counter) with canonical EUIs and a plain decimal
    counter, so that differently written copies of one ID compare equal; ValueError otherwise."""
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 3 or not _COUNTER.fullmatch(parts[2]):
        raise ValueError(f"RequestID {value!r:.80} is not originator:target:counter")
    return f"{canonical_eui(parts[0])}:{canonical_eui(parts[1])}:{int(parts[2])}"


def _validate(value: object) -> str:
    if not isinstance(value, str) or not _EUI.fullmatch(value):
        raise PydanticCustomError("eui", "not an EUI-64 (eight hex pairs joined by '-')")
    return value.upper()


EUI = Annotated[str, BeforeValidator(_validate), AfterValidator(str)]
