"""Questions to ask before switching a policy on, and the policy in force: the service's JSON API
(aiohttp on settings.http_port; faust's own web server is off, so every service's API looks alike).

  GET  /policy                         the policy in force
  POST /policy/reload                  re-read the policy file (422 and the reason if refused)
  POST /forecasts {"policy": <YAML text or mapping>, "from": <instant>, "to": <instant>}
                                       removals and retentions by type, Notifying Party and month
  GET  /retention?as_of=<instant>      hubs kept only because of the exclusion, with their ages
  GET  /runs?as_of=<instant>           what the run as of that instant decided, per partition
  GET  /pending-age?device_type=&pending_since=&ever_left_pending=&as_of=
                                       one Pending device against the policy in force: its age,
                                       when it falls due, and what a run as of `as_of` would decide
"""
import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import asyncpg
import orjson
import yaml
from aiohttp import web

from services.housekeeping import planning, policy as policies, store, work
from services.housekeeping.domain import (HOUSEKEPT_TYPES, Policy, TrackedDevice,
                                          age_in_months, decide, due_at)
from services.housekeeping.policy import PolicyError, RunningPolicy
from services.housekeeping.tracker import Tracker
from shared.duis.enums import TYPE_2_DEVICES
from shared.instants import parse_instant


class QueryTimeout(RuntimeError):
    pass


class Queries:
    """Forecasts and retention reports, answered by every partition's owner and summed here."""

    def __init__(self, tracker: Tracker, pool: asyncpg.Pool, timeout: float) -> None:
        self.tracker, self.pool, self.timeout = tracker, pool, timeout

    async def forecast(self, policy: Policy, start: datetime, end: datetime) -> dict:
        parts = await self._ask(lambda query_id: work.Forecast(query_id=query_id, policy=policy, start=start,
                                                               end=end))
        return {"policy_version": policy.version, "from": start.isoformat(), "to": end.isoformat(),
                **planning.forecast_summary(parts)}

    async def retention(self, policy: Policy, as_of: datetime) -> dict:
        parts = await self._ask(lambda query_id: work.Retention(query_id=query_id, policy=policy, as_of=as_of))
        return {"policy_version": policy.version, "as_of": as_of.isoformat(),
                "excluded_types": sorted(policy.excluded_types), **planning.retention_summary(parts)}

    async def _ask(self, query: Callable[[str], work.Work]) -> list[dict]:
        query_id = uuid.uuid4().hex
        await self.tracker.fan_out(query(query_id))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            async with self.pool.acquire() as conn:
                parts = await store.query_parts(conn, query_id)
            if len(parts) == self.tracker.partitions:
                return parts
            await asyncio.sleep(0.1)
        raise QueryTimeout(f"{len(parts)} of {self.tracker.partitions} partitions answered "
                           f"within {self.timeout:.0f}s")


def routes(queries: Queries, running: RunningPolicy) -> web.Application:
    app = web.Application()

    def reply(data, status=200) -> web.Response:
        return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")

    def refuse(message: str, status=422) -> web.Response:
        return reply({"error": message}, status)

    async def get_policy(_request) -> web.Response:
        return reply(running.current.model_dump(mode="json"))

    async def reload_policy(_request) -> web.Response:
        try:
            return reply(running.reload().model_dump(mode="json"))
        except PolicyError as error:
            return refuse(f"{error}; version {running.current.version} stays in force")

    async def forecast(request: web.Request) -> web.Response:
        try:
            body = await request.json(loads=orjson.loads)
            given = body.get("policy")
            policy = running.current if given is None else policies.parse(
                given if isinstance(given, str) else yaml.safe_dump(given), "policy")
            start, end = parse_instant(body.get("from")), parse_instant(body.get("to"))
        except (ValueError, AttributeError, TypeError) as error:
            return refuse(str(error))
        if end < start:
            return refuse("'to' is before 'from'")
        try:
            return reply(await queries.forecast(policy, start, end))
        except QueryTimeout as error:
            return refuse(str(error), 504)

    async def retention(request: web.Request) -> web.Response:
        try:
            as_of = parse_instant(request.query.get("as_of"))
            return reply(await queries.retention(running.current, as_of))
        except ValueError as error:
            return refuse(str(error))
        except QueryTimeout as error:
            return refuse(str(error), 504)

    async def runs(request: web.Request) -> web.Response:
        try:
            as_of = parse_instant(request.query.get("as_of"))
        except ValueError as error:
            return refuse(str(error))
        async with queries.pool.acquire() as conn:
            rows = await store.run_summary(conn, as_of)
        # Complete: every partition decided on a table holding the events committed before it.
        complete = len(rows) == queries.tracker.partitions and all(
            r["events_covered"] is not None for r in rows)
        return reply({"as_of": as_of.isoformat(), "complete": complete, "partitions": [
            {**dict(r), "retained": orjson.loads(r["retained"]),
             "completed_at": r["completed_at"].isoformat()} for r in rows]})

    async def pending_age(request: web.Request) -> web.Response:
        query = request.query
        try:
            device_type = query.get("device_type", "")
            if device_type in TYPE_2_DEVICES:
                return refuse(f"{device_type} is a Type 2 device: it has no SMI Status and is never housekept")
            if device_type not in HOUSEKEPT_TYPES:
                return refuse(f"unknown device type {device_type!r}")
            since, as_of = parse_instant(query.get("pending_since")), parse_instant(query.get("as_of"))
        except ValueError as error:
            return refuse(str(error))
        policy = running.current
        device = TrackedDevice(device_id="", device_type=device_type, pending_since=since,
                               notifying_party="", notified_by_service_user=False,
                               ever_left_pending=query.get("ever_left_pending") == "true")
        return reply({"policy_version": policy.version, "rule": policy.rule,
                      "months": policy.months_for(device_type),
                      "excluded": device_type in policy.excluded_types,
                      "pending_since": since.isoformat(), "as_of": as_of.isoformat(),
                      "age_months": age_in_months(since, as_of),
                      "due_at": due_at(device, policy).isoformat(),
                      "decision": decide(device, policy, as_of).value})

    app.router.add_get("/policy", get_policy)
    app.router.add_post("/policy/reload", reload_policy)
    app.router.add_post("/forecasts", forecast)
    app.router.add_get("/retention", retention)
    app.router.add_get("/runs", runs)
    app.router.add_get("/pending-age", pending_age)
    return app


