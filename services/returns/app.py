"""Returns of Comms Hubs in bulk (up to 999 per request): each accepted hub is withdrawn by
inventory and gets a Returns Remedy Record, due back after `returns_due_days`; the CSP's receipt
closes it; a record not received by its due date alerts its returning party once.

Wiring: one Processor for return requests, inventory's answers and overdue checks; one for the
CSP feed; a scheduler that sends an overdue check every `returns_overdue_check_seconds`; the
report gauges; and the JSON API on `http_port`.
"""
import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial

from aiohttp import web

from services.returns import api, metrics, tracking
from services.returns.handlers import handle, table
from shared import db, kafka
from shared.messages import CheckOverdue
from shared.parties import PartyRegistry
from shared.processor import Processor
from shared.readiness import HTTP_API, READINESS
from shared.service import Context, run_processors
from shared.settings import Settings

log = logging.getLogger(__name__)
REPORT_REFRESH_SECONDS = 15.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


async def serve(settings: Settings, stop: asyncio.Event,
                clock: Callable[[], datetime] = utc_now) -> None:
    if settings.http_port:
        READINESS.expect(HTTP_API)
    pool = await db.create_pool(settings.database_url, max_size=6)
    background: list[asyncio.Task] = []
    runner: web.AppRunner | None = None
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, ["returns"])
        returns = Context(settings, PartyRegistry(pool, settings.party_cache_seconds), clock)
        common = dict(service="returns", pool=pool, settings=settings, schema="returns",
                      handler=partial(handle, returns, table(settings)))
        topics = settings.topics
        processors = [
            Processor(group_id="smi-returns", topics=[topics.returns_commands, topics.inventory_replies],
                      **common),
            Processor(group_id="smi-returns-csp", topics=[topics.csp_events], **common),
        ]
        background = [asyncio.create_task(_refresh_report_gauges(pool, clock, stop))]
        if settings.returns_overdue_check_seconds > 0:  # 0: checks only when asked (CLI, tests)
            background.append(asyncio.create_task(_schedule_overdue_checks(settings, clock, stop)))
        if settings.http_port:
            runner = web.AppRunner(api.routes(pool, clock))
            await runner.setup()
            await web.TCPSite(runner, "0.0.0.0", settings.http_port).start()
            READINESS.mark(HTTP_API)
        log.info("returns consuming %s, %s, %s", topics.returns_commands, topics.inventory_replies,
                 topics.csp_events)
        await run_processors(processors, stop)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
        await pool.close()


async def request_overdue_check(producer, settings: Settings, as_of: datetime) -> None:
    """Ask the returns workers for an overdue check as of `as_of` (one partition: checks in order)."""
    await producer.send_and_wait(settings.topics.returns_commands,
                                 CheckOverdue(as_of=as_of).model_dump_json().encode(),
                                 key=b"overdue-check")


async def _schedule_overdue_checks(settings: Settings, clock, stop: asyncio.Event) -> None:
    producer = kafka.plain_producer(settings)
    await producer.start()
    try:
        while not stop.is_set():
            try:
                await request_overdue_check(producer, settings, clock())
            except Exception:
                log.exception("could not request an overdue check; trying again next time")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.returns_overdue_check_seconds)
    finally:
        await producer.stop()


async def _refresh_report_gauges(pool, clock, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            async with pool.acquire() as conn:
                metrics.show_reports(await tracking.open_report(conn, clock()),
                                     await tracking.reasons_report(conn))
        except Exception:
            log.exception("could not refresh the report gauges")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), REPORT_REFRESH_SECONDS)
