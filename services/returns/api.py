"""The returns JSON API over HTTP: track a return, list a party's returns, read the reports."""
from collections.abc import Callable
from datetime import datetime

import asyncpg
import orjson
from aiohttp import web

from services.returns import tracking
from shared.eui import InvalidEUI
from shared.instants import parse_instant


def _json(value, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


def _found(value, what: str) -> web.Response:
    return _json(value) if value is not None else _json({"error": f"no return found for {what}"}, 404)


def routes(pool: asyncpg.Pool, clock: Callable[[], datetime]) -> web.Application:
    async def record(request: web.Request) -> web.Response:
        async with pool.acquire() as conn:
            reference = request.match_info["reference"]
            return _found(await tracking.by_reference(conn, reference), reference)

    async def hub(request: web.Request) -> web.Response:
        async with pool.acquire() as conn:
            device_id = request.match_info["device_id"]
            return _found(await tracking.by_hub(conn, device_id), device_id)

    async def service_request(request: web.Request) -> web.Response:
        async with pool.acquire() as conn:
            request_id = request.match_info["request_id"]
            return _found(await tracking.by_request(conn, request_id), request_id)

    async def party(request: web.Request) -> web.Response:
        limit = min(max(int(request.query.get("limit", 50)), 1), 500)
        offset = max(int(request.query.get("offset", 0)), 0)
        async with pool.acquire() as conn:
            return _json(await tracking.party_requests(conn, request.match_info["party"], limit, offset))

    async def party_request(request: web.Request) -> web.Response:
        """One of the party's requests and a page of its hubs (?status=, ?limit=, ?offset=,
        ?history=false to leave the records' histories out): 404 when it is not the party's."""
        status = request.query.get("status") or None
        limit = min(max(int(request.query.get("limit", 100)), 1), 1000)
        offset = max(int(request.query.get("offset", 0)), 0)
        request_id = request.match_info["request_id"]
        async with pool.acquire() as conn:
            return _found(await tracking.party_request_hubs(
                conn, request.match_info["party"], request_id, status, limit, offset,
                request.query.get("history") != "false"), request_id)

    async def open_report(request: web.Request) -> web.Response:
        as_of = parse_instant(request.query["as_of"]) if "as_of" in request.query else clock()
        async with pool.acquire() as conn:
            return _json({"as_of": as_of.isoformat(),
                          "parties": await tracking.open_report(conn, as_of)})

    async def reasons(request: web.Request) -> web.Response:
        async with pool.acquire() as conn:
            return _json({"reasons": await tracking.reasons_report(conn)})

    async def health(request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    @web.middleware
    async def bad_input(request: web.Request, handler):
        try:
            return await handler(request)
        except (InvalidEUI, ValueError) as error:
            return _json({"error": str(error)}, 400)

    app = web.Application(middlewares=[bad_input])
    app.add_routes([
        web.get("/returns/records/{reference}", record),
        web.get("/returns/hubs/{device_id}", hub),
        web.get("/returns/requests/{request_id}", service_request),
        web.get("/returns/parties/{party}/requests", party),
        web.get("/returns/parties/{party}/requests/{request_id}", party_request),
        web.get("/returns/reports/open", open_report),
        web.get("/returns/reports/reasons", reasons),
        web.get("/health", health),
    ])
    return app
