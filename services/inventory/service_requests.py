"""The Service Requests inventory completes: 12.2, 8.2, 8.3, 8.4 and 8.14.1/8.14.2, one handler
per variant (the table is in `handlers`).

Each gets exactly one response. A change is saved, logged in the status history and announced by
one DeviceEvent per device, all in the transaction that records the request as handled.
"""
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from services.inventory import domain, store
from services.inventory import transitions as t
from services.inventory.context import added, answer, event_id, publish
from services.inventory.domain import Device
from services.inventory.store import History
from services.inventory.working_set import WorkingSet
from shared.duis import errors
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.eui import canonical_eui, is_eui
from shared.kafka import Output
from shared.messages import HandleServiceRequest
from shared.service import Context

SERVICE = "inventory"
RETURN_TO_PENDING = "return to Pending, AC 7.1"


@dataclass(frozen=True)
class Request:
    record: ConsumerRecord
    command: HandleServiceRequest
    body: BaseModel

    @property
    def party(self) -> str:
        return self.command.reply.originator

    @property
    def at(self) -> datetime:
        return self.command.event_time

    @property
    def request_id(self) -> str:
        return self.command.reply.request_id

    @property
    def variant(self) -> str:
        return self.command.variant


def validate(inv: Context, record: ConsumerRecord, command: HandleServiceRequest) -> Request | Output:
    """The body re-validated with its catalogue model, or the rejection to send."""
    spec = SERVICE_REQUESTS.get(command.variant)
    if spec is None or spec.owner != SERVICE:
        return answer(inv, command.reply, "unknown", "E42", reason=f"{command.variant!r:.20} is not served by inventory")
    try:
        body = spec.model.model_validate(command.body.get(spec.element))
    except ValidationError as error:
        code, reason = errors.code_for(error, spec.element)
        return answer(inv, command.reply, command.variant, code, reason=reason)
    return Request(record, command, body)


def device_named(command: HandleServiceRequest) -> str | None:
    """The Device ID a request names, read before validation, to load it early."""
    spec = SERVICE_REQUESTS.get(command.variant)
    if spec is None or not isinstance(command.body.get(spec.element), dict):
        return None
    device_id = command.body[spec.element].get("DeviceID")
    return canonical_eui(device_id) if is_eui(device_id) else None


async def prenotify(inv: Context, record: ConsumerRecord, r: Request, existing: set[str], new: list[Device],
                    history: list[History]) -> list[Output]:
    """SR 12.2 for one request of a run of additions (see `additions`): `existing` holds every
    Device ID of the SMI the run could clash with, and grows as devices are added."""
    refusal = domain.prenotification_refusal(r.body, r.body.DeviceID in existing)
    if refusal:
        return [_refuse(inv, r, refusal)]
    existing.add(r.body.DeviceID)
    device = domain.prenotified(r.body, r.party, r.command.roles, r.at)
    new.append(device)
    return [added(inv, record, device, "12.2", r.party, history, request_id=r.request_id),
            answer(inv, r.command.reply, r.variant, "I0")]


def on_named_device(handler: Callable[..., Awaitable[list[Output]]]):
    """A request about one device in the SMI: E30 when it is not there; a refusal of the rules
    answers the request with its code."""
    @functools.wraps(handler)
    async def handle(inv: Context, conn: asyncpg.Connection, ws: WorkingSet, r: Request) -> list[Output]:
        device = await ws.device(conn, r.body.DeviceID)
        if device is None:
            return [_refuse(inv, r, t.Refused("E30", f"{r.body.DeviceID} is not in the Smart Metering Inventory"))]
        try:
            return await handler(inv, conn, ws, r, device)
        except t.Refused as refusal:
            return [_refuse(inv, r, refusal)]
    return handle


async def read_inventory(inv: Context, conn: asyncpg.Connection, ws: WorkingSet, r: Request) -> list[Output]:
    body = r.body
    if body.DeviceID is not None:
        found = await ws.device(conn, body.DeviceID)
        devices = [found] if found else []
    elif body.MPxN is not None:
        await ws.flush(conn)
        devices = await store.devices_at_mpxn(conn, body.MPxN, domain.MAX_DEVICES_PER_ANSWER)
    else:
        return [_refuse(inv, r, t.Refused("E080201", "Read Inventory by UPRN or PropertyFilter is not supported"))]
    if not devices:
        return [_refuse(inv, r, domain.none_found(body.DeviceID or body.MPxN))]
    return [answer(inv, r.command.reply, r.variant, "I0", domain.read_inventory_payload(devices))]


@on_named_device
async def update_inventory(inv: Context, conn: asyncpg.Connection, ws: WorkingSet, r: Request,
                           device: Device) -> list[Output]:
    body = r.body
    if body.UpdateDeviceStatusExceptCH is not None:
        return await change_status(inv, conn, ws, r, "8.4 UpdateDeviceStatusExceptCH", device,
                                   body.UpdateDeviceStatusExceptCH)
    if body.UpdateDeviceStatusCH is not None:
        return await change_status(inv, conn, ws, r, "8.4 UpdateDeviceStatusCH", device,
                                   body.UpdateDeviceStatusCH)
    if body.DeleteDevice:
        if refusal := domain.deletion_refusal(device, r.party):
            raise refusal
        async with ws.writing_directly(conn, [device.device_id]):
            if device.status is not None:
                await store.append_history(conn, [(device.device_id, device.status, None, r.at,
                                                   "8.4 DeleteDevice", r.party, r.request_id)])
            await store.archive(conn, device, r.at, "8.4 DeleteDevice", "deleted by request", None, r.request_id)
        return [publish(inv, domain.event("DeviceDeleted", device, r.at, "8.4 DeleteDevice",
                                          event_id(r.record, device.device_id), previous=device.status,
                                          reference=r.request_id, reason="deleted by request")),
                answer(inv, r.command.reply, r.variant, "I0")]
    if refusal := domain.may_edit(device, r.party):
        raise refusal
    if body.UpdateMPxN is not None:
        if body.UpdateMPxN.ImportMPxN is None:  # the SMI holds the import MPxN only
            return [answer(inv, r.command.reply, r.variant, "I0")]
        changed = replace(device, mpxn=body.UpdateMPxN.ImportMPxN)
    else:
        changed = domain.with_details(device, body.UpdateDeviceDetails.model_dump(exclude_none=True))
    ws.change([changed], [])
    return [publish(inv, domain.event("DeviceDetailsChanged", changed, r.at, "8.4",
                                      event_id(r.record, device.device_id), previous=device.status,
                                      reference=r.request_id)),
            answer(inv, r.command.reply, r.variant, "I0")]


@on_named_device
async def decommission(inv: Context, conn: asyncpg.Connection, ws: WorkingSet, r: Request,
                       device: Device) -> list[Output]:
    return await change_status(inv, conn, ws, r, "8.3", device, "Decommissioned")


@on_named_device
async def commission_hub(inv: Context, conn: asyncpg.Connection, ws: WorkingSet, r: Request,
                         device: Device) -> list[Output]:
    return await change_status(inv, conn, ws, r, r.variant, device, "Commissioned", whole_hub=True)


@on_named_device
async def install_hub(inv: Context, conn: asyncpg.Connection, ws: WorkingSet, r: Request,
                      device: Device) -> list[Output]:
    return await change_status(inv, conn, ws, r, r.variant, device, "InstalledNotCommissioned", whole_hub=True)


async def change_status(inv: Context, conn: asyncpg.Connection, ws: WorkingSet, r: Request, cause: str,
                        device: Device, target: str, whole_hub: bool = False) -> list[Output]:
    """One table-checked move; a whole hub moves as one unit (`domain.hub_move`)."""
    if whole_hub:
        gpf = await ws.device(conn, device.linked_device_id) if device.linked_device_id else None
        move, moving = domain.hub_move(cause, device, gpf, target, r.party)
    else:
        move, moving = t.decide(cause, device.device_type, device.status, target, device.relations(r.party)), [device]
    reason = RETURN_TO_PENDING if move.basis == "AC 7.1" else None
    changed = [d.moved(target, r.at) for d in moving]
    if whole_hub:  # the installing supplier becomes responsible for the hub
        changed = [replace(d, responsible_supplier=r.party) for d in changed]
    recorded = f"{cause} ({RETURN_TO_PENDING})" if reason else cause
    ws.change(changed, [(d.device_id, d.status, target, r.at, recorded, r.party, r.request_id)
                        for d in moving])
    events = [publish(inv, domain.event("DeviceStatusChanged", after, r.at, cause,
                                        event_id(r.record, after.device_id), previous=before.status,
                                        reference=r.request_id, reason=reason))
              for before, after in zip(moving, changed)]
    return [*events, answer(inv, r.command.reply, r.variant, "I0")]


def _refuse(inv: Context, r: Request, refusal: t.Refused) -> Output:
    return answer(inv, r.command.reply, r.variant, refusal.code, reason=refusal.reason)
