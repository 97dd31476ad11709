"""Devices entering the SMI, set-based: a run of additions (SR 12.2, CSP deliveries, SMETS1
enrolments), waiting in the batch's working set until it is needed, is checked against what the
set knows of the SMI (one look-up at most) and written with one COPY, its history with the
working set's."""
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from aiokafka.structs import ConsumerRecord

from services.inventory import domain, metrics, store
from services.inventory import service_requests as sr
from services.inventory.context import SERVICE, added
from services.inventory.domain import Device
from services.inventory.store import History
from shared import kafka
from shared.feeds import CommsHubDelivered
from shared.instants import record_time
from shared.kafka import Output
from shared.messages import EnrolSMETS1Device
from shared.outcomes import Unusable
from shared.service import Context

Message = sr.Request | CommsHubDelivered | EnrolSMETS1Device


@dataclass(frozen=True)
class Addition:
    index: int
    record: ConsumerRecord
    message: Message
    handler: Callable[..., Awaitable[list[Output]]]


def device_ids(message: Message) -> list[str]:
    if isinstance(message, CommsHubDelivered):
        return [message.chf_id, message.gpf_id]
    if isinstance(message, EnrolSMETS1Device):
        return [message.device_id]
    return [message.body.DeviceID]


async def apply(inv: Context, conn: asyncpg.Connection, run: list[Addition],
                outputs: list[list[Output]], existing: set[str]) -> list[History]:
    """Apply the run (in order) and empty it, `existing` holding those of its devices in the SMI
    already; return the history rows of the devices added, for the caller to write."""
    new: list[Device] = []
    history: list[History] = []
    for a in run:
        try:
            outputs[a.index] = await a.handler(inv, a.record, a.message, existing, new, history)
        except Unusable as error:
            metrics.COMMANDS.labels(type(a.message).__name__, "dead_letter").inc()
            outputs[a.index] = [kafka.dead_letter(inv.settings, a.record, str(error), SERVICE)]
    if new:
        await store.insert(conn, new)
    run.clear()
    return history


async def hub_delivered(inv: Context, record: ConsumerRecord, event: CommsHubDelivered,
                        existing: set[str], new: list[Device], history: list[History]) -> list[Output]:
    csp, orderer = await inv.parties.get(event.csp_id), await inv.parties.get(event.ordering_party)
    if csp is None or csp.kind != "csp":
        raise Unusable(f"csp_id {event.csp_id} is not a CSP in the party registry")
    if orderer is None or orderer.kind != "service_user":
        raise Unusable(f"ordering_party {event.ordering_party} is not a DCC User in the party registry")
    if event.chf_id == event.gpf_id:
        raise Unusable("chf_id and gpf_id are the same device")
    if known := existing & {event.chf_id, event.gpf_id}:
        raise Unusable(f"already in the SMI: {', '.join(sorted(known))}")
    hub = domain.delivered_hub(event, record_time(record))
    existing.update((event.chf_id, event.gpf_id))
    new.extend(hub)
    metrics.COMMANDS.labels("CommsHubDelivered", "added").inc()
    return [added(inv, record, device, "CommsHubDelivered", event.csp_id, history) for device in hub]


async def smets1_enrolled(inv: Context, record: ConsumerRecord, command: EnrolSMETS1Device,
                          existing: set[str], new: list[Device], history: list[History]) -> list[Output]:
    if command.device_id in existing:
        raise Unusable(f"{command.device_id} is already in the SMI")
    device = domain.enrolled(command)
    existing.add(command.device_id)
    new.append(device)
    metrics.COMMANDS.labels("EnrolSMETS1Device", "added").inc()
    return [added(inv, record, device, "SMETS1Enrolment", None, history, command_id=command.command_id)]
