"""What every inventory handler is given, and the outputs they all emit: responses and events."""
from typing import Any

from aiokafka.structs import ConsumerRecord

from services.inventory import domain, metrics
from services.inventory.domain import Device
from services.inventory.store import History
from shared.kafka import Output
from shared.messages import ReplyTo, encode_event
from shared.responses import response
from shared.service import Context

SERVICE = "inventory"


def event_id(record: ConsumerRecord, device_id: str) -> str:
    """Unique and stable: the input's position and the device (one event per device per input)."""
    return f"{record.topic}:{record.partition}:{record.offset}:{device_id}"


def publish(inv: Context, event: dict[str, Any]) -> Output:
    """A DeviceEvent (its fields from `domain.event`) on the device events topic."""
    metrics.count_event(event["type"])
    return Output(inv.settings.topics.device_events, encode_event(event), event["device_id"].encode(),
                  (("event-type", event["type"]),))


def answer(inv: Context, reply: ReplyTo, variant: str, code: str, payload: dict | None = None,
           reason: str | None = None) -> Output:
    metrics.count_request(variant, code)
    return response(inv.settings, reply, code, inv.clock(), payload=payload, reason=reason)


def added(inv: Context, record: ConsumerRecord, device: Device, cause: str, party: str | None,
          history: list[History], request_id: str | None = None,
          command_id: str | None = None) -> Output:
    """A device entered the SMI: its first history row (status-bearing devices) and its event."""
    if device.status is not None:
        history.append((device.device_id, None, device.status, device.added_at, cause, party,
                        request_id or command_id))
    return publish(inv, domain.event("DeviceAdded", device, device.added_at, cause,
                                     event_id(record, device.device_id), reference=request_id,
                                     command_id=command_id))
