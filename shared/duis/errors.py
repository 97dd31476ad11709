"""Pydantic validation errors of DUIS bodies, as response codes with a readable reason."""
from pydantic import ValidationError

_CODE_BY_ERROR_TYPE = {
    "missing": "E44",
    "eui": "E11",
    "literal_error": "E12",
    "enum": "E12",
    "too_many_ids": "E45",
    "duplicate_ids": "E46",
    "other_id_count": "E47",
    "extra_forbidden": "E48",
    "out_of_order": "E48",
    "one_of": "E19",
}


def code_for(error: ValidationError, element: str) -> tuple[str, str]:
    """The response code and reason for the first error of a body's validation."""
    first = error.errors(include_url=False)[0]
    where = "/".join(str(part) for part in (element, *first["loc"]))
    return _CODE_BY_ERROR_TYPE.get(first["type"], "E13"), f"{where}: {first['msg']}"
