"""Inventory's handlers: every input record, in order, to its outputs.

Inputs: Service Requests routed by intake, RemoveDevice (housekeeping), ReturnHubs (returns) and
SMETS1 enrolments on the command topic; CommsHubDelivered on the CSP feed. A message handled
before (its RequestID or command ID is recorded, in the same transaction as its effect) changes
nothing and emits nothing again. Runs of consecutive pre-notifications are applied set-based.
"""
import asyncpg
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from services.inventory import domain, metrics, store
from services.inventory import service_requests as sr
from services.inventory import transitions as t
from services.inventory.context import (SERVICE, Inventory, Unusable, added, event_id, publish,
                                        record_time)
from services.inventory.domain import CommsHubDelivered, EnrolSMETS1Device
from services.inventory.store import History
from shared import kafka
from shared.eui import canonical_eui
from shared.kafka import Output
from shared.messages import (HandleServiceRequest, HubResult, HubsReturned, RemoveDevice, ReturnHubs,
                             message_type)

COMMANDS: dict[str, type[BaseModel]] = {
    "HandleServiceRequest": HandleServiceRequest, "RemoveDevice": RemoveDevice,
    "ReturnHubs": ReturnHubs, "EnrolSMETS1Device": EnrolSMETS1Device,
}
# A refusal of the transition table, as ReturnHubs answers it per hub.
HUB_CODES = {"E31": "E081405", "E32": "E081403", "E33": "E081402", "E34": "E081402"}


async def handle(inv: Inventory, conn: asyncpg.Connection,
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
    new_ids: list[str] = []
    run: list[tuple[int, sr.Request]] = []
    for index, record, message, mid in parsed:
        if mid is not None:
            if mid in seen:
                metrics.DUPLICATES.inc()
                continue
            seen.add(mid)
            new_ids.append(mid)
        if isinstance(message, HandleServiceRequest):
            request = sr.validate(inv, record, message)
            if not isinstance(request, sr.Request):
                outputs[index] = [request]
            elif request.variant == "12.2":
                run.append((index, request))
            else:
                await _prenotify(inv, conn, run, outputs)
                outputs[index] = await sr.handle(inv, conn, request)
            continue
        await _prenotify(inv, conn, run, outputs)
        try:
            outputs[index] = await dispatch(inv, conn, record, message)
        except Unusable as error:
            metrics.COMMANDS.labels(type(message).__name__, "dead_letter").inc()
            outputs[index] = [kafka.dead_letter(inv.settings, record, str(error), SERVICE)]
    await _prenotify(inv, conn, run, outputs)
    await store.mark_handled(conn, new_ids)
    return outputs


def parse(inv: Inventory, record: ConsumerRecord) -> BaseModel | None:
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
        return f"request:{canonical_request_id(message.reply.request_id)}"
    command_id = getattr(message, "command_id", None)
    return f"command:{type(message).__name__}:{command_id}" if command_id else None


def canonical_request_id(value: str) -> str:
    try:
        originator, target, counter = value.split(":")
        return f"{canonical_eui(originator)}:{canonical_eui(target)}:{int(counter)}"
    except ValueError:
        return value


async def _prenotify(inv: Inventory, conn: asyncpg.Connection, run: list[tuple[int, sr.Request]],
                     outputs: list[list[Output]]) -> None:
    if run:
        for (index, _), produced in zip(run, await sr.prenotify(inv, conn, [r for _, r in run])):
            outputs[index] = produced
        run.clear()


async def dispatch(inv: Inventory, conn: asyncpg.Connection, record: ConsumerRecord,
                   message: BaseModel) -> list[Output]:
    if isinstance(message, CommsHubDelivered):
        return await on_hub_delivered(inv, conn, record, message)
    if isinstance(message, RemoveDevice):
        return await on_remove_device(inv, conn, record, message)
    if isinstance(message, ReturnHubs):
        return await on_return_hubs(inv, conn, record, message)
    return await on_smets1_enrolment(inv, conn, record, message)


async def on_hub_delivered(inv: Inventory, conn: asyncpg.Connection, record: ConsumerRecord,
                           event: CommsHubDelivered) -> list[Output]:
    csp, orderer = await inv.parties.get(event.csp_id), await inv.parties.get(event.ordering_party)
    if csp is None or csp.kind != "csp":
        raise Unusable(f"csp_id {event.csp_id} is not a CSP in the party registry")
    if orderer is None or orderer.kind != "service_user":
        raise Unusable(f"ordering_party {event.ordering_party} is not a DCC User in the party registry")
    if event.chf_id == event.gpf_id:
        raise Unusable("chf_id and gpf_id are the same device")
    if known := await store.existing_ids(conn, [event.chf_id, event.gpf_id]):
        raise Unusable(f"already in the SMI: {', '.join(sorted(known))}")
    history: list[History] = []
    hub = domain.delivered_hub(event, record_time(record))
    outputs = [added(inv, record, device, "CommsHubDelivered", event.csp_id, history) for device in hub]
    await store.insert(conn, list(hub))
    await store.append_history(conn, history)
    metrics.COMMANDS.labels("CommsHubDelivered", "added").inc()
    return outputs


async def on_smets1_enrolment(inv: Inventory, conn: asyncpg.Connection, record: ConsumerRecord,
                              command: EnrolSMETS1Device) -> list[Output]:
    if await store.existing_ids(conn, [command.device_id]):
        raise Unusable(f"{command.device_id} is already in the SMI")
    device = domain.enrolled(command)
    history: list[History] = []
    output = added(inv, record, device, "SMETS1Enrolment", None, history, command_id=command.command_id)
    await store.insert(conn, [device])
    await store.append_history(conn, history)
    metrics.COMMANDS.labels("EnrolSMETS1Device", "added").inc()
    return [output]


async def on_remove_device(inv: Inventory, conn: asyncpg.Connection, record: ConsumerRecord,
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


async def on_return_hubs(inv: Inventory, conn: asyncpg.Connection, record: ConsumerRecord,
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
            code = "E081405"  # named twice: the first mention is the return
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
