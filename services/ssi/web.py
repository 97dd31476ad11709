"""The SSI's pages over aiohttp: sign-in, returns, one return, a record, inventory, alerts.

Every page but sign-in needs a signed session; every read names the signed-in party, and what is
not that party's answers 404, exactly as what does not exist.
"""
import asyncio
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime

import asyncpg
from aiohttp import web

from services.ssi import credentials, metrics, screens, sessions, store, views
from services.ssi.apis import Apis, Unavailable
from services.ssi.config import SSISettings
from shared.eui import InvalidEUI, canonical_eui
from shared.parties import PartyRegistry

PUBLIC = {"/sign-in", "/health"}
RETURNS_PER_PAGE = 25  # each listed return counts its (up to 999) hubs: a short page stays fast
_EUI_LIKE = re.compile(r"^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){7}$")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
}
PARTY, PARTY_NAME = web.RequestKey("party", str | None), web.RequestKey("party_name", str | None)


class NotFound(Exception):
    pass


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _page_offset(request: web.Request, size: int) -> int:
    try:
        return (max(int(request.query.get("page", 1)), 1) - 1) * size
    except ValueError:
        return 0


def build(config: SSISettings, pool: asyncpg.Pool, apis: Apis, clock: Callable[[], datetime]) -> web.Application:
    registry = PartyRegistry(pool, 30.0)
    unknown_party = credentials.hash_secret(secrets.token_hex(16))  # checked against for no party
    size = config.page_size
    routes = web.RouteTableDef()

    def who(request: web.Request) -> tuple[str, str]:
        return request[PARTY], request[PARTY_NAME]

    @web.middleware
    async def guard(request: web.Request, handler) -> web.StreamResponse:
        started, status = time.perf_counter(), 500
        try:
            request[PARTY] = sessions.party_of(config.session_secret, request.cookies.get(sessions.COOKIE),
                                                 clock().timestamp())
            party = await registry.get(request[PARTY]) if request[PARTY] else None
            request[PARTY_NAME] = party.name if party else None
            if request.path not in PUBLIC and party is None:
                raise web.HTTPSeeOther("/sign-in")
            response = await handler(request)
        except web.HTTPException as exception:
            response = exception
        except NotFound as missing:
            response = _html(views.error_page(404, str(missing), request[PARTY], request[PARTY_NAME]), 404)
        except Unavailable as error:
            response = _html(views.error_page(503, str(error), request[PARTY], request[PARTY_NAME]), 503)
        except (ValueError, InvalidEUI) as error:
            response = _html(views.error_page(400, str(error), request.get(PARTY),
                                              request.get(PARTY_NAME)), 400)
        status = response.status
        response.headers.update(SECURITY_HEADERS)
        route = request.match_info.route.resource
        metrics.PAGE_SECONDS.labels(route.canonical if route else "unknown", str(status)).observe(
            time.perf_counter() - started)
        if isinstance(response, web.HTTPException) and status >= 300:
            raise response
        return response

    @routes.get("/health")
    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    @routes.get("/")
    async def home(_: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/returns")

    @routes.get("/sign-in")
    async def sign_in_form(request: web.Request) -> web.Response:
        return _html(views.sign_in())

    @routes.post("/sign-in")
    async def sign_in(request: web.Request) -> web.Response:
        form = await request.post()
        given, secret = str(form.get("party", "")).strip(), str(form.get("secret", ""))
        party = given.upper() if _EUI_LIKE.match(given) else None
        async with pool.acquire() as conn:
            found = await store.party_credential(conn, party) if party else None
        # The hash is checked even for an unknown party, so timing does not tell which parties exist.
        stored = found["credential"] if found else unknown_party
        if not await asyncio.to_thread(credentials.verify, secret, stored) or found is None:
            metrics.SIGN_INS.labels("refused").inc()
            return _html(views.sign_in("That party ID and credential do not match.", given), 401)
        metrics.SIGN_INS.labels("signed_in").inc()
        response = web.HTTPSeeOther("/returns")
        response.set_cookie(sessions.COOKIE, sessions.issue(config.session_secret, party, clock().timestamp(),
                                                            config.session_hours),
                            max_age=int(config.session_hours * 3600), httponly=True, samesite="Strict",
                            secure=config.secure_cookies, path="/")
        raise response

    @routes.post("/sign-out")
    async def sign_out(_: web.Request) -> web.Response:
        response = web.HTTPSeeOther("/sign-in")
        response.del_cookie(sessions.COOKIE, path="/")
        raise response

    @routes.get("/returns")
    async def returns(request: web.Request) -> web.Response:
        party, name = who(request)
        per_page = RETURNS_PER_PAGE
        listing = await apis.returns(party, per_page, _page_offset(request, per_page))
        return _html(views.page("Bulk returns", screens.returns_list(listing, per_page), party, name, "returns"))

    @routes.get("/returns/{request_id}")
    async def one_return(request: web.Request) -> web.Response:
        party, name = who(request)
        request_id, status = request.match_info["request_id"], request.query.get("status") or None
        if status is not None and status not in screens.HUB_STATUSES:
            raise ValueError(f"no such hub status: {status}")
        found = await apis.return_hubs(party, request_id, status, size, _page_offset(request, size))
        if found is None:
            raise NotFound(f"No bulk return {request_id} from your party.")
        return _html(views.page(f"Bulk return {found['request_id']}",
                                screens.return_detail(found, status, size), party, name, "returns"))

    @routes.get("/returns/{request_id}/hubs.csv")
    async def return_csv(request: web.Request) -> web.Response:
        party, _ = who(request)
        request_id = request.match_info["request_id"]
        found = await apis.return_hubs(party, request_id, None, 1000, 0, history=False)  # at most 999 hubs
        if found is None:
            raise NotFound(f"No bulk return {request_id} from your party.")
        filename = re.sub(r"[^0-9A-Za-z-]", "_", found["request_id"])
        return web.Response(text=screens.hubs_csv(found["hubs"]), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="return-{filename}.csv"'})

    @routes.get("/records/{reference}")
    async def record(request: web.Request) -> web.Response:
        party, name = who(request)
        reference = request.match_info["reference"]
        found = await apis.record(party, reference)
        if found is None:
            raise NotFound(f"No Returns Remedy Record {reference} for your party.")
        return _html(views.page(f"Returns Remedy Record {found['reference']}", screens.record(found),
                                party, name, "returns"))

    @routes.get("/inventory")
    async def inventory(request: web.Request) -> web.Response:
        party, name = who(request)
        query = request.query.get("q", "").strip()
        body = screens.lookup_form(query)
        if query:
            found = await _look_up(party, query)
            if found is None:
                return _html(views.page("Inventory", body + f'<p class="error" role="alert">No device of '
                                        f'your party at {views.h(query)}.</p>', party, name, "inventory"), 404)
            ages = {d["DeviceID"]: await _age(d) for d in found}
            body += screens.devices(found, ages)
        return _html(views.page("Inventory", body, party, name, "inventory"))

    async def _look_up(party: str, query: str) -> list[dict] | None:
        if query.isdigit():
            return await apis.devices_at(party, query)
        return await apis.device(party, canonical_eui(query))

    async def _age(device: dict) -> str:
        if device["DeviceStatus"] != "Pending" or not device.get("StatusSince"):
            return "" if device["DeviceStatus"] is None else "not Pending: not housekept"
        try:
            return screens.pending_age(await apis.pending_age(device, clock()))
        except (Unavailable, ValueError):
            return screens.pending_age(None)

    @routes.get("/alerts")
    async def alerts(request: web.Request) -> web.Response:
        party, name = who(request)
        offset = _page_offset(request, size)
        async with pool.acquire() as conn:
            total, listing = await store.party_alerts(conn, party, size, offset)
        rows = [{**a, "sent_at": a["sent_at"].isoformat()} for a in listing]
        return _html(views.page("Alerts", screens.alerts(rows, total, size, offset), party, name, "alerts"))

    app = web.Application(middlewares=[guard])
    app.add_routes(routes)
    return app
