"""What the broker's retention may delete: nothing the platform was given, however far back its
records are dated. The test broker checks retention every second (tests/conftest.py)."""
import asyncio
import time

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.housekeeping.config import app_id
from services.intake.app import serve as intake
from services.inventory.app import serve as inventory
from shared import kafka, registry, topics
from shared.duis import build
from shared.kafka import TopicSpec
from shared.responses import per_party_topics
from shared.settings import Settings
from tests.integration.test_housekeeping_support import housekeeping
from tests.support import SUPPLIER, drop_database, isolated_settings, running

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS            # Kafka's own default retention, which the platform's topics had
SEGMENT_BYTES = 1024 * 1024     # the smallest segment Kafka 4 allows: records span several
RECORDS = 9_000                 # about 3 MiB of JSON pre-notifications: three segments and more


def prenotifications(count: int) -> list[bytes]:
    return [build.request(SUPPLIER, n, "12.2", build.prenotification(build.device_id(n)), "json")
            for n in range(count)]


async def produce(bootstrap: str, topic: str, values: list[bytes], timestamp_ms: int) -> None:
    """As a DCC User may: acks=all, keyed by the originator (one partition), dated in the past."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value, key=SUPPLIER.encode(), timestamp_ms=timestamp_ms,
                                headers=[("content-type", b"application/json")])
        await producer.flush()
    finally:
        await producer.stop()


async def log_start(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """The first offset still held, per partition that holds records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        return {tp.partition: starts[tp] for tp in tps if ends[tp] > 0}
    finally:
        await consumer.stop()


async def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        records, deadline = [], time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for part in batch.values() for r in part]
        return records
    finally:
        await consumer.stop()


async def topic_configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = kafka.admin_client(Settings(kafka_bootstrap_servers=bootstrap))
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names])
    finally:
        await admin.close()
    found = {}
    for response in described:
        for code, message, _type, name, entries in response.resources:
            assert code == 0, f"{name}: {message}"
            found[name] = {key: value for key, value, *_ in entries}
    return found


async def until(holds, bootstrap: str, names: list[str], timeout: float = 10.0) -> dict[str, dict[str, str]]:
    """The topics' configs once `holds` is true of them: brokers apply a change moments after
    the controller accepted it."""
    deadline = time.monotonic() + timeout
    while not holds(configs := await topic_configs(bootstrap, names)):
        assert time.monotonic() < deadline, configs
        await asyncio.sleep(0.1)
    return configs


async def retention_check_interval(bootstrap: str) -> float:
    admin = kafka.admin_client(Settings(kafka_bootstrap_servers=bootstrap))
    await admin.start()
    try:
        node = (await admin.describe_cluster())["brokers"][0]["node_id"]
        [response] = await admin.describe_configs([ConfigResource(
            ConfigResourceType.BROKER, str(node), {"log.retention.check.interval.ms": None})])
    finally:
        await admin.close()
    [(_code, _message, _type, _name, entries)] = response.resources
    return int(entries[0][1]) / 1000


async def test_backdated_requests_outlive_the_retention_check(settings, bus, kafka_bootstrap):
    """A month-old timestamp on every request: on a topic kept by time the retention check deletes
    the records unread, on the platform's requests topic it deletes none, and each is answered."""
    interval = await retention_check_interval(kafka_bootstrap)
    assert interval <= 5, f"the test broker checks retention every {interval}s: restart it with " \
                          "tests/conftest.py's TEST_BROKER_OVERRIDES"
    requests = settings.topics.requests
    admin = kafka.admin_client(settings)
    await admin.start()
    try:
        await kafka.align_configs(admin, [TopicSpec(requests, settings.partitions, {
            **topics.configs("requests", settings), "segment.bytes": str(SEGMENT_BYTES)})])
        # The control: a topic configured as the platform's were, by time.
        control = f"{requests}.timed"
        await kafka.apply_topics(admin, [TopicSpec(control, 1, {
            "retention.ms": str(WEEK_MS), "segment.bytes": str(SEGMENT_BYTES)})])
    finally:
        await admin.close()
    values = prenotifications(RECORDS)
    month_ago = int(time.time() * 1000) - 30 * DAY_MS
    await asyncio.gather(produce(kafka_bootstrap, requests, values, month_ago),
                         produce(kafka_bootstrap, control, values, month_ago))

    deadline = time.monotonic() + 30 + 20 * interval  # the broker's first check waits 30 s
    while (await log_start(kafka_bootstrap, control, 1)).get(0, 0) == 0:
        assert time.monotonic() < deadline, "the retention check never deleted the control's segments"
        await asyncio.sleep(interval)
    await asyncio.sleep(3 * interval)  # more checks, now that they run

    assert set((await log_start(kafka_bootstrap, requests, settings.partitions)).values()) == {0}
    records = await read_all(kafka_bootstrap, requests, RECORDS)
    assert len(records) == RECORDS
    assert sorted(r.value for r in records) == sorted(values)
    assert {r.timestamp for r in records} == {month_ago}

    async with running(intake, settings), running(inventory, settings):
        responses = await bus.read(settings.topics.responses, count=RECORDS, timeout=240)
    answered = {orjson.loads(r.value)["Header"]["RequestID"] for r in responses}
    assert answered == {orjson.loads(v)["Header"]["RequestID"] for v in values}


async def test_every_topic_the_platform_creates_keeps_its_records(kafka_bootstrap, database_url, tmp_path):
    """Registry, per-party and housekeeping's faust topics: none is deleted by time or size."""
    settings = await isolated_settings(kafka_bootstrap, database_url, topic_mode="per-party")
    try:
        async with housekeeping(settings, tmp_path):
            await asyncio.sleep(1)
        suffix = settings.topics.requests.rpartition(".")[2]
        admin = kafka.admin_client(settings)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if suffix in t or t.startswith(app_id(settings))]
        finally:
            await admin.close()
        prefix = app_id(settings)
        expected = {**registry.topic_roles(settings),
                    **{name: "party_answers" for name in per_party_topics(settings, [SUPPLIER])},
                    f"{prefix}-pending-devices-changelog": "table_changelog",
                    f"{prefix}-partition-work": "partition_work",
                    f"{prefix}-__assignor-__leader": "faust_leader"}
        assert set(expected) <= set(names)
        assert len(names) > len(registry.topic_roles(settings)) + 3  # every party's answer topics too
        configs = await topic_configs(kafka_bootstrap, names)
        for name in names:
            assert configs[name]["retention.ms"] == "-1", name
            assert configs[name]["retention.bytes"] == "-1", name
        for name, role in expected.items():
            wanted = topics.configs(role, settings)
            assert {k: configs[name][k] for k in wanted} == wanted, name
        assert configs[f"{prefix}-pending-devices-changelog"]["cleanup.policy"] == "compact"
    finally:
        await drop_database(settings, database_url)


async def test_preparation_gives_existing_topics_the_platform_configs(kafka_bootstrap, database_url):
    """A cluster prepared before: its topics kept records a week, and one carries an operator's
    override of its own, which stays."""
    base = await isolated_settings(kafka_bootstrap, database_url)
    try:
        requests = base.topics.requests
        admin = kafka.admin_client(base)
        await admin.start()
        try:
            for response in await admin.alter_configs([ConfigResource(
                    ConfigResourceType.TOPIC, requests,
                    {"retention.ms": str(WEEK_MS), "max.message.bytes": "2000000"})]):
                assert [code for code, *_ in response.resources] == [0]
            await until(lambda c: c[requests]["retention.ms"] == str(WEEK_MS), kafka_bootstrap, [requests])
            production = base.model_copy(update={"input_timestamp_type": "LogAppendTime"})
            assert await kafka.ensure_topics(production) == []
        finally:
            await admin.close()
        configs = await until(lambda c: c[requests]["retention.ms"] == "-1",
                              kafka_bootstrap, list(registry.topic_roles(base)))
        assert configs[requests]["max.message.bytes"] == "2000000"
        assert configs[requests]["message.timestamp.type"] == "LogAppendTime"
        assert configs[base.topics.csp_events]["message.timestamp.type"] == "LogAppendTime"
        assert configs[base.topics.responses]["message.timestamp.type"] == "CreateTime"
        assert {c["retention.ms"] for c in configs.values()} == {"-1"}
    finally:
        await drop_database(base, database_url)
