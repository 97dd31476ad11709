"""A run decides on a table that holds every device event committed before the run was asked for,
also right after a restart: a table of 100,000 entries to restore, and a backlog of device events
(due pre-notifications among them) committed while the worker was down."""
import signal
from collections import Counter
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest

from tests.bench.workload import Record, load_topic
from tests.integration.test_housekeeping_flow import alerted
from tests.integration.test_housekeeping_support import (FakeInventory, device_id, pending, wait_ingested,
                                                         write_policy)
from tests.support import SUPPLIER, start_process, wait_ready

pytestmark = pytest.mark.integration
SEEDED, BACKLOG, DUE = 100_000, 20_000, 300
AS_OF = "2025-03-01T00:00:00Z"
DUE_SINCE = datetime(2024, 1, 2, tzinfo=UTC)      # 14 months before the run
YOUNG_SINCE = "2024-04-01T00:00:00+00:00"          # 11 months: never due at this run
YOUNG = ('{"type":"DeviceAdded","event_id":"y%d","device_id":"%s","device_type":"ESME","status":"Pending",'
         '"status_since":"' + YOUNG_SINCE + '","occurred_at":"' + YOUNG_SINCE + '","notifying_party":"'
         + SUPPLIER + '","notifying_party_kind":"service_user","ever_left_pending":false,"cause":"12.2"}')


def young(first: int, count: int):
    for n in range(first, first + count):
        device = device_id(n, "00-DC")
        yield Record(device.encode(), (YOUNG % (n, device)).encode())


@pytest.mark.parametrize("stop, store", [(signal.SIGTERM, "memory://"), (signal.SIGKILL, "memory://"),
                                         (signal.SIGKILL, "rocksdb://")],
                         ids=["stopped", "killed", "killed-rocksdb"])
async def test_run_sent_at_restart_sees_the_events_committed_while_down(settings, bus, tmp_path,
                                                                        monkeypatch, stop, store):
    monkeypatch.setenv("SMI_HOUSEKEEPING_TABLE_STORE", store)
    monkeypatch.setenv("SMI_HOUSEKEEPING_POLICY_FILE", str(write_policy(tmp_path / "policy.yaml")))
    monkeypatch.setenv("SMI_HOUSEKEEPING_DATA_DIR", str(tmp_path / "faust"))
    bootstrap, topic = settings.kafka_bootstrap_servers, settings.topics.device_events
    due = [device_id(n, "00-DD") for n in range(DUE)]
    await load_topic(bootstrap, topic, young(0, SEEDED), linger_ms=50, max_batch_size=1024 * 1024)
    worker = start_process("housekeeping", settings, tmp_path / "first.log")
    try:
        await wait_ingested(settings, SEEDED, 240)
    finally:
        worker.send_signal(stop)
        worker.wait(60)
    async with FakeInventory(settings, bus) as inventory:
        # While the worker is down: a backlog, then the due pre-notifications behind it.
        await load_topic(bootstrap, topic, young(SEEDED, BACKLOG), linger_ms=50, max_batch_size=1024 * 1024)
        await inventory.publish(*(pending(d, "ESME", DUE_SINCE) for d in due))
        worker = start_process("housekeeping", settings, tmp_path / "second.log")
        try:
            await wait_ready(worker.metrics_port, 240, worker)  # the table restored
            await bus.send(settings.topics.housekeeping_runs, orjson.dumps({"as_of": AS_OF}))
            alerts = await bus.read(settings.topics.alerts, count=DUE, timeout=240, settle=5)
        finally:
            worker.terminate()
            worker.wait(60)
    keys = Counter(alerted([a]).popitem()[0] for a in alerts)
    assert set(keys) == set(due), f"{len(set(due) - set(keys))} due devices not removed"
    assert max(keys.values()) == 1
    assert {c.device_id for c in inventory.commands} == set(due)  # none early
    assert not any(d in inventory.devices for d in due)
    conn = await asyncpg.connect(settings.database_url)
    try:
        runs = await conn.fetch("select partition, events_covered from housekeeping.runs")
    finally:
        await conn.close()
    assert sorted(r["partition"] for r in runs) == list(range(settings.partitions))
    assert all(r["events_covered"] is not None for r in runs)
