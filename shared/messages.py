"""Internal messages between services (JSON on internal topics, keyed by Device ID).

Commands are imperative, events past tense. Every message names the request it serves, so the
service that finishes the work can answer the user in the user's own format.
"""
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from shared.duis.enums import DeviceType
from shared.duis.models import DeviceManufacturerType, DeviceModelType, FirmwareVersionType, MPxNType, Text
from shared.eui import EUI


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class ReplyTo(Message):
    """Where and how to answer: the RequestID, its originator, the request's format, and the
    DUIS ServiceReferenceVariant the answer names (None: the request named none DUIS has)."""
    request_id: str
    originator: EUI
    format: Literal["xml", "json"]
    schema_version: str
    variant: str | None = None


class HandleServiceRequest(Message):
    """A validated, authorised Service Request, routed by intake to the service that owns it."""
    type: Literal["HandleServiceRequest"] = "HandleServiceRequest"
    reply: ReplyTo
    variant: str
    roles: list[str]
    event_time: datetime
    body: dict[str, Any]


def message_type(value: bytes) -> str | None:
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return decoded.get("type") if isinstance(decoded, dict) else None


# --- Inventory's commands from other services (topic: inventory commands, key: Device ID) ---

class RemoveDevice(Message):
    """Housekeeping asks: remove this device if it is still Pending since `pending_since`."""
    type: Literal["RemoveDevice"] = "RemoveDevice"
    command_id: str
    device_id: EUI
    pending_since: datetime
    as_of: datetime
    policy_version: str
    reason: str


class ReturnHubs(Message):
    """Returns asks: withdraw these hubs (CHF and its GPF) for a bulk return, answered at once
    by one HubsReturned on the inventory replies topic (key: RequestID)."""
    type: Literal["ReturnHubs"] = "ReturnHubs"
    command_id: str
    request_id: str
    originator: EUI
    event_time: datetime
    hubs: list[EUI]


class EnrolSMETS1Device(BaseModel):
    """A SMETS1 device enrolled from its S1SP's network (migration tooling, on inventory's
    command topic): it enters the SMI already installed, with CSP region SMETS1 and its S1SP."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["EnrolSMETS1Device"] = "EnrolSMETS1Device"
    command_id: Text
    device_id: EUI
    device_type: DeviceType
    manufacturer: DeviceManufacturerType
    model: DeviceModelType
    firmware_version: FirmwareVersionType | None = None
    s1sp: Text
    responsible_supplier: EUI
    mpxn: MPxNType | None = None
    status: Literal["Commissioned", "InstalledNotCommissioned"] = "Commissioned"
    event_time: datetime


# --- Returns' commands (topic: returns commands, key: RequestID, or `overdue-check`) ---

class CheckOverdue(BaseModel):
    """An overdue check as of an instant; sent to the returns commands topic by the scheduler."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["CheckOverdue"] = "CheckOverdue"
    as_of: datetime


# --- Inventory's replies to returns (topic: inventory replies, key: RequestID) ---

class HubResult(Message):
    device_id: EUI
    code: str  # I0, or the per-hub refusal code (E0814xx)
    gpf_id: EUI | None = None


class HubsReturned(Message):
    type: Literal["HubsReturned"] = "HubsReturned"
    command_id: str
    request_id: str
    results: list[HubResult]


# --- Inventory's events (topic: device events, key: Device ID) ---

DeviceEventType = Literal[
    "DeviceAdded", "DeviceStatusChanged", "DeviceDetailsChanged", "DeviceRemoved",
    "DeviceDeleted", "RemovalRefused",
]


# A RemovalRefused's reason for a device the SMI no longer holds: whoever tracks it may forget it.
GONE_FROM_SMI = "no longer in the SMI"


class DeviceEvent(Message):
    """A change to one device, carrying the device's state after it (event-carried state):
    a consumer can keep its own view from these events alone."""
    type: DeviceEventType
    event_id: str
    device_id: EUI
    device_type: str
    status: str | None = None          # None for Type 2 devices and after removal
    previous_status: str | None = None
    status_since: datetime | None = None
    occurred_at: datetime
    notifying_party: EUI
    notifying_party_kind: Literal["service_user", "csp"]
    responsible_supplier: EUI | None = None
    ordering_party: EUI | None = None
    ever_left_pending: bool = False
    cause: str                          # the SR variant, CSP event or command that caused it
    request_id: str | None = None
    reason: str | None = None           # removals and refusals
    policy_version: str | None = None   # housekeeping removals
    command_id: str | None = None       # the command answered (RemoveDevice)


def encode_event(fields: dict[str, Any]) -> bytes:
    """A DeviceEvent's JSON from fields already valid (an SMI record's) in the model's order: byte
    for byte `DeviceEvent(**fields).to_bytes()`, without building the model (the largest stream)."""
    return orjson.dumps({k: v for k, v in fields.items() if v is not None}, option=orjson.OPT_UTC_Z)
