"""Inventory benchmarks: pre-notifications through intake into the SMI against a raw COPY of the
same rows into the same table; inventory's memory during that load; Read Inventory latency with
the SMI full, over HTTP and as SR 8.2 through intake."""
import asyncio
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import orjson

from services.inventory import domain, store
from shared.duis import build
from shared.duis.build import device_id
from shared.duis.models import DevicePrenotification
from tests.bench.openloop import offer, percentile
from tests.bench.workload import (Record, cpu_seconds, free_port, load_topic, read_arrivals_when_quiet,
                                  answered_by_intake, rss_mb, stop_processes, wait_idle)
from tests.support import SUPPLIER, SUPPLIER_2, drop_database, isolated_settings, start_process

PARTIES = (SUPPLIER, SUPPLIER_2)
# Event times from a day back (the platform's topics keep records whatever their timestamps).
START = datetime.now(timezone.utc) - timedelta(days=1)
STEP = timedelta(milliseconds=50)
BATCH = 2000


def _prenotifications(count: int, fmt: str = "json"):
    """The load, each request's event time a twentieth of a second after the one before."""
    for n in range(count):
        party = PARTIES[n % 2]
        body = build.prenotification(device_id(n), ("ESME", "GSME")[n % 2], FirmwareVersion="1.0")
        yield Record(party.encode(), build.request(party, n, "12.2", body, fmt), f"application/{fmt}",
                     int((START + n * STEP).timestamp() * 1000))


@dataclass
class Load:
    throughput: float
    wall: float
    cpu_us: float  # intake's and inventory's CPU per pre-notification, until both settled
    peak_rss_mb: float
    settled: float
    processes: list


async def _prenotify(bootstrap: str, settings, fmt: str, count: int, http_port: int | None = None) -> Load:
    """`count` pre-notifications through intake and inventory (started here, left running)."""
    await load_topic(bootstrap, settings.topics.requests, _prenotifications(count, fmt))
    # A bulk load is run with bigger batches; the inventory process serves its HTTP API, which
    # intake answers Read Inventory from.
    if http_port:
        settings = settings.model_copy(update={"http_port": http_port,
                                               "inventory_url": f"http://127.0.0.1:{http_port}"})
    os.environ["SMI_BATCH_MAX_RECORDS"] = str(BATCH)
    logs = Path(tempfile.mkdtemp())
    processes = [start_process(name, settings, logs / f"{name}.log") for name in ("intake", "inventory")]
    os.environ.pop("SMI_BATCH_MAX_RECORDS")
    peak, stop = [0.0], asyncio.Event()
    watcher = asyncio.create_task(_watch_rss(processes[1].pid, peak, stop))
    try:
        arrivals = await read_arrivals_when_quiet(bootstrap, [settings.topics.device_events], settings.partitions,
                                                  count, 3600)
        stop.set()
        await watcher
        pids = [process.pid for process in processes]
        settled = await wait_idle(pids)
        cpu = sum(cpu_seconds(pid) for pid in pids)
    except BaseException:
        stop_processes(processes)
        raise
    return Load(count / arrivals.span, arrivals.wall, cpu / count * 1e6, peak[0], settled, processes)


async def _watch_rss(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], rss_mb(pid))
        except FileNotFoundError:
            return
        await asyncio.sleep(0.25)


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
                party, at = PARTIES[n % 2], START + n * STEP
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
        await drop_database(settings, database_url)


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
    requests = []
    for n in range(count):
        counter = 10_000_000 + n
        raw = build.request(SUPPLIER, counter, "8.2", {"DeviceID": device_id(n * 7919 % population)}, "json")
        requests.append(Record(SUPPLIER.encode(), raw, "application/json",
                               request_id=build.request_id(SUPPLIER, counter)))
    ids = [r.request_id for r in requests]
    book = await offer(settings.kafka_bootstrap_servers, settings.topics.requests, requests, rate,
                       [settings.topics.responses], 120)
    if missing := book.unanswered(ids):
        raise RuntimeError(f"{len(missing)} of {count} Read Inventory requests without a response")
    if refused := book.not_accepted(ids):
        raise RuntimeError(f"{len(refused)} Read Inventory requests not answered I0, e.g. {refused[0]}")
    return book.latencies(ids)


def _p(latencies: list[float], q: float) -> float:
    return round(percentile(latencies, q) * 1000, 1)


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    count = max(5_000, int(1_000_000 * scale))
    xml_count = max(5_000, int(200_000 * scale))
    reads = max(1_000, int(6_000 * scale))
    settings = await isolated_settings(bootstrap, database_url)
    port = free_port()
    try:
        load = await _prenotify(bootstrap, settings, "json", count, port)
        try:
            http = await _http_latency(port, reads, 200, count)
            sr = await _sr_latency(settings, reads, 200, count)
            by_intake, _ = (await answered_by_intake(settings))["reads"]
        finally:
            stop_processes(load.processes)
    finally:
        await drop_database(settings, database_url)
    xml_settings = await isolated_settings(bootstrap, database_url)
    try:
        xml = await _prenotify(bootstrap, xml_settings, "xml", xml_count)
        stop_processes(xml.processes)
    finally:
        await drop_database(xml_settings, database_url)
    throughput, wall, settled = load.throughput, load.wall, load.settled
    ceiling = await _copy_ceiling(bootstrap, database_url, count)
    return [
        {"name": "inventory_prenotification_throughput", "value": round(throughput), "unit": "devices/s",
         "target": ">= 10000", "ceiling": round(ceiling),
         "note": f"{count} pre-notifications (JSON) through intake into the SMI, first to last DeviceAdded "
                 f"event ({wall:.0f}s wall incl. start-up; the events read once the load was done), batches of up to {BATCH}; ceiling: one raw COPY of the same device and "
                 f"history rows into the same tables; ratio {throughput / ceiling:.2f}"},
        {"name": "inventory_prenotification_cpu", "value": round(load.cpu_us, 1), "unit": "us/device",
         "note": "CPU of the intake and inventory processes per pre-notification of that load, until both "
                 "settled (PostgreSQL and Kafka not included): a figure the machine's other load moves less"},
        {"name": "inventory_prenotification_throughput_xml", "value": round(xml.throughput), "unit": "devices/s",
         "ceiling": round(ceiling),
         "note": f"{xml_count} pre-notifications in XML, each answered with an XML response signed by the DCC; "
                 f"intake and inventory CPU {xml.cpu_us:.1f} us/device; ratio to the COPY ceiling "
                 f"{xml.throughput / ceiling:.3f}"},
        {"name": "inventory_peak_rss_during_load", "value": round(load.peak_rss_mb), "unit": "MB", "target": "< 500",
         "note": "inventory process VmRSS, sampled every 0.25 s during the load"},
        {"name": "inventory_read_http_p99_at_200rps", "value": _p(http, 0.99), "unit": "ms", "target": "< 20",
         "note": f"GET /devices/{{id}} (the 8.2 answer), {len(http)} reads, {count} devices present, "
                 f"after the services settled ({settled:.0f}s); p50 {_p(http, 0.5)} ms"},
        {"name": "inventory_read_sr_8_2_p99_at_200rps", "value": _p(sr, 0.99), "unit": "ms", "target": "< 50",
         "note": f"SR 8.2 on smi.requests to its response read, {len(sr)} requests, {by_intake} of them "
                 f"answered by intake from inventory's read API (one Kafka transaction), the others by "
                 f"inventory (two); p50 {_p(sr, 0.5)} ms"},
    ]


if __name__ == "__main__":
    import sys

    results = asyncio.run(main(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"],
                               float(sys.argv[1]) if len(sys.argv) > 1 else 0.05))
    for result in results:
        print(orjson.dumps(result).decode())
