"""A housekeeping worker killed in the middle of a run: restarted, it misses no due device and
sends no N8 twice. A worker stopped while it restores its table stops at once and leaves its
consumer groups. A new worker group starts from committed offsets, never from none."""
import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import RecordsToDelete

from services.housekeeping.config import app_id
from services.housekeeping.faust_safety import commit_log_starts
from shared.kafka import admin_client
from tests.bench.workload import load_topic
from tests.integration.test_housekeeping_flow import alerted
from tests.integration.test_housekeeping_support import (FakeInventory, device_id, pending, wait_ingested,
                                                         write_policy)
from tests.support import start_process

pytestmark = pytest.mark.integration
DUE = 3000


async def test_worker_killed_mid_run_misses_nothing_and_alerts_once(settings, bus, tmp_path, monkeypatch):
    monkeypatch.setenv("SMI_HOUSEKEEPING_POLICY_FILE", str(write_policy(tmp_path / "policy.yaml")))
    monkeypatch.setenv("SMI_HOUSEKEEPING_DATA_DIR", str(tmp_path / "faust"))
    devices = [device_id(1000 + n) for n in range(DUE)]
    since = datetime(2023, 5, 1, tzinfo=UTC)
    async with FakeInventory(settings, bus) as inventory:
        await inventory.publish(*(pending(d, "ESME", since) for d in devices))
        worker = start_process("housekeeping", settings, tmp_path / "first.log")
        try:
            await wait_ingested(settings, DUE, 90)
            deadline = time.monotonic() + 90
            await bus.send(settings.topics.housekeeping_runs,
                           orjson.dumps({"as_of": "2025-03-01T00:00:00Z"}))
            await bus.flush()
            while not inventory.commands:
                assert time.monotonic() < deadline, "the run did not start"
                await asyncio.sleep(0.01)
        finally:
            worker.kill()
            worker.wait(10)
        removed_before_restart = len(inventory.commands)
        worker = start_process("housekeeping", settings, tmp_path / "second.log")
        try:
            alerts = await bus.read(settings.topics.alerts, count=DUE, timeout=120, settle=5)
        finally:
            worker.terminate()
            worker.wait(30)
    assert 0 < removed_before_restart
    keys = Counter(alerted([a]).popitem()[0] for a in alerts)
    assert len(alerts) == DUE
    assert set(keys) == set(devices)
    assert max(keys.values()) == 1
    assert not any(d in inventory.devices for d in devices)


async def test_stopped_while_restoring_its_table_it_stops_and_leaves_its_groups(settings, tmp_path, monkeypatch):
    from tests.integration.test_housekeeping_catch_up import young
    monkeypatch.setenv("SMI_HOUSEKEEPING_POLICY_FILE", str(write_policy(tmp_path / "policy.yaml")))
    monkeypatch.setenv("SMI_HOUSEKEEPING_DATA_DIR", str(tmp_path / "faust"))
    seeded = 60_000
    await load_topic(settings.kafka_bootstrap_servers, settings.topics.device_events, young(0, seeded),
                     linger_ms=50, max_batch_size=1024 * 1024)
    worker = start_process("housekeeping", settings, tmp_path / "first.log")
    try:
        await wait_ingested(settings, seeded, 180)
    finally:
        worker.terminate()
        worker.wait(60)
    log = tmp_path / "second.log"
    # its local state lost, the worker restores the whole changelog: a stop must not wait for that
    monkeypatch.setenv("SMI_HOUSEKEEPING_DATA_DIR", str(tmp_path / "faust-lost"))
    worker = start_process("housekeeping", settings, log)
    deadline = time.monotonic() + 120
    try:
        while "Restoring state from changelog" not in (log.read_text() if log.exists() else ""):
            assert worker.poll() is None and time.monotonic() < deadline, "no restore began"
            await asyncio.sleep(0.05)
        asked = time.monotonic()
        worker.terminate()
        worker.wait(30)
        stopped_after = time.monotonic() - asked
        assert stopped_after < 5, f"stopped {stopped_after:.1f}s after SIGTERM"
        assert "Worker ready" not in log.read_text()  # it was stopped mid-restore
    finally:
        worker.kill()
        worker.wait(10)
    admin = admin_client(settings)
    await admin.start()
    try:
        groups = [await admin.describe_consumer_groups([group])  # one at a time: aiokafka misreads two
                  for group in (app_id(settings), f"{app_id(settings)}-alerts")]
    finally:
        await admin.close()
    assert worker.returncode == 0
    assert [len(g[0].groups[0][5]) for g in groups] == [0, 0]  # no member left behind


async def test_a_new_group_gets_the_log_starts_committed_and_an_old_one_keeps_its_offsets(settings):
    topic, group = settings.topics.device_events, f"{app_id(settings)}-new"
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for _ in range(3):
            await producer.send_and_wait(topic, b"{}", partition=0)
    finally:
        await producer.stop()
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=2)})
        assert await commit_log_starts(settings, group, [topic]) == settings.partitions
        first = await admin.list_consumer_group_offsets(group)
        assert await commit_log_starts(settings, group, [topic]) == 0  # the group has offsets now
        again = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert {tp.partition: o.offset for tp, o in first.items()} == {0: 2} | {p: 0 for p in range(1, settings.partitions)}
    assert again == first
