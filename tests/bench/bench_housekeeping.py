"""Housekeeping at scale: device events into the faust table, then one run over every tracked
Pending device (a tenth of them due). Inventory's part is played by a fast responder that
confirms every removal, so the figures are housekeeping's own. Measured: ingestion rate, time
from the run message to the last RemoveDevice and to the last N8, and the worker's peak RSS."""
import asyncio
import os
import tempfile
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.housekeeping.config import app_id
from tests.bench.workload import Record, load_topic, read_arrivals, rss_mb
from tests.support import SUPPLIER, drop_database, isolated_settings, start_process

EVENT = ('{"type":"DeviceAdded","event_id":"e%d","device_id":"%s","device_type":"%s","status":"Pending",'
         '"status_since":"%s","occurred_at":"%s","notifying_party":"' + SUPPLIER + '",'
         '"notifying_party_kind":"service_user","ever_left_pending":false,"cause":"12.2"}')
REMOVED = ('{"type":"DeviceRemoved","event_id":"r%d","device_id":"%s","device_type":"ESME",'
           '"occurred_at":"%s","notifying_party":"' + SUPPLIER + '","notifying_party_kind":"service_user",'
           '"cause":"RemoveDevice","command_id":"%s","policy_version":"%s","previous_status":"Pending"}')
AS_OF = "2025-06-01T00:00:00+00:00"
DUE_SINCE, YOUNG_SINCE = "2024-01-15T08:00:00+00:00", "2025-01-15T08:00:00+00:00"


def _device(n: int) -> str:
    return "-".join(f"{b:02X}" for b in (0x00, 0xDB, *n.to_bytes(5, "big"), 0xA2))


def _device_events(total: int, due: int):
    for n in range(total):
        device = _device(n)
        since = DUE_SINCE if n % (total // due) == 0 else YOUNG_SINCE
        kind = "ESME" if n % 2 == 0 else "GSME"
        value = (EVENT % (n, device, kind if since == YOUNG_SINCE else "ESME", since, since)).encode()
        yield Record(device.encode(), value)


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


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    total, due = max(10_000, int(2_000_000 * scale)), max(1_000, int(200_000 * scale))
    settings = await isolated_settings(bootstrap, database_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-housekeeping-"))
    (workdir / "policy.yaml").write_text('version: "bench-1"\nrule: all-pending\ndefault_months: 12\n'
                                         'months_by_type: {}\nexcluded_types: [CHF, GPF]\n')
    os.environ.update({"SMI_HOUSEKEEPING_POLICY_FILE": str(workdir / "policy.yaml"),
                       "SMI_HOUSEKEEPING_DATA_DIR": str(workdir / "faust")})
    await load_topic(bootstrap, settings.topics.device_events, _device_events(total, due), linger_ms=50,
                     max_batch_size=1024 * 1024)

    process = start_process("housekeeping", settings, workdir / "housekeeping.log")
    peak = 0.0
    try:
        started, first_progress = time.monotonic(), None
        while (done := await _committed(settings, app_id(settings))) < total:
            peak = max(peak, rss_mb(process.pid))
            if done and first_progress is None:
                first_progress = (time.monotonic(), done)
            if process.poll() is not None or time.monotonic() - started > 1200:
                raise RuntimeError(f"ingestion stalled at {done} of {total}")
            await asyncio.sleep(0.5)
        finished = time.monotonic()
        t0, n0 = first_progress or (started, 0)
        ingestion = (total - n0) / max(finished - t0, 1e-3)

        inventory = asyncio.create_task(_fake_inventory(settings, due))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        run_sent = time.time()
        await producer.send_and_wait(settings.topics.housekeeping_runs, orjson.dumps({"as_of": AS_OF}))
        await producer.stop()
        peaks = [peak]
        sampler = asyncio.create_task(_sample(process.pid, peaks))
        commands = await _last_arrival(settings, settings.topics.inventory_commands, due, run_sent, 300)
        alerts = await _last_arrival(settings, settings.topics.alerts, due, run_sent, 300)
        sampler.cancel()
        peak = max(peaks)
        await inventory
    finally:
        process.terminate()
        process.wait(60)
        await drop_database(settings, database_url)
    return [
        {"name": "housekeeping_ingestion", "value": round(ingestion), "unit": "events/s", "target": ">= 5000",
         "note": f"{total} DeviceAdded events into the faust table, one worker"},
        {"name": "housekeeping_run_commands", "value": round(commands, 1), "unit": "s", "target": "<= 60",
         "note": f"run message to the last of {due} RemoveDevice commands, {total} devices tracked"},
        {"name": "housekeeping_run_alerts", "value": round(alerts, 1), "unit": "s", "target": "<= 120",
         "note": f"run message to the last of {due} N8 alerts (inventory played by a fast responder)"},
        {"name": "housekeeping_worker_rss", "value": round(peak), "unit": "MB", "target": "< 1536",
         "note": "peak VmRSS of the housekeeping process, ingestion and run"},
    ]


async def _sample(pid: int, peaks: list[float]) -> None:
    while True:
        peaks.append(rss_mb(pid))
        await asyncio.sleep(0.5)
