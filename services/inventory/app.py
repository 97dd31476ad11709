"""The Smart Metering Inventory: the only writer of the SMI.

It completes the SRs that read and change the SMI (12.2, 8.2, 8.3, 8.4, 8.14.1, 8.14.2), adds
delivered Comms Hubs from the CSP feed, removes devices housekeeping asks it to (only if still
Pending since the instant housekeeping saw), withdraws returned hubs, and announces every change
as a DeviceEvent committed together with it. Status moves follow one table (`transitions.py`).
Intake's changes come by its topic or, in intake's own hop, by its API (`applied`).
"""
import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, timezone
from functools import partial

from aiohttp import web

from services.inventory import api, applied, metrics, reports, store
from shared.service import Context
from services.inventory import executor, handlers
from shared import db
from shared.parties import PartyRegistry
from shared.processor import Processor
from shared.readiness import HTTP_API, READINESS
from shared.service import run_processors
from shared.settings import Settings

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 600.0


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    if settings.http_port:
        READINESS.expect(HTTP_API)
    pool = await db.create_pool(settings.database_url, min_size=4, max_size=8)
    runner = None
    refresher = None
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, ["inventory"])
        inventory = Context(settings, PartyRegistry(pool, settings.party_cache_seconds))
        table = handlers.table(settings)
        processor = Processor(service="inventory", group_id="smi-inventory", pool=pool, settings=settings,
                              schema="inventory", handler=partial(executor.handle, inventory, table),
                              topics=[settings.topics.inventory_commands, settings.topics.csp_events])
        if settings.http_port:
            applier = applied.Applier(inventory, table, pool)
            runner = web.AppRunner(api.build(pool, lambda: datetime.now(timezone.utc), applier), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "0.0.0.0", settings.http_port).start()
            READINESS.mark(HTTP_API)
        refresher = asyncio.gather(_refresh_gauges(pool, settings.gauge_refresh_seconds),
                                   _prune_applied(pool, settings.applied_outputs_days))
        log.info("inventory consuming %s and %s", settings.topics.inventory_commands, settings.topics.csp_events)
        await run_processors([processor], stop)
    finally:
        if refresher:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
        if runner:
            await runner.cleanup()
        await pool.close()


async def _refresh_gauges(pool, every_seconds: float) -> None:
    while True:
        try:
            async with pool.acquire() as conn:
                tally = await store.device_tally(conn, datetime.now(timezone.utc))
            metrics.set_tally(tally, reports.IN_STOCK, reports.age_bucket)
        except Exception as error:  # a metrics refresh never stops the service
            log.warning("could not refresh device counts: %s", error)
        await asyncio.sleep(every_seconds)


async def _prune_applied(pool, days: float) -> None:
    """Forget what requests applied through the API produced once nobody can ask for it again."""
    while True:
        try:
            pruned = await applied.prune(pool, datetime.now(timezone.utc) - timedelta(days=days))
            if pruned:
                log.info("pruned %d outputs of requests applied more than %s days ago", pruned, days)
        except Exception as error:  # tried again at the next turn; nothing waits on it
            log.warning("could not prune applied requests' outputs: %s", error)
        await asyncio.sleep(PRUNE_EVERY_SECONDS)
