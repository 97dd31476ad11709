"""Inventory's handlers: every input record, in order, to its outputs.

Inputs: Service Requests routed by intake, RemoveDevice (housekeeping), ReturnHubs (returns) and
SMETS1 enrolments on the command topic; CommsHubDelivered on the CSP feed. A message handled
before (its RequestID or command ID is recorded, in the same transaction as its effect) changes
nothing and emits nothing again. Runs of consecutive pre-notifications are applied set-based.
"""
import asyncpg
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from services.inventory import additions, domain, metrics, store
from services.inventory import service_requests as sr
from services.inventory import transitions as t
from services.inventory.context import SERVICE, event_id, publish
from services.inventory.domain import CommsHubDelivered, EnrolSMETS1Device
from services.inventory.working_set import WorkingSet
from shared import kafka
from shared.eui import canonical_request_id
from shared.kafka import Output
from shared.service import Context
from shared.outcomes import Unusable
from shared.messages import (HandleServiceRequest, HubResult, HubsReturned, RemoveDevice, ReturnHubs,
                             message_type)

COMMANDS: dict[str, type[BaseModel]] = {
    "HandleServiceRequest": HandleServiceRequest, "RemoveDevice": RemoveDevice,
    "ReturnHubs": ReturnHubs, "EnrolSMETS1Device": EnrolSMETS1Device,
}
# A refusal of the transition table, as ReturnHubs answers it per hub.
HUB_CODES = {"E31": "E55", "E51": "E51", "E52": "E081402", "E53": "E081402"}


async def handle(inv: Context, conn: asyncpg.Connection,
                 records: list[ConsumerRecord]) -> list[list[Output]]:
    outputs: list[list[Output]] = [[] for _ in records]
    parsed: list[tuple[int, ConsumerRecord, BaseModel, str | None]] = []
    for index, record in enumerate(records):
        try:
            message = parse(inv, record)
        except (Unusable, ValidationError) as error:
            outputs[index] = [kafka.dead_letter(inv.settings, record, str(error), SERVICE)]
            continue
        if message is not None:
            parsed.append((index, record, message, message_id(message)))
    seen = await store.handled(conn, [mid for *_, mid in parsed if mid])
    ws = WorkingSet()
    await ws.load(conn, {device_id for _, _, message, _ in parsed if isinstance(message, HandleServiceRequest)
                         and (device_id := sr.device_named(message))})
    new_ids: list[str] = []
    run: list[additions.Addition] = []
    for index, record, message, mid in parsed:
        if mid is not None:
            if mid in seen:
                metrics.DUPLICATES.inc()
                continue
            seen.add(mid)
            new_ids.append(mid)
        if isinstance(message, HandleServiceRequest):
            message = sr.validate(inv, record, message)
            if not isinstance(message, sr.Request):
                outputs[index] = [message]
                continue
        if additions.is_addition(message):
            run.append(additions.Addition(index, record, message))
            continue
        await additions.apply(inv, conn, run, outputs)
        try:
            if isinstance(message, sr.Request):
                outputs[index] = await sr.handle(inv, conn, ws, message)
            else:
                await ws.flush(conn)
                outputs[index] = await dispatch(inv, conn, record, message)
                ws.forget()
        except Unusable as error:
            metrics.COMMANDS.labels(type(message).__name__, "dead_letter").inc()
            outputs[index] = [kafka.dead_letter(inv.settings, record, str(error), SERVICE)]
    await additions.apply(inv, conn, run, outputs)
    await ws.flush(conn)
    await store.mark_handled(conn, new_ids)
    return outputs


def parse(inv: Context, record: ConsumerRecord) -> BaseModel | None:
    """The message in the record; None for a CSP event that belongs to another service."""
    kind = message_type(record.value or b"")
    if record.topic == inv.settings.topics.csp_events:
        if kind == "ReturnReceived":
            return None
        if kind != "CommsHubDelivered":
            raise Unusable(f"inventory takes CommsHubDelivered from the CSP feed, not {kind!r:.40}")
        return CommsHubDelivered.model_validate_json(record.value)
    if kind not in COMMANDS:
        raise Unusable(f"inventory takes {', '.join(COMMANDS)}, not {kind!r:.40}")
    return COMMANDS[kind].model_validate_json(record.value)


def message_id(message: BaseModel) -> str | None:
    if isinstance(message, HandleServiceRequest):
        try:
            return f"request:{canonical_request_id(message.reply.request_id)}"
        except ValueError:
            return f"request:{message.reply.request_id}"
    command_id = getattr(message, "command_id", None)
    return f"command:{type(message).__name__}:{command_id}" if command_id else None


async def dispatch(inv: Context, conn: asyncpg.Connection, record: ConsumerRecord,
                   message: BaseModel) -> list[Output]:
    if isinstance(message, RemoveDevice):
        return await on_remove_device(inv, conn, record, message)
    return await on_return_hubs(inv, conn, record, message)


async def on_remove_device(inv: Context, conn: asyncpg.Connection, record: ConsumerRecord,
                           command: RemoveDevice) -> list[Output]:
    """Remove only a device still Pending since the instant housekeeping saw; else refuse."""
    common = dict(reason=command.reason, policy_version=command.policy_version,
                  command_id=command.command_id)
    device = await store.device(conn, command.device_id)
    if device is None:
        gone = await store.last_archived(conn, command.device_id)
        if gone is None:
            raise Unusable(f"{command.device_id} was never in the SMI")
        refusal = "no longer in the SMI"
        metrics.COMMANDS.labels("RemoveDevice", "refused").inc()
        return [publish(inv, domain.event("RemovalRefused", gone, command.as_of, "RemoveDevice",
                                          event_id(record, gone.device_id),
                                          **{**common, "reason": refusal}))]
    if refusal := domain.removal_refusal(device, command.pending_since):
        metrics.COMMANDS.labels("RemoveDevice", "refused").inc()
        return [publish(inv, domain.event("RemovalRefused", device, command.as_of, "RemoveDevice",
                                          event_id(record, device.device_id), previous=device.status,
                                          **{**common, "reason": refusal}))]
    t.decide("RemoveDevice", device.device_type, device.status, None, {t.DCC})
    await store.append_history(conn, [(device.device_id, device.status, None, command.as_of,
                                       "RemoveDevice", None, command.command_id)])
    await store.archive(conn, device, command.as_of, "RemoveDevice", command.reason,
                        command.policy_version, command.command_id)
    metrics.COMMANDS.labels("RemoveDevice", "removed").inc()
    return [publish(inv, domain.event("DeviceRemoved", device, command.as_of, "RemoveDevice",
                                      event_id(record, device.device_id), previous=device.status,
                                      **common))]


async def on_return_hubs(inv: Context, conn: asyncpg.Connection, record: ConsumerRecord,
                         command: ReturnHubs) -> list[Output]:
    """Per hub: known, a CHF, the asker's, in a status that allows a return; CHF and GPF move
    to Withdrawn. One HubsReturned answers every hub."""
    hubs = await store.devices(conn, list(command.hubs))
    gpfs = await store.devices(conn, [h.linked_device_id for h in hubs.values() if h.linked_device_id])
    results, moving = [], []
    for hub_id in command.hubs:
        code, hub = "I0", hubs.get(hub_id)
        gpf = gpfs.get(hub.linked_device_id) if hub and hub.linked_device_id else None
        if hub is None:
            code = "E081401"
        elif any(r.device_id == hub_id for r in results):
            code = "E55"  # named twice: the first mention is the return
        else:
            try:
                t.decide("ReturnHubs", hub.device_type, hub.status, "Withdrawn", hub.relations(command.originator))
                if gpf is not None and not t.allowed("ReturnHubs", gpf.status, "Withdrawn"):
                    raise t.Refused("E31", f"GPF {gpf.device_id} is {gpf.status}")
            except t.Refused as refusal:
                code = HUB_CODES[refusal.code]
        results.append(HubResult(device_id=hub_id, code=code, gpf_id=gpf.device_id if gpf else None))
        if code == "I0":
            moving += [hub, gpf] if gpf else [hub]
    changed = [d.moved("Withdrawn", command.event_time) for d in moving]
    await store.update(conn, changed)
    await store.append_history(conn, [(d.device_id, d.status, "Withdrawn", command.event_time, "ReturnHubs",
                                       command.originator, command.command_id) for d in moving])
    outputs = [publish(inv, domain.event("DeviceStatusChanged", after, command.event_time, "ReturnHubs",
                                         event_id(record, after.device_id), previous=before.status,
                                         reference=command.request_id, command_id=command.command_id))
               for before, after in zip(moving, changed)]
    reply = HubsReturned(command_id=command.command_id, request_id=command.request_id, results=results)
    metrics.COMMANDS.labels("ReturnHubs", "answered").inc()
    return [*outputs, Output(inv.settings.topics.inventory_replies, reply.to_bytes(),
                             command.request_id.encode())]
