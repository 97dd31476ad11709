"""The kernel's guarantee: each input's effect once, its outputs published once."""
import asyncio
from functools import partial

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import murmur2
from prometheus_client import REGISTRY

from shared import db, kafka
from shared.kafka import Output
from shared.processor import Processor
from shared.service import run_processors
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


def _partition(key: bytes, settings) -> int:
    """The partition a keyed output goes to, as Kafka's default partitioner picks it."""
    return (murmur2(key) & 0x7FFFFFFF) % settings.partitions


def _stage_counts(service: str = "test") -> dict[str, float]:
    stages = ("fetch_wait", "database", "queued", "kafka_send", "kafka_offsets", "kafka_commit", "plain_commit")
    return {stage: REGISTRY.get_sample_value("smi_stage_duration_seconds_count",
                                             {"service": service, "stage": stage}) or 0.0 for stage in stages}


def _serve(pool, make=_processor):
    """A service running the one processor that `make` builds."""
    async def serve(settings, stop):
        await run_processors([make(settings, pool)], stop)
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
        stages_before = _stage_counts()
        async with running(_serve(pool), settings):
            published = await bus.read(settings.topics.alerts, count=3, settle=1.5)
            letters = await bus.read(settings.topics.dead_letters, count=1, settle=0.5)
        async with pool.acquire() as conn:
            effects = [r["value"] for r in await conn.fetch("select value from intake.effects")]
    finally:
        await pool.close()
    assert sorted(r.value for r in published) == [b"echo:r0", b"echo:r1", b"echo:r2"]
    timed = {stage for stage, count in _stage_counts().items() if count > stages_before[stage]}
    assert {"fetch_wait", "database", "queued", "kafka_send", "kafka_offsets", "kafka_commit"} <= timed
    assert sorted(effects) == [b"r0", b"r1", b"r2"], "each effect applied once"
    assert [r.value for r in letters] == [b"boom"]
    assert dict(letters[0].headers)["dlq-reason"] == b"the handler failed on this record"


async def _first_sighting(topic: str, conn: asyncpg.Connection, records) -> list[list[Output]]:
    """Idempotent by itself: a value seen before changes nothing and produces nothing."""
    outputs = []
    for record in records:
        new = await conn.fetchval("insert into intake.effects (value) values ($1) on conflict do nothing"
                                  " returning value", record.value)
        outputs.append([Output(topic, b"first:" + record.value)] if new and record.value.startswith(b"loud") else [])
    return outputs


def _quiet_processor(settings, pool) -> Processor:
    return Processor(service="test", group_id="smi-kernel-quiet", topics=[settings.topics.csp_events],
                     handler=partial(_first_sighting, settings.topics.alerts), pool=pool,
                     settings=settings, schema="intake", save_empty=False)


async def test_records_that_produce_nothing_are_committed_plainly_and_not_saved(settings, bus):
    pool = await db.create_pool(settings.database_url)
    try:
        async with pool.acquire() as conn:
            await conn.execute("create table intake.effects (value bytea primary key)")
        for value in (b"quiet0", b"quiet1", b"loud2", b"quiet3"):
            await bus.send(settings.topics.csp_events, value, key=b"k")
        records = await bus.read(settings.topics.csp_events, count=4)
        # Applied, then the consumer dies before publishing: only the loud record was saved.
        await _quiet_processor(settings, pool)._apply(records)
        async with pool.acquire() as conn:
            saved = await conn.fetch("select \"offset\", seq from intake.processed_records"
                                     " where consumer = $1", "smi-kernel-quiet" + settings.group_suffix)
        assert [(r["offset"], r["seq"]) for r in saved] == [(2, 0)], "only the record that produced output"
        async with running(_serve(pool, _quiet_processor), settings):  # the next owner publishes the saved output
            assert [r.value for r in await bus.read(settings.topics.alerts, count=1)] == [b"first:loud2"]
        plain_commits = _stage_counts()["plain_commit"]
        async with running(_serve(pool, _quiet_processor), settings):  # and a restart redoes nothing
            await bus.send(settings.topics.csp_events, b"quiet4", key=b"k")
            published = await bus.read(settings.topics.alerts, count=1, settle=2.0)
            await asyncio.sleep(1.0)
        async with pool.acquire() as conn:
            effects = await conn.fetchval("select count(*) from intake.effects")
    finally:
        await pool.close()
    assert [r.value for r in published] == [b"first:loud2"]
    assert effects == 5
    assert _stage_counts()["plain_commit"] > plain_commits, "a quiet batch's plain commit is timed"
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id="smi-kernel-quiet" + settings.group_suffix, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.topics.csp_events, p) for p in range(settings.partitions)]
        ends = await consumer.end_offsets(partitions)
        committed = {tp: await consumer.committed(tp) or 0 for tp in partitions}
    finally:
        await consumer.stop()
    assert committed == ends, "every offset committed, the quiet batches' plainly"


async def test_a_busy_quiet_stream_commits_now_and_then_and_everything_once_it_goes_quiet(settings, bus):
    source, group = settings.topics.csp_events, "smi-kernel-quiet" + settings.group_suffix
    tp = TopicPartition(source, _partition(b"k", settings))
    pool = await db.create_pool(settings.database_url)
    try:
        async with pool.acquire() as conn:
            await conn.execute("create table intake.effects (value bytea primary key)")
        before = _stage_counts()
        async with running(_serve(pool, _quiet_processor), settings):
            for n in range(40):  # about a second and a half of batches of one record or two
                await bus.send(source, b"quiet%d" % n, key=b"k")
                await asyncio.sleep(0.04)
            for _ in range(50):  # the first quiet fetch commits what is left, the service still running
                if (committed := await _committed(settings, group, tp)) == 40:
                    break
                await asyncio.sleep(0.2)
            after = _stage_counts()
    finally:
        await pool.close()
    assert committed == 40, "every quiet record's offset committed while the service runs"
    batches, commits = after["database"] - before["database"], after["plain_commit"] - before["plain_commit"]
    assert batches >= 15, f"the stream came in many batches ({batches})"
    assert commits <= 4, f"{commits} plain commits for {batches} quiet batches: at most one a second, and one once quiet"


async def test_outputs_are_published_in_order_on_their_key_partitions(settings, bus):
    topic = settings.topics.alerts
    # More than one batch's worth for each partition, so that batches follow each other.
    outputs = [Output(topic, b"%05d" % n + b"." * 1500, b"key-%d" % (n % 40)) for n in range(3000)]
    producer = kafka.transactional_producer(settings, "smi-kernel-batched" + settings.group_suffix)
    await producer.start()
    try:
        async with producer.transaction():
            await kafka.send_batched(producer, outputs)
    finally:
        await producer.stop()
    records = await bus.read(topic, count=len(outputs), timeout=60)
    assert len(records) == len(outputs)
    for record in records:
        assert record.partition == _partition(record.key, settings)
    by_key: dict[bytes, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key.setdefault(record.key, []).append(int(record.value[:5]))
    assert all(numbers == sorted(numbers) for numbers in by_key.values()), "each key's outputs in order"
    assert sum(map(len, by_key.values())) == 3000


async def test_a_producer_broken_mid_transaction_is_replaced(settings, bus):
    """When the broker goes away mid-transaction, aiokafka's dying sender marks the producer's
    transactions fatal (as done here by hand): the publisher starts a new producer, whose start
    aborts what the old one left open, and publishes with it."""
    topic, source = settings.topics.alerts, settings.topics.csp_events
    group = "smi-kernel-renew" + settings.group_suffix
    await bus.send(source, b"input", b"k")
    publisher = kafka.TransactionalPublisher(settings, group)
    await publisher.start()
    try:
        broken = publisher.producer
        await broken.begin_transaction()
        await (await broken.send(topic, b"left open", b"k"))
        broken._txn_manager.fatal_error(KafkaConnectionError("the broker went away"))
        partition = _partition(b"k", settings)
        offsets = {TopicPartition(source, partition): 1}
        await asyncio.wait_for(publisher.publish([Output(topic, b"published", b"k")], offsets, group), 60)
        assert broken not in publisher.producers, "replaced, not merely passed over"
    finally:
        await publisher.stop()
    records = await bus.read(topic, count=1, settle=2.0)
    assert [r.value for r in records] == [b"published"], "the open transaction aborted, the new one committed"
    assert await _committed(settings, group, TopicPartition(source, partition)) == 1


async def test_transactions_taking_turns_over_producers_commit_in_the_order_published(settings, bus):
    """Each transaction begins on the producer after the last one's, once that one committed: the
    outputs come out in order and the offsets committed last are those published last, although
    two transactional ids commit them (the group coordinator keeps the offset written last)."""
    topic, source = settings.topics.alerts, settings.topics.csp_events
    group = "smi-kernel-turns" + settings.group_suffix
    partition = _partition(b"k", settings)
    publisher = kafka.TransactionalPublisher(settings, group)
    await publisher.start()
    try:
        assert len({p._txn_manager.transactional_id for p in publisher.producers}) == 2
        used = []
        for n in range(1, 7):
            used.append(publisher.producer)
            await asyncio.wait_for(publisher.publish(
                [Output(topic, b"%d" % n, b"k")], {TopicPartition(source, partition): n}, group), 60)
        assert used[0] is not used[1] and used[0] is used[2], "the producers take turns"
    finally:
        await publisher.stop()
    records = await bus.read(topic, count=6, settle=2.0)
    assert [r.value for r in records] == [b"%d" % n for n in range(1, 7)]
    assert await _committed(settings, group, TopicPartition(source, partition)) == 6


async def _committed(settings, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


async def test_records_arriving_while_a_batch_is_applied_all_come_in_the_next_batch(settings, bus):
    """The next fetch is in flight while a batch is applied: every record that reaches the broker
    meanwhile is in the next batch, not the first of them there and the rest a batch later."""
    source, batches, sent = settings.topics.csp_events, [], asyncio.Event()

    async def slow_first_batch(conn, records):
        batches.append([r.value for r in records])
        if len(batches) == 1:
            await sent.wait()
            await asyncio.sleep(1.0)  # time for the last of them to be fetched
        return [[] for _ in records]

    def make(settings, pool):
        return Processor(service="test", group_id="smi-kernel-prefetch", topics=[source],
                         handler=slow_first_batch, pool=pool, settings=settings, schema="intake")
    later = [f"later{n}".encode() for n in range(5)]
    pool = await db.create_pool(settings.database_url)
    try:
        async with running(_serve(pool, make), settings):
            await bus.send(source, b"first", key=b"k")
            await bus.flush()
            for _ in range(200):
                if batches:
                    break
                await asyncio.sleep(0.1)
            for value in later:  # one produce request each, while the first batch is applied
                await bus.send(source, value, key=b"k")
                await bus.flush()
                await asyncio.sleep(0.05)
            sent.set()
            for _ in range(200):
                if sum(map(len, batches)) == 6:
                    break
                await asyncio.sleep(0.1)
    finally:
        await pool.close()
    assert batches == [[b"first"], later]


async def test_a_consumer_that_gathers_takes_a_stream_in_few_batches(settings, bus):
    """With `fetch_min_bytes` above what arrives, the broker holds each fetch for the whole fetch
    wait: a stream comes in a batch per wait, not in a batch per record."""
    source, batches = settings.topics.csp_events, []

    async def note(conn, records):
        batches.append(len(records))
        return [[] for _ in records]

    def make(settings, pool):
        return Processor(service="test", group_id="smi-kernel-gather", topics=[source], handler=note,
                         pool=pool, settings=settings, schema="intake", save_empty=False,
                         fetch_min_bytes=1024 * 1024)

    async def handled(count: int) -> None:
        for _ in range(200):
            if sum(batches) == count:
                return
            await asyncio.sleep(0.05)
    pool = await db.create_pool(settings.database_url)
    try:
        async with running(_serve(pool, make), settings):
            await bus.send(source, b"first", key=b"k")
            await handled(1)  # assigned and fetching
            began = asyncio.get_running_loop().time()
            for n in range(40):  # one produce request each
                await bus.send(source, b"gathered%d" % n, key=b"k")
                await bus.flush()
            spread = asyncio.get_running_loop().time() - began
            await handled(41)
    finally:
        await pool.close()
    assert sum(batches) == 41
    waits = spread / (settings.fetch_max_wait_ms / 1000)
    assert len(batches) - 1 <= waits + 2, f"{len(batches) - 1} batches over {spread:.2f} s: {waits:.1f} fetch waits"
