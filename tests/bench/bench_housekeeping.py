"""Housekeeping at national scale: 5,000,000 tracked Pending devices of which 500,000 are due.

The table is put in place the way a worker finds it after years of running: the devices not due
are written straight into the table's changelog, packed as the tracker packs them, and the due
ones arrive as inventory's device events through the tracker. The worker (default store, RocksDB)
restores the changelog, tracks the events, then one run removes every due device. Inventory's
part is played by a fast responder that confirms every removal, so the figures are housekeeping's
own. Then the worker is killed with SIGKILL and started again on its local state.

Measured: restore of the whole changelog with no local state, ingestion rate of device events,
run message to the last RemoveDevice and to the last N8, the worker's peak RSS, and restart to
ready after SIGKILL with the table in place."""
import asyncio
import os
import signal
import tempfile
import time
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2

from services.housekeeping.config import app_id
from services.housekeeping.domain import TrackedDevice
from services.housekeeping.entries import pack
from shared import registry, topics
from shared.kafka import TopicSpec, admin_client, apply_topics
from tests.bench.workload import Record, load_topic, read_arrivals, rss_mb
from tests.support import SUPPLIER, drop_database, isolated_settings, start_process, wait_ready

EVENT = ('{"type":"DeviceAdded","event_id":"e%d","device_id":"%s","device_type":"ESME","status":"Pending",'
         '"status_since":"%s","occurred_at":"%s","notifying_party":"' + SUPPLIER + '",'
         '"notifying_party_kind":"service_user","ever_left_pending":false,"cause":"12.2"}')
REMOVED = ('{"type":"DeviceRemoved","event_id":"r%d","device_id":"%s","device_type":"ESME",'
           '"occurred_at":"%s","notifying_party":"' + SUPPLIER + '","notifying_party_kind":"service_user",'
           '"cause":"RemoveDevice","command_id":"%s","policy_version":"%s","previous_status":"Pending"}')
AS_OF = "2025-06-01T00:00:00+00:00"
DUE_SINCE, YOUNG_SINCE = "2024-01-15T08:00:00+00:00", datetime.fromisoformat("2025-01-15T08:00:00+00:00")


def _device(n: int) -> str:
    return "-".join(f"{b:02X}" for b in (0x00, 0xDB, *n.to_bytes(5, "big"), 0xA2))


def _partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions  # Kafka's default partitioner


def _young_entries(first: int, count: int, partitions: int):
    """Changelog records of devices not yet due, as the tracker would have written them."""
    for n in range(first, first + count):
        device = _device(n)
        kind = "ESME" if n % 2 == 0 else "GSME"
        key = device.encode()
        entry = pack(_partition(key, partitions),
                     TrackedDevice(device, kind, YOUNG_SINCE, SUPPLIER, True, False))
        yield Record(key, entry)


def _due_events(count: int):
    for n in range(count):
        device = _device(n)
        yield Record(device.encode(), (EVENT % (n, device, DUE_SINCE, DUE_SINCE)).encode())


async def _committed(settings, group: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topics.device_events, p) for p in range(settings.partitions)]
        return sum([await consumer.committed(tp) or 0 for tp in tps])
    finally:
        await consumer.stop()


async def _fake_inventory(settings, expected: int) -> None:
    """Confirm every RemoveDevice with a DeviceRemoved, as fast as it can."""
    consumer = AIOKafkaConsumer(settings.topics.inventory_commands, bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id="bench-inventory", auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=20,
                                max_batch_size=512 * 1024)
    await consumer.start()
    await producer.start()
    done = 0
    try:
        while done < expected:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for record in [r for part in batch.values() for r in part]:
                command = orjson.loads(record.value)
                value = REMOVED % (done, command["device_id"], command["as_of"], command["command_id"],
                                   command["policy_version"])
                await producer.send(settings.topics.device_events, value.encode(), key=record.key)
                done += 1
    finally:
        await producer.stop()
        await consumer.stop()


async def _last_arrival(settings, topic: str, expected: int, since: float, timeout: float) -> float:
    """Seconds from `since` (epoch) to the create time of the expected-th record of the topic."""
    arrivals = await read_arrivals(settings.kafka_bootstrap_servers, [topic], expected, timeout)
    return max(since, arrivals.last_ms / 1000) - since


async def _create_changelog(settings) -> str:
    [changelog] = [t for t in registry.TOPICS if t.role == "table_changelog"]
    name = changelog.name(settings.topics, app_id(settings))
    admin = admin_client(settings)
    await admin.start()
    try:
        await apply_topics(admin, [TopicSpec(name, settings.partitions, topics.configs("table_changelog", settings))])
    finally:
        await admin.close()
    return name


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    total, due = max(10_000, int(5_000_000 * scale)), max(1_000, int(500_000 * scale))
    settings = await isolated_settings(bootstrap, database_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-housekeeping-"))
    (workdir / "policy.yaml").write_text('version: "bench-1"\nrule: all-pending\ndefault_months: 12\n'
                                         'months_by_type: {}\nexcluded_types: [CHF, GPF]\n')
    os.environ.update({"SMI_HOUSEKEEPING_POLICY_FILE": str(workdir / "policy.yaml"),
                       "SMI_HOUSEKEEPING_DATA_DIR": str(workdir / "faust")})
    changelog = await _create_changelog(settings)
    await load_topic(bootstrap, changelog, _young_entries(due, total - due, settings.partitions), linger_ms=50,
                     max_batch_size=1024 * 1024)
    await load_topic(bootstrap, settings.topics.device_events, _due_events(due), linger_ms=50,
                     max_batch_size=1024 * 1024)

    log = workdir / "housekeeping.log"
    process = start_process("housekeeping", settings, log)
    peaks: list[float] = []
    sampler = asyncio.create_task(_sample(process.pid, peaks))
    try:
        # ready: the table restored, the alert relay consuming, the API listening
        restore = await wait_ready(process.metrics_port, 1800, process)
        started = time.monotonic()
        while (done := await _committed(settings, app_id(settings))) < due:
            if process.poll() is not None or time.monotonic() - started > 1200:
                raise RuntimeError(f"ingestion stalled at {done} of {due}")
            await asyncio.sleep(0.5)
        ingestion = due / max(time.monotonic() - started, 1e-3)

        inventory = asyncio.create_task(_fake_inventory(settings, due))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        run_sent = time.time()
        await producer.send_and_wait(settings.topics.housekeeping_runs, orjson.dumps({"as_of": AS_OF}))
        await producer.stop()
        commands = await _last_arrival(settings, settings.topics.inventory_commands, due, run_sent, 600)
        alerts = await _last_arrival(settings, settings.topics.alerts, due, run_sent, 600)
        await inventory
        sampler.cancel()
        peak = max(peaks, default=0.0)

        await asyncio.sleep(5)  # the removals reach the table before the worker dies
        process.send_signal(signal.SIGKILL)
        process.wait(60)
        process = start_process("housekeeping", settings, log)
        restart = await wait_ready(process.metrics_port, 1800, process)
    finally:
        sampler.cancel()
        process.terminate()
        process.wait(60)
        await drop_database(settings, database_url)
    held = f"{total} devices tracked, {due} due, {settings.partitions} partitions, one worker"
    return [
        {"name": "housekeeping_restore", "value": round(restore, 1), "unit": "s",
         "note": f"start to ready with no local state: the whole changelog ({total - due} entries) into RocksDB"},
        {"name": "housekeeping_ingestion", "value": round(ingestion), "unit": "events/s", "target": ">= 5000",
         "note": f"{due} DeviceAdded events into a table of {total - due}, one worker"},
        {"name": "housekeeping_run_commands", "value": round(commands, 1), "unit": "s", "target": "<= 60",
         "note": f"run message to the last of {due} RemoveDevice commands, {held}"},
        {"name": "housekeeping_run_alerts", "value": round(alerts, 1), "unit": "s", "target": "<= 120",
         "note": f"run message to the last of {due} N8 alerts (inventory played by a fast responder)"},
        {"name": "housekeeping_worker_rss", "value": round(peak), "unit": "MB", "target": "< 1536",
         "note": "peak VmRSS of the housekeeping process: restore, ingestion and run"},
        {"name": "housekeeping_restart", "value": round(restart, 1), "unit": "s", "target": "< 30",
         "note": f"SIGKILL, then start to ready with the table in place ({total} entries less the removed)"},
    ]


async def _sample(pid: int, peaks: list[float]) -> None:
    while True:
        peaks.append(rss_mb(pid))
        await asyncio.sleep(0.5)
