"""Housekeeping's partition work: what is fanned out to every partition of its work topic, one
model per kind, built here and nowhere else.

Each message carries the policy to apply and `events_end`, where its partition's committed device
events ended at fan-out (set per partition by the tracker). Instants carry their UTC offset
(`shared.instants`).
"""
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from services.housekeeping.domain import Policy
from shared.instants import utc_instant


class _Work(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    policy: Policy
    events_end: int = 0

    @field_validator("as_of", "start", "end", mode="after", check_fields=False)
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return utc_instant(value)

    def for_partition(self, events_end: int) -> bytes:
        return self.model_copy(update={"events_end": events_end}).model_dump_json().encode()


class Run(_Work):
    """Remove the due devices of the partition as of an instant."""
    kind: Literal["run"] = "run"
    as_of: datetime


class Forecast(_Work):
    """Count the devices the partition would remove between two instants."""
    kind: Literal["forecast"] = "forecast"
    query_id: str
    start: datetime
    end: datetime


class Retention(_Work):
    """Count the devices the partition keeps, and why, as of an instant."""
    kind: Literal["retention"] = "retention"
    query_id: str
    as_of: datetime


Work = Annotated[Run | Forecast | Retention, Field(discriminator="kind")]
KINDS = ("run", "forecast", "retention")
_WORK: TypeAdapter[Work] = TypeAdapter(Work)


def parse(value: bytes | None) -> Run | Forecast | Retention:
    """Raises pydantic's ValidationError (a ValueError) for anything else."""
    return _WORK.validate_json(value or b"")
