"""The table entry of a tracked device, packed small: two million of them live in one worker.

Layout: one byte for the device-events partition the entry belongs to, then
`TYPE|pending-since-microseconds|notifying-party|u or c|1 or 0` (u: notified by a Service User,
1: the device left Pending at least once). The partition byte lets a run scan only the entries
of the partition it was sent to without decoding the rest.
"""
from datetime import UTC

from pydantic import ValidationError

from services.housekeeping.domain import TrackedDevice, from_micros, to_micros
from shared.messages import GONE_FROM_SMI, DeviceEvent


def tracked(event: DeviceEvent) -> TrackedDevice | None:
    """The device as housekeeping tracks it after this event, or None when it is not Pending."""
    if event.status != "Pending" or event.status_since is None:
        return None
    since = event.status_since
    return TrackedDevice(
        device_id=event.device_id, device_type=event.device_type,
        pending_since=since if since.tzinfo else since.replace(tzinfo=UTC), notifying_party=event.notifying_party,
        notified_by_service_user=event.notifying_party_kind == "service_user",
        ever_left_pending=event.ever_left_pending)


def pack(partition: int, device: TrackedDevice) -> bytes:
    body = "|".join((device.device_type, str(to_micros(device.pending_since)), device.notifying_party,
                     "u" if device.notified_by_service_user else "c",
                     "1" if device.ever_left_pending else "0"))
    return bytes((partition,)) + body.encode()


def fields(entry: bytes) -> list[bytes]:
    """[type, pending-since-micros, party, kind, ever-left] without building a device."""
    return entry[1:].split(b"|")


def unpack(device_id: str, entry: bytes) -> TrackedDevice:
    device_type, since, party, kind, ever = fields(entry)
    return TrackedDevice(device_id, device_type.decode(), from_micros(int(since)), party.decode(),
                         kind == b"u", ever == b"1")


def partition_of(entry: bytes) -> int:
    return entry[0]


def parse_event(partition: int, value: bytes | None) -> tuple[bytes, bytes | None] | None:
    """(table key, packed entry or None) for a device event, None for an event that changes no
    device; ValueError if it is not a device event."""
    try:
        event = DeviceEvent.model_validate_json(value or b"")
    except ValidationError as error:
        raise ValueError(str(error)) from None
    if event.type == "RemovalRefused":
        # A refusal changes no device; for a device removed already it even carries the status
        # the device had when archived, which would bring it back into the table. Such a device
        # is forgotten instead: its removal's event may have come before an older change's
        # (docs/design.md, "Read Inventory and changes in one hop").
        return (event.device_id.encode(), None) if event.reason == GONE_FROM_SMI else None
    device = tracked(event)
    return event.device_id.encode(), pack(partition, device) if device else None
