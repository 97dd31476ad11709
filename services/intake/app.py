"""Request intake: every Service Request on `smi.requests` is validated, authorised and
de-duplicated, then routed to the service that owns it or answered with a refusal.
A second consumer keeps each routed request's response, so that a replay gets it again."""
import asyncio
import logging
from functools import partial

import asyncpg

from services.intake.handlers import Intake, handle_requests, handle_responses
from services.intake.inventory_api import InventoryApi
from shared import db
from shared.parties import PartyRegistry
from shared.processor import Processor
from shared.responses import response_topics_pattern
from shared.service import run_processors
from shared.settings import Settings

log = logging.getLogger(__name__)
# Responses are kept for replays and for reads behind a change, which nobody waits on: the
# broker gathers them for up to a fetch wait, so they come in fewer, larger batches.
RESPONSES_FETCH_MIN_BYTES = 1024 * 1024


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    pool = await db.create_pool(settings.database_url)
    inventory = InventoryApi(settings.inventory_url, settings.inventory_read_timeout_seconds,
                             settings.inventory_apply_timeout_seconds) if settings.inventory_url else None
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, ["intake"])
        intake = Intake(settings, PartyRegistry(pool, settings.party_cache_seconds), inventory=inventory)
        log.info("intake consuming %s", settings.topics.requests)
        await run_processors(intake_processors(intake, pool), stop)
    finally:
        if inventory is not None:
            await inventory.close()
        await pool.close()


def intake_processors(intake: Intake, pool: asyncpg.Pool) -> list[Processor]:
    """The requests taken in, and the responses kept for replays."""
    settings = intake.settings
    common = dict(service="intake", pool=pool, settings=settings, schema="intake")
    return [
        Processor(group_id="smi-intake", topics=[settings.topics.requests],
                  handler=partial(handle_requests, intake), **common),
        Processor(group_id="smi-intake-responses", topics=[settings.topics.responses],
                  pattern=response_topics_pattern(settings),
                  handler=partial(handle_responses, intake), save_empty=False,
                  fetch_min_bytes=RESPONSES_FETCH_MIN_BYTES, **common),
    ]
