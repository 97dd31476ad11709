"""Saved outputs in generations: a record applied once even by two owners at once, a generation
emptied only when every row in it is committed, and tables of the earlier layout carried over."""
import asyncio
from functools import partial

import asyncpg
import pytest
from aiokafka.partitioner import murmur2
from prometheus_client import REGISTRY

from shared import db, processed
from shared.kafka import Output
from shared.processor import Processor
from shared.service import run_processors
from tests.support import running

pytestmark = pytest.mark.integration
GROUP = "smi-kernel-generations"


async def _slow_echo(topic: str, conn: asyncpg.Connection, records) -> list[list[Output]]:
    for record in records:
        await conn.execute("insert into intake.effects (value) values ($1)", record.value)
    await asyncio.sleep(0.3)  # long enough for the other owner to be in its own transaction
    return [[Output(topic, b"echo:" + r.value, r.key)] for r in records]


def _processor(settings, pool) -> Processor:
    return Processor(service="generations-test", group_id=GROUP, topics=[settings.topics.csp_events],
                     handler=partial(_slow_echo, settings.topics.alerts), pool=pool,
                     settings=settings, schema="intake")


async def _three_records(settings, bus, pool) -> list:
    """The handler's table of effects, and three records on its topic."""
    async with pool.acquire() as conn:
        await conn.execute("create table intake.effects (value bytea)")
    for n in range(3):
        await bus.send(settings.topics.csp_events, f"r{n}".encode(), key=b"k")
    return await bus.read(settings.topics.csp_events, count=3)


def _serve(pool):
    async def serve(settings, stop):
        await run_processors([_processor(settings, pool)], stop)
    return serve


async def test_two_owners_of_a_partition_at_once_apply_each_record_once(settings, bus):
    pool = await db.create_pool(settings.database_url)
    try:
        records = await _three_records(settings, bus, pool)
        # The one an old owner still applies as the new owner starts on the same records:
        first, second = await asyncio.gather(_processor(settings, pool)._apply(records),
                                             _processor(settings, pool)._apply(records))
        third = await _processor(settings, pool)._apply(records[1:])  # and once both are done
        async with pool.acquire() as conn:
            effects = [r["value"] for r in await conn.fetch("select value from intake.effects")]
    finally:
        await pool.close()
    assert sorted(effects) == [b"r0", b"r1", b"r2"], "each effect applied once"
    assert [o.value for o in first] == [o.value for o in second] == [b"echo:r0", b"echo:r1", b"echo:r2"]
    assert [o.value for o in third] == [b"echo:r1", b"echo:r2"]


async def _next_generation(conn: asyncpg.Connection) -> int:
    """The next generation, early enough in a window that it stays the next for seconds."""
    while await conn.fetchval("select extract(epoch from clock_timestamp()) % 10") > 6:
        await asyncio.sleep(0.5)
    return await conn.fetchval("select intake.processed_generation_next()")


async def _saved(conn, generation: int | None = None) -> list[tuple]:
    rows = await conn.fetch('select consumer, topic, partition, "offset" from intake.processed_records'
                            ' where $1::smallint is null or generation = $1 order by 1, 2, 3, 4', generation)
    return [tuple(r) for r in rows]


async def _save(conn, generation: int, *rows: tuple) -> None:
    await conn.executemany('insert into intake.processed_records (consumer, topic, partition, "offset", seq,'
                           ' generation) values ($1, $2, $3, $4, -1, $5)', [(*r, generation) for r in rows])


async def test_the_next_generation_is_emptied_only_once_every_row_in_it_is_committed(settings):
    conn = await asyncpg.connect(settings.database_url)
    reader = await asyncpg.connect(settings.database_url)
    committed = {"a": {("t", 0): 7}, "b": {("t", 1): 3}}

    async def offsets(group: str) -> dict:
        return committed.get(group, {})
    try:
        generation = await _next_generation(conn)
        current = await conn.fetchval("select intake.processed_generation(statement_timestamp())")
        await _save(conn, generation, ("a", "t", 0, 5), ("a", "t", 0, 9), ("b", "t", 1, 2), ("c", "t", 2, 1))
        await _save(conn, current, ("a", "t", 0, 20))
        assert await processed.clear_next_generation(conn, "intake", offsets) == "pruned"
        assert await _saved(conn, generation) == [("a", "t", 0, 9), ("c", "t", 2, 1)], \
            "rows above the committed offset stay, and a group without one keeps its rows"
        committed.update({"a": {("t", 0): 10}, "c": {("t", 2): 2}})
        async with reader.transaction():  # read while the clearing tries
            await reader.fetch("select * from intake.processed_records")
            assert await processed.clear_next_generation(conn, "intake", offsets) == "busy"
        assert await processed.clear_next_generation(conn, "intake", offsets) == "truncated"
        assert await processed.clear_next_generation(conn, "intake", offsets) == "empty"
        assert await _saved(conn) == [("a", "t", 0, 20)], "the current generation is left alone"
    finally:
        await conn.close()
        await reader.close()


def _cleared(how: str) -> float:
    return REGISTRY.get_sample_value("smi_processed_generations_cleared_total",
                                     {"service": "generations-test", "how": how}) or 0.0


async def test_a_running_processor_empties_generations_below_its_committed_offsets(settings, bus, monkeypatch):
    monkeypatch.setattr("shared.processor.CLEAR_EVERY_SECONDS", 0.2)
    pool = await db.create_pool(settings.database_url)
    try:
        async with pool.acquire() as conn:
            await conn.execute("create table intake.effects (value bytea)")
            generation = await _next_generation(conn)
            # Left by an earlier owner: one record below the offsets about to be committed.
            partition = (murmur2(b"k") & 0x7FFFFFFF) % settings.partitions  # where key k goes
            await _save(conn, generation, (GROUP + settings.group_suffix, settings.topics.csp_events, partition, 0))
        truncated = _cleared("truncated")

        async with running(_serve(pool), settings):
            for n in range(20):
                await bus.send(settings.topics.csp_events, f"r{n}".encode(), key=b"k")
                await asyncio.sleep(0.1)
            await bus.read(settings.topics.alerts, count=20)
        async with pool.acquire() as conn:
            left = await _saved(conn, generation)
    finally:
        await pool.close()
    assert _cleared("truncated") > truncated
    assert left == [], "the generation was emptied once the processor's offsets were committed past it"


async def test_saved_outputs_of_the_earlier_layout_are_carried_over(settings):
    templates = sorted((db.REPO_ROOT / "shared" / "migrations" / "templates").glob("*.sql"))
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(templates[0].read_text().replace("{schema}", "legacy"))
        await conn.execute('insert into legacy.processed_records (consumer, topic, partition, "offset", seq,'
                           " out_topic, out_value, out_headers) values ('g', 't', 0, 4, 0, 'out', 'v', '[]'),"
                           " ('g', 't', 0, 6, -1, null, null, null), ('g', 't', 1, 2, 0, 'out', 'w', '[]')")
        await conn.execute(templates[1].read_text().replace("{schema}", "legacy"))
        saved = await conn.fetch('select partition, "offset", out_value from legacy.processed_records order by 1, 2')
        positions = await conn.fetch("select partition, next_offset from legacy.processed_positions order by 1")
    finally:
        await conn.close()
    assert [tuple(r) for r in saved] == [(0, 4, b"v"), (0, 6, None), (1, 2, b"w")]
    assert [tuple(r) for r in positions] == [(0, 7), (1, 3)], "records saved before count as applied"


async def test_a_batch_applied_but_never_committed_keeps_its_saved_outputs_through_a_clearing(settings, bus):
    pool = await db.create_pool(settings.database_url)
    try:
        records = await _three_records(settings, bus, pool)
        owner = _processor(settings, pool)
        await owner._apply(records)  # and dies before its Kafka transaction
        async with pool.acquire() as conn:
            generation = await _next_generation(conn)
            await conn.execute("update intake.processed_records set generation = $1", generation)
        await owner.admin.start()
        try:
            await owner._clear()  # with the group's real committed offsets: none
        finally:
            await owner.admin.close()

        async with running(_serve(pool), settings):
            published = await bus.read(settings.topics.alerts, count=3, settle=1.5)
        async with pool.acquire() as conn:
            effects = [r["value"] for r in await conn.fetch("select value from intake.effects")]
    finally:
        await pool.close()
    assert sorted(effects) == [b"r0", b"r1", b"r2"], "the next owner published the saved outputs"
    assert sorted(r.value for r in published) == [b"echo:r0", b"echo:r1", b"echo:r2"]
    assert _cleared("pruned") >= 1
