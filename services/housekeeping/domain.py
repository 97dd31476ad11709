"""Housekeeping rules, pure: which Pending device is due for removal as of an instant.

A device that has stayed `Pending` for its type's duration (calendar months, end-of-month
clamped) is removed, unless its type is excluded (Comms Hubs: CHF and GPF by default) or, in
`previously-active-only` mode, it never left `Pending`. Nothing here reads a clock or does I/O.
"""
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.duis.enums import COMMS_HUB_TYPES, TYPE_2_DEVICES, DeviceType, values

# Type 2 devices have no SMI Status, so they are never Pending and never housekept.
HOUSEKEPT_TYPES = tuple(t for t in values(DeviceType) if t not in TYPE_2_DEVICES)
RuleMode = Literal["all-pending", "previously-active-only"]


class Policy(BaseModel):
    """One version of the housekeeping policy, as written in its configuration file."""
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    version: str = Field(min_length=1, max_length=100)
    rule: RuleMode = "all-pending"
    default_months: int = Field(12, ge=1, le=600)
    months_by_type: dict[str, int] = {}
    excluded_types: frozenset[str] = COMMS_HUB_TYPES

    @field_validator("months_by_type")
    @classmethod
    def _known_durations(cls, value: dict[str, int]) -> dict[str, int]:
        for device_type, months in value.items():
            _known_type(device_type)
            if not 1 <= months <= 600:
                raise ValueError(f"duration for {device_type} must be 1 to 600 months, not {months}")
        return value

    @field_validator("excluded_types")
    @classmethod
    def _known_exclusions(cls, value: frozenset[str]) -> frozenset[str]:
        for device_type in value:
            _known_type(device_type)
        return value

    @model_validator(mode="after")
    def _hub_excluded_whole(self) -> "Policy":
        if len(self.excluded_types & {"CHF", "GPF"}) == 1:
            raise ValueError("a Comms Hub is one unit: exclude both CHF and GPF, or neither")
        return self

    def months_for(self, device_type: str) -> int:
        return self.months_by_type.get(device_type, self.default_months)


def _known_type(device_type: str) -> None:
    if device_type in TYPE_2_DEVICES:
        raise ValueError(f"{device_type} is a Type 2 device: it has no SMI Status and is never housekept")
    if device_type not in HOUSEKEPT_TYPES:
        raise ValueError(f"unknown device type {device_type!r}; expected one of {', '.join(HOUSEKEPT_TYPES)}")


@dataclass(frozen=True, slots=True)
class TrackedDevice:
    """What housekeeping knows of a device while it is Pending (one entry of its table)."""
    device_id: str
    device_type: str
    pending_since: datetime
    notifying_party: str
    notified_by_service_user: bool
    ever_left_pending: bool


class Decision(StrEnum):
    REMOVE = "remove"
    RETAIN_EXCLUDED = "retain-excluded"      # due by age, kept only because its type is excluded
    RETAIN_BY_RULE = "retain-never-active"   # due by age, kept by previously-active-only
    NOT_DUE = "not-due"


def add_months(instant: datetime, months: int) -> datetime:
    """Calendar months, clamped to the end of a shorter month (31 Aug + 6 = 28/29 Feb)."""
    return instant + relativedelta(months=months)


def due_at(device: TrackedDevice, policy: Policy) -> datetime:
    return add_months(device.pending_since, policy.months_for(device.device_type))


def age_in_months(pending_since: datetime, as_of: datetime) -> int:
    """Whole calendar months Pending as of the instant (0 when not yet a month, or in future)."""
    if as_of <= pending_since:
        return 0
    delta = relativedelta(as_of, pending_since)
    return delta.years * 12 + delta.months


def decide(device: TrackedDevice, policy: Policy, as_of: datetime) -> Decision:
    if due_at(device, policy) > as_of:
        return Decision.NOT_DUE
    if device.device_type in policy.excluded_types:
        return Decision.RETAIN_EXCLUDED
    if policy.rule == "previously-active-only" and not device.ever_left_pending:
        return Decision.RETAIN_BY_RULE
    return Decision.REMOVE


class DueCutoff:
    """`due_at(device) <= as_of` for one duration, decided mostly on integers: a device pending
    since `lo` or earlier is due, one pending since after `hi` is not; only the few days between,
    where end-of-month clamping matters, take the calendar arithmetic."""

    def __init__(self, months: int, as_of: datetime) -> None:
        self.months, self.as_of = months, as_of
        lo = as_of - relativedelta(months=months)
        self.lo_us, self.hi_us = to_micros(lo), to_micros(lo + timedelta(days=4))

    def is_due(self, pending_since_us: int) -> bool:
        if pending_since_us <= self.lo_us:
            return True
        if pending_since_us > self.hi_us:
            return False
        return add_months(from_micros(pending_since_us), self.months) <= self.as_of


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(instant: datetime) -> int:
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def removal_command_id(device_id: str, pending_since: datetime) -> str:
    """One removal per Pending spell: every run that finds the same spell due asks the same."""
    return f"housekeeping:{device_id}:{to_micros(pending_since)}"


def n8_payload(device_id: str) -> dict:
    """The DCCAlert of an N8: the device left the SMI (DeviceRemovedFromInventory is empty)."""
    return {"DeviceStatusChangeEvent": {
        "DeviceID": device_id, "DeviceStatusChange": {"DeviceRemovedFromInventory": {}}}}
