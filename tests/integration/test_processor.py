"""The kernel's guarantee: each input's effect once, its outputs published once."""
from functools import partial

import asyncpg
import pytest

from shared import db
from shared.kafka import Output
from shared.processor import Processor
from tests.support import running

pytestmark = pytest.mark.integration


async def _count_and_echo(topic: str, conn: asyncpg.Connection, records) -> list[list[Output]]:
    outputs = []
    for record in records:
        if record.value == b"boom":
            raise ValueError("this record cannot be handled")
        await conn.execute("insert into intake.effects (value) values ($1)", record.value)
        outputs.append([Output(topic, b"echo:" + record.value, record.key)])
    return outputs


def _processor(settings, pool) -> Processor:
    return Processor(service="test", group_id="smi-kernel-test", topics=[settings.topics.csp_events],
                     handler=partial(_count_and_echo, settings.topics.alerts), pool=pool,
                     settings=settings, schema="intake")


def _serve(pool):
    async def serve(settings, stop):
        processor = _processor(settings, pool)
        from shared.service import run_processors
        await run_processors([processor], stop)
    return serve


async def test_batch_applied_but_not_published_is_published_once_by_the_next_owner(settings, bus):
    pool = await db.create_pool(settings.database_url)
    try:
        async with pool.acquire() as conn:
            await conn.execute("create table intake.effects (value bytea)")
        for n in range(3):
            await bus.send(settings.topics.csp_events, f"r{n}".encode(), key=b"k")
        records = await bus.read(settings.topics.csp_events, count=3)
        # A consumer that dies after its database transaction, before its Kafka transaction:
        saved = await _processor(settings, pool)._apply(records[:2])
        assert [o.value for o in saved] == [b"echo:r0", b"echo:r1"]
        await bus.send(settings.topics.csp_events, b"boom", key=b"k")
        async with running(_serve(pool), settings):
            published = await bus.read(settings.topics.alerts, count=3, settle=1.5)
            letters = await bus.read(settings.topics.dead_letters, count=1, settle=0.5)
        async with pool.acquire() as conn:
            effects = [r["value"] for r in await conn.fetch("select value from intake.effects")]
    finally:
        await pool.close()
    assert sorted(r.value for r in published) == [b"echo:r0", b"echo:r1", b"echo:r2"]
    assert sorted(effects) == [b"r0", b"r1", b"r2"], "each effect applied once"
    assert [r.value for r in letters] == [b"boom"]
    assert dict(letters[0].headers)["dlq-reason"] == b"the handler failed on this record"
