"""Inventory's commands from other services, each applied on its own against the SMI:
RemoveDevice (housekeeping) and ReturnHubs (returns). The executor writes the batch's working
set before either runs (see `executor`)."""
import asyncpg
from aiokafka.structs import ConsumerRecord

from services.inventory import domain, metrics, store
from services.inventory import transitions as t
from services.inventory.context import event_id, publish
from shared.kafka import Output
from shared.messages import GONE_FROM_SMI, HubResult, HubsReturned, RemoveDevice, ReturnHubs
from shared.outcomes import Unusable
from shared.service import Context


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
        refusal = GONE_FROM_SMI
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
        hub = hubs.get(hub_id)
        gpf = gpfs.get(hub.linked_device_id) if hub and hub.linked_device_id else None
        code, devices = domain.hub_return(hub_id, hub, gpf, command.originator,
                                          named_before=any(r.device_id == hub_id for r in results))
        results.append(HubResult(device_id=hub_id, code=code, gpf_id=gpf.device_id if gpf else None))
        moving += devices
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
