"""Inventory benchmarks: pre-notifications through intake into the SMI against a raw COPY of the
same rows into the same table; inventory's memory during that load; Read Inventory latency with
the SMI full, over HTTP and as SR 8.2 through intake."""
import asyncio
import os
import socket
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.inventory import domain, store
from shared.duis import build
from shared.duis.build import device_id
from shared.duis.models import DevicePrenotification
from tests.support import SUPPLIER, SUPPLIER_2, isolated_settings, start_process

PARTIES = (SUPPLIER, SUPPLIER_2)
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
BATCH = 2000


def _prenotification(n: int) -> tuple[bytes, bytes]:
    party = PARTIES[n % 2]
    body = build.prenotification(device_id(n), ("ESME", "GSME")[n % 2], FirmwareVersion="1.0")
    return party.encode(), build.request(party, n, "12.2", body, "json")


async def _load(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        for n in range(count):
            key, value = _prenotification(n)
            await producer.send(topic, value, key=key, headers=[("content-type", b"application/json")],
                                timestamp_ms=int((START + timedelta(seconds=n)).timestamp() * 1000))
        await producer.flush()
    finally:
        await producer.stop()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _watch_rss(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], _rss_mb(pid))
        except FileNotFoundError:
            return
        await asyncio.sleep(0.25)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wait_idle(pids: list[int], timeout: float = 180) -> float:
    """Seconds until the services have digested the load (each under a quarter of a core, which
    is what idle polling costs, over 2 s): intake still
    keeps every response for replays, and old processed records are pruned, after the last event."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = sum(_cpu_seconds(p) for p in pids)
        await asyncio.sleep(2)
        if sum(_cpu_seconds(p) for p in pids) - before < 0.5 * len(pids):
            break
    return time.monotonic() - started


async def _output_span(bootstrap: str, topic: str, expected: int, timeout: float) -> tuple[float, float]:
    """(first to last output, seconds; wall time until the last output was read)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                isolation_level="read_committed")
    await consumer.start()
    started, stamps = time.monotonic(), []
    try:
        while len(stamps) < expected and time.monotonic() - started < timeout:
            batch = await consumer.getmany(timeout_ms=500, max_records=20_000)
            stamps += [r.timestamp for part in batch.values() for r in part]
    finally:
        await consumer.stop()
    if len(stamps) < expected:
        raise RuntimeError(f"only {len(stamps)} of {expected} device events within {timeout}s")
    return (max(stamps) - min(stamps)) / 1000, time.monotonic() - started


async def _copy_ceiling(bootstrap: str, database_url: str, count: int, chunk: int = 100_000) -> float:
    """Devices/s of a raw COPY of the same rows (devices and their history) into the same tables
    of a fresh database; only the COPY calls are timed."""
    settings = await isolated_settings(bootstrap, database_url)
    conn = await asyncpg.connect(settings.database_url)
    seconds = 0.0
    try:
        for first in range(0, count, chunk):
            devices, history = [], []
            for n in range(first, min(count, first + chunk)):
                party, at = PARTIES[n % 2], START + timedelta(seconds=n)
                body = DevicePrenotification.model_validate(
                    build.prenotification(device_id(n), ("ESME", "GSME")[n % 2], FirmwareVersion="1.0"))
                device = domain.prenotified(body, party, ["GS", "IS"], at)
                devices.append(device)
                history.append((device.device_id, None, "Pending", at, "12.2", party, build.request_id(party, n)))
            started = time.perf_counter()
            async with conn.transaction():
                await store.insert(conn, devices)
                await store.append_history(conn, history)
            seconds += time.perf_counter() - started
        return count / seconds
    finally:
        await conn.close()


async def _http_latency(port: int, count: int, rate: int, population: int) -> list[float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:
        for n in range(200):  # warm-up: the pool's connections open, statements get prepared
            async with http.get(f"http://127.0.0.1:{port}/devices/{device_id(n)}") as r:
                await r.read()

        async def one(n: int) -> None:
            began = time.perf_counter()
            async with http.get(f"http://127.0.0.1:{port}/devices/{device_id(n * 7919 % population)}") as r:
                assert r.status == 200, await r.text()
                await r.read()
            latencies.append(time.perf_counter() - began)

        start, tasks = time.perf_counter(), []
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    return latencies


async def _sr_latency(settings, count: int, rate: int, population: int) -> list[float]:
    """SR 8.2 through intake and inventory: intended send time to the response being read."""
    consumer = AIOKafkaConsumer(settings.topics.responses, bootstrap_servers=settings.kafka_bootstrap_servers,
                                isolation_level="read_committed", auto_offset_reset="latest")
    await consumer.start()
    await asyncio.sleep(1)
    sent: dict[str, float] = {}
    latencies: list[float] = []

    async def read() -> None:
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for record in (r for part in batch.values() for r in part):
                request_id = dict(record.headers)["request-id"].decode()
                assert orjson.loads(record.value)["Header"]["ResponseCode"] == "I0"
                latencies.append(now - sent[request_id])

    reader = asyncio.create_task(read())
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=0)
    await producer.start()
    start = time.perf_counter()
    for n in range(count):
        intended = start + n / rate
        await asyncio.sleep(max(0.0, intended - time.perf_counter()))
        counter = 10_000_000 + n
        sent[build.request_id(SUPPLIER, counter)] = intended
        raw = build.request(SUPPLIER, counter, "8.2", {"DeviceID": device_id(n * 7919 % population)}, "json")
        await producer.send(settings.topics.requests, raw, key=SUPPLIER.encode(),
                            headers=[("content-type", b"application/json")])
    await producer.stop()
    try:
        await asyncio.wait_for(reader, 120)
    finally:
        await consumer.stop()
    return latencies


def _p(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return round(ordered[max(0, int(len(ordered) * q) - 1)] * 1000, 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    count = max(5_000, int(1_000_000 * scale))
    reads = max(1_000, int(6_000 * scale))
    settings = await isolated_settings(bootstrap, database_url)
    await _load(bootstrap, settings.topics.requests, count)

    port = _free_port()
    # A bulk load is run with bigger batches; the inventory process serves its HTTP API.
    os.environ.update(SMI_HTTP_PORT=str(port), SMI_BATCH_MAX_RECORDS=str(BATCH))
    logs = Path(tempfile.mkdtemp())
    intake = start_process("intake", settings, logs / "intake.log")
    inventory = start_process("inventory", settings, logs / "inventory.log")
    os.environ.pop("SMI_HTTP_PORT")
    os.environ.pop("SMI_BATCH_MAX_RECORDS")
    peak, stop = [0.0], asyncio.Event()
    watcher = asyncio.create_task(_watch_rss(inventory.pid, peak, stop))
    try:
        span, wall = await _output_span(bootstrap, settings.topics.device_events, count, 3600)
        stop.set()
        await watcher
        settled = await _wait_idle([intake.pid, inventory.pid])
        http = await _http_latency(port, reads, 200, count)
        sr = await _sr_latency(settings, reads, 200, count)
    finally:
        for process in (intake, inventory):
            process.terminate()
            process.wait(30)
    throughput = count / span
    ceiling = await _copy_ceiling(bootstrap, database_url, count)
    return [
        {"name": "inventory_prenotification_throughput", "value": round(throughput), "unit": "devices/s",
         "target": ">= 10000", "ceiling": round(ceiling),
         "note": f"{count} pre-notifications (JSON) through intake into the SMI, first to last DeviceAdded "
                 f"event ({wall:.0f}s wall incl. start-up), batches of up to {BATCH}; ceiling: one raw COPY of the same device and "
                 f"history rows into the same tables; ratio {throughput / ceiling:.2f}"},
        {"name": "inventory_peak_rss_during_load", "value": round(peak[0]), "unit": "MB", "target": "< 500",
         "note": "inventory process VmRSS, sampled every 0.25 s during the load"},
        {"name": "inventory_read_http_p99_at_200rps", "value": _p(http, 0.99), "unit": "ms", "target": "< 20",
         "note": f"GET /devices/{{id}} (the 8.2 answer), {len(http)} reads, {count} devices present, "
                 f"after the services settled ({settled:.0f}s); p50 {_p(http, 0.5)} ms"},
        {"name": "inventory_read_sr_8_2_p99_at_200rps", "value": _p(sr, 0.99), "unit": "ms", "target": "< 20",
         "note": f"SR 8.2 on smi.requests to its response read (intake + inventory, two Kafka "
                 f"transactions), {len(sr)} requests; p50 {_p(sr, 0.5)} ms"},
    ]


if __name__ == "__main__":
    import sys

    results = asyncio.run(main(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"],
                               float(sys.argv[1]) if len(sys.argv) > 1 else 0.05))
    for result in results:
        print(orjson.dumps(result).decode())
