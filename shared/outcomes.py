"""The two ways every service declines an input, one name each.

- `Refused`: the input is understood and declined with a DUIS response code; somebody is answered.
- `Unusable`: the input cannot be acted on and there is nobody to answer; it goes to the dead
  letters with the reason.
"""


class Refused(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Refused) and (self.code, self.reason) == (other.code, other.reason)

    def __hash__(self) -> int:
        return hash((self.code, self.reason))

    def __repr__(self) -> str:
        return f"Refused({self.code!r}, {self.reason!r})"


class Unusable(Exception):
    """The reason is the exception's message."""
