"""A housekeeping worker killed in the middle of a run: restarted, it misses no due device and
sends no N8 twice."""
import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.housekeeping.config import app_id
from tests.integration.test_housekeeping_flow import alerted
from tests.integration.test_housekeeping_support import FakeInventory, device_id, pending, write_policy
from tests.support import start_process

pytestmark = pytest.mark.integration
DUE = 3000


async def committed(settings) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=app_id(settings))
    await consumer.start()
    try:
        return sum([await consumer.committed(TopicPartition(settings.topics.device_events, p)) or 0
                    for p in range(settings.partitions)])
    finally:
        await consumer.stop()


async def test_worker_killed_mid_run_misses_nothing_and_alerts_once(settings, bus, tmp_path, monkeypatch):
    monkeypatch.setenv("SMI_HOUSEKEEPING_POLICY_FILE", str(write_policy(tmp_path / "policy.yaml")))
    monkeypatch.setenv("SMI_HOUSEKEEPING_DATA_DIR", str(tmp_path / "faust"))
    devices = [device_id(1000 + n) for n in range(DUE)]
    since = datetime(2023, 5, 1, tzinfo=UTC)
    async with FakeInventory(settings, bus) as inventory:
        await inventory.publish(*(pending(d, "ESME", since) for d in devices))
        worker = start_process("housekeeping", settings, tmp_path / "first.log")
        try:
            deadline = time.monotonic() + 90
            while await committed(settings) < DUE:
                assert time.monotonic() < deadline, "the first worker did not ingest the devices"
                await asyncio.sleep(0.5)
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
