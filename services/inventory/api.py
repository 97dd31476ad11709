"""Inventory's JSON API over HTTP: what Read Inventory answers, by Device ID or MPxN, the
reports, and the Service Requests intake applies in its own hop (`applied`). Every other change
to the SMI comes through the command topics."""
from collections.abc import Callable
from datetime import date, datetime

import asyncpg
import orjson
from aiohttp import web
from dateutil.relativedelta import relativedelta

from services.inventory import applied, domain, reports, store
from shared import applying
from shared.eui import InvalidEUI, canonical_eui
from shared.instants import parse_instant

LIFO_WINDOW = relativedelta(months=12)


def _json(value, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


def _error(status: int, code: str, reason: str) -> web.Response:
    return _json({"code": code, "reason": reason}, status)


def _instant(value: str | None, default: datetime) -> datetime:
    return default if value is None else parse_instant(value)


def _concerns(device: domain.Device, party: str) -> bool:
    return party in (device.notifying_party, device.responsible_supplier, device.ordering_party)


def _party_entry(device: domain.Device) -> dict:
    """The Read Inventory entry, with since when its status holds and whether it ever left Pending."""
    return {**domain.inventory_entry(device),
            "StatusSince": device.status_since.isoformat() if device.status_since else None,
            "EverLeftPending": device.ever_left_pending}


def _read_answer(device: domain.Device | None, device_id: str) -> dict:
    if device is None:
        refusal = domain.none_found(device_id)
        return {"code": refusal.code, "reason": refusal.reason}
    return {"code": "I0", "payload": domain.read_inventory_payload([device])}


def build(pool: asyncpg.Pool, clock: Callable[[], datetime],
          applier: applied.Applier | None = None) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/health")
    async def health(_: web.Request) -> web.Response:
        return _json({"status": "ok"})

    @routes.get("/devices/{device_id}")
    async def device(request: web.Request) -> web.Response:
        try:
            device_id = canonical_eui(request.match_info["device_id"])
        except InvalidEUI as error:
            return _error(400, "E11", str(error))
        async with pool.acquire() as conn:
            found = await store.device(conn, device_id, lock=False)
        if found is None:
            return _error(404, "E30", f"{device_id} is not in the Smart Metering Inventory")
        return _json({"Device": domain.inventory_entry(found)})

    # Read Inventory by Device ID as 8.2 answers it, for a batch of devices: intake answers such
    # requests with this when no change to the device is still on its way here.
    @routes.post("/read-inventory")
    async def read_inventory(request: web.Request) -> web.Response:
        try:
            asked = orjson.loads(await request.read())["DeviceID"]
            device_ids = sorted({canonical_eui(d) for d in asked})
        except (orjson.JSONDecodeError, KeyError, TypeError, InvalidEUI) as error:
            return _error(400, "E13", f"give {{\"DeviceID\": [EUI-64, ...]}}: {error}")
        async with pool.acquire() as conn:
            found = await store.devices(conn, device_ids, lock=False)
        return _json({device_id: _read_answer(found.get(device_id), device_id) for device_id in device_ids})

    # Service Requests intake applies in its own hop: what each produced, for intake to publish.
    @routes.post("/service-requests")
    async def apply_requests(request: web.Request) -> web.Response:
        if applier is None:
            return _error(404, "E42", "this instance applies no Service Requests through its API")
        try:
            produced = await applier.apply(await request.read())
        except ValueError as error:
            return _error(400, "E13", str(error))
        return web.Response(body=applying.encode_outputs(produced), content_type="application/json")

    @routes.get("/devices")
    async def at_mpxn(request: web.Request) -> web.Response:
        mpxn = request.query.get("mpxn", "")
        if not mpxn.isdigit():
            return _error(400, "E13", "give ?mpxn= with the meter point's digits")
        async with pool.acquire() as conn:
            found = await store.devices_at_mpxn(conn, mpxn, domain.MAX_DEVICES_PER_ANSWER)
        if not found:
            return _error(404, "E30", f"no device in the SMI at MPxN {mpxn}")
        return _json(domain.read_inventory_payload(found))

    # A party's own view (the Self-Service Interface): only devices it notified, supplies or
    # ordered; any other device answers 404 exactly as a missing one does.
    @routes.get("/parties/{party}/devices/{device_id}")
    async def party_device(request: web.Request) -> web.Response:
        try:
            party = canonical_eui(request.match_info["party"])
            device_id = canonical_eui(request.match_info["device_id"])
        except InvalidEUI as error:
            return _error(400, "E11", str(error))
        async with pool.acquire() as conn:
            found = await store.device(conn, device_id, lock=False)
        if found is None or not _concerns(found, party):
            return _error(404, "E30", f"{device_id} is not in the Smart Metering Inventory")
        return _json({"Device": [_party_entry(found)]})

    @routes.get("/parties/{party}/devices")
    async def party_devices_at_mpxn(request: web.Request) -> web.Response:
        mpxn = request.query.get("mpxn", "")
        if not mpxn.isdigit():
            return _error(400, "E13", "give ?mpxn= with the meter point's digits")
        try:
            party = canonical_eui(request.match_info["party"])
        except InvalidEUI as error:
            return _error(400, "E11", str(error))
        async with pool.acquire() as conn:
            found = await store.devices_at_mpxn(conn, mpxn, domain.MAX_DEVICES_PER_ANSWER)
        shown = sorted((d for d in found if _concerns(d, party)), key=lambda d: d.device_id)
        if not shown:
            return _error(404, "E30", f"no device in the SMI at MPxN {mpxn}")
        return _json({"Device": [_party_entry(d) for d in shown]})

    @routes.get("/reports/ch-stock-level")
    async def ch_stock_level(request: web.Request) -> web.Response:
        day = date.fromisoformat(request.query["date"]) if "date" in request.query else clock().date()
        async with pool.acquire() as conn:
            return _json(await reports.ch_stock_level(conn, day))

    @routes.get("/reports/stock-ageing")
    async def stock_ageing(request: web.Request) -> web.Response:
        as_of = _instant(request.query.get("as_of"), clock())
        async with pool.acquire() as conn:
            return _json(await reports.stock_ageing(conn, as_of))

    @routes.get("/reports/lifo")
    async def lifo(request: web.Request) -> web.Response:
        as_of = _instant(request.query.get("as_of"), clock())
        since = _instant(request.query.get("since"), as_of - LIFO_WINDOW)
        async with pool.acquire() as conn:
            return _json(await reports.lifo(conn, since, as_of))

    @web.middleware
    async def bad_parameters(request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ValueError as error:
            return _error(400, "E13", f"bad parameter: {error}")

    app = web.Application(middlewares=[bad_parameters])
    app.add_routes(routes)
    return app
