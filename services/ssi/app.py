"""Self-Service Interface (SSI): web pages where a DCC User, signed in with its own credential
from the party registry, tracks its bulk Comms Hub returns hub by hub, looks up its devices as
Read Inventory would answer (S1SP for SMETS1) with their pending age against the housekeeping
policy, and reads the DCC Alerts sent to it. A party sees only its own data: anything else
answers 404.

It reads the owning services through their HTTP JSON APIs, never their tables; the only state
it keeps is its copy of the public alerts topic (schema `ssi`), through the exactly-once processor.
"""
import asyncio
import logging
import re
from collections.abc import Callable
from datetime import datetime, timezone

from aiohttp import web

from services.ssi import web as pages
from services.ssi.apis import Apis
from services.ssi.config import SSISettings
from services.ssi.handlers import handle_alerts
from shared import db
from shared.processor import Processor
from shared.readiness import HTTP_API, READINESS
from shared.service import run_processors
from shared.settings import Settings

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def alert_topics_pattern(settings: Settings) -> str | None:
    """In per-party mode, the pattern matching every party's alerts topic."""
    if settings.topic_mode != "per-party":
        return None
    return f"^{re.escape(settings.topics.alerts)}\\.[0-9A-F]{{2}}(-[0-9A-F]{{2}}){{7}}$"


async def serve(settings: Settings, stop: asyncio.Event, config: SSISettings | None = None,
                clock: Callable[[], datetime] = utc_now) -> None:
    config = config or SSISettings()
    if settings.http_port:
        READINESS.expect(HTTP_API)
    pool = await db.create_pool(settings.database_url, max_size=8)
    apis = Apis(config)
    runner: web.AppRunner | None = None
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, ["ssi"])
        await apis.start()
        alerts = Processor(service="ssi", group_id="smi-ssi-alerts", topics=[settings.topics.alerts],
                           pattern=alert_topics_pattern(settings), handler=handle_alerts, pool=pool,
                           settings=settings, schema="ssi")
        if settings.http_port:
            runner = web.AppRunner(pages.build(config, pool, apis, clock), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "0.0.0.0", settings.http_port).start()
            READINESS.mark(HTTP_API)
            log.info("ssi serving http://127.0.0.1:%d/", settings.http_port)
        await run_processors([alerts], stop)
    finally:
        if runner is not None:
            await runner.cleanup()
        await apis.close()
        await pool.close()
