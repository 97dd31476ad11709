"""The rules of bulk Comms Hub returns. Pure: no I/O, no clock.

A return request names 1 to 999 hubs; each hub is accepted or refused on its own. An accepted
hub gets a Returns Remedy Record, due back a fixed number of days after the request's event time.
A record is closed when its CSP reports the hub received; one not received by its due date is
overdue, and its returning party is alerted once.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal

from shared import codes
from shared.duis.models import CHFFaultReturn, CHFNoFaultReturn

FAULT, NO_FAULT = "8.14.3", "8.14.4"
ACCEPTED, UNDER_OPEN_RETURN = "I0", "E081405"
ALL_ACCEPTED, SOME_ACCEPTED, NONE_ACCEPTED = "I0", "W081401", "E54"
AGE_BUCKETS = ((30, "0-30d"), (60, "31-60d"), (90, "61-90d"), (180, "91-180d"))
OLDEST_BUCKET = "over-180d"


@dataclass(frozen=True)
class Reason:
    """Why the hubs come back: the DUIS fields that apply to every hub of the request."""
    kind: Literal["fault", "no_fault"]
    return_type: str
    fault_reason: str | None = None
    connection_method: str | None = None
    incident_reference: str | None = None
    user_ref_id: str | None = None
    user_ref_datetime: datetime | None = None
    additional_information: str | None = None

    def as_json(self) -> dict[str, Any]:
        values = dict(self.__dict__)
        if self.user_ref_datetime is not None:
            values["user_ref_datetime"] = self.user_ref_datetime.isoformat()
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> "Reason":
        stamp = values.get("user_ref_datetime")
        return cls(**{**values, "user_ref_datetime": datetime.fromisoformat(stamp) if stamp else None})


@dataclass(frozen=True)
class ReturnRequest:
    hubs: list[str]
    other_device_ids: list[str | None]
    reason: Reason


def read_request(variant: str, body: CHFFaultReturn | CHFNoFaultReturn) -> ReturnRequest:
    common = dict(incident_reference=body.IncidentReference, user_ref_id=body.UserRefID,
                  user_ref_datetime=body.UserRefDateTime,
                  additional_information=body.AdditionalInformation)
    if variant == FAULT:
        reason = Reason("fault", body.CHFFaultReturnType, body.CHFFaultReason,
                        body.CHFConnectionMethod, **common)
        others = list(body.OtherDeviceID) if body.OtherDeviceID else [None] * len(body.DeviceID)
    else:
        reason = Reason("no_fault", body.CHFNoFaultReturnType, **common)
        others = [None] * len(body.DeviceID)
    return ReturnRequest(list(body.DeviceID), others, reason)


def own_refusals(hubs: list[str], under_return: set[str]) -> dict[str, str]:
    """The hubs this service refuses before asking inventory: those already being returned."""
    return {hub: UNDER_OPEN_RETURN for hub in hubs if hub in under_return}


def overall_code(hub_codes: list[str]) -> str:
    """A single hub's return answers with the hub's own code, as DUIS 5.4 does."""
    if len(hub_codes) == 1:
        return hub_codes[0]
    accepted = sum(code == ACCEPTED for code in hub_codes)
    if accepted == len(hub_codes):
        return ALL_ACCEPTED
    return SOME_ACCEPTED if accepted else NONE_ACCEPTED


def due_by(created_at: datetime, days: int) -> date:
    return (created_at + timedelta(days=days)).date()


def is_overdue(due: date, as_of: datetime) -> bool:
    """Due by the end of its due date (UTC): overdue from the next day on."""
    return as_of.date() > due


def age_bucket(created_at: datetime, as_of: datetime) -> str:
    days = (as_of - created_at).days
    for limit, name in AGE_BUCKETS:
        if days <= limit:
            return name
    return OLDEST_BUCKET


@dataclass(frozen=True)
class HubOutcome:
    device_id: str
    code: str
    reference: str | None = None
    due: date | None = None


def response_payload(outcomes: list[HubOutcome]) -> dict[str, Any] | None:
    """A bulk return's answer (the published MP117 amendment): per hub its code, and for an
    accepted hub its record and due date. A single hub is answered in pure DUIS: no payload."""
    if len(outcomes) == 1:
        return None
    return {"CHFReturnResults": {"HubResult": [
        {"DeviceID": o.device_id, "ResponseCode": o.code,
         "ReturnsRemedyRecordReference": o.reference,
         "ReturnDueDate": o.due.isoformat() if o.due else None}
        for o in outcomes]}}


def overdue_payload(device_id: str, due: date) -> dict[str, Any]:
    """The DCCAlert of an overdue return: DUIS's CommsHubAlert, stamped with the due date (its
    record and request travel as record headers: the DUIS payload has no place for them)."""
    return {"CommsHubAlert": {"CommsHubDeviceID": device_id, "AlertCode": codes.RETURN_OVERDUE_ALERT_CODE,
                              "TimeStamp": datetime.combine(due, time.min, timezone.utc)}}
