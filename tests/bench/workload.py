"""What the benchmarks share: synthetic request mixes, loading a topic, reading when outputs were
written, and the services' CPU and memory as /proc shows them."""
import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.duis import build
from shared.duis.build import device_id
from shared.duis.catalogue import SERVICE_REQUESTS

INVENTORY_VARIANTS = sorted(v for v, spec in SERVICE_REQUESTS.items() if spec.owner == "inventory")
SUPPLIERS = ["90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-01-00-01"]


class Record(NamedTuple):
    """One record to produce; `request_id` is only for the bench's own bookkeeping."""
    key: bytes | None
    value: bytes
    content_type: str | None = None
    timestamp_ms: int | None = None
    request_id: str | None = None

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        return [("content-type", self.content_type.encode())] if self.content_type else []


def mixed_requests(count: int, start: int = 0) -> list[Record]:
    """Valid requests of every served variant, XML and JSON."""
    out = []
    for n in range(start, start + count):
        supplier, device, fmt = SUPPLIERS[n % 2], device_id(n), ("xml", "json")[n % 5 == 0]
        kind = n % 8
        if kind < 3:
            variant, body = "12.2", build.prenotification(device)
        elif kind == 3:
            variant, body = "8.2", {"DeviceID": device}
        elif kind == 4:
            variant, body = "8.4", {"DeviceID": device, "UpdateMPxN": {"ImportMPxN": f"{1000000 + n}"}}
        elif kind == 5:
            variant, body = "8.3", {"DeviceID": device}
        elif kind == 6:
            variant, body = "8.14.1", build.install_success(device)
        else:
            variant, body = "8.14.3", build.fault_return([device, device_id(n + 10_000_000)])
        raw = build.request(supplier, n, variant, body, fmt)
        out.append(Record(supplier.encode(), raw, f"application/{fmt}",
                          request_id=build.request_id(supplier, n)))
    return out


async def load_topic(bootstrap: str, topic: str, records: Iterable[Record], linger_ms: int = 20,
                     max_batch_size: int = 512 * 1024) -> None:
    """Produce every record, batched for speed; nothing is timed here."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger_ms, max_batch_size=max_batch_size)
    await producer.start()
    try:
        for r in records:
            await producer.send(topic, r.value, key=r.key, headers=r.headers, timestamp_ms=r.timestamp_ms)
        await producer.flush()
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Arrivals:
    first_ms: int  # create timestamps of the first and last records read
    last_ms: int
    wall: float  # seconds from starting to read until the expected count was read

    @property
    def span(self) -> float:
        return (self.last_ms - self.first_ms) / 1000


async def read_arrivals(bootstrap: str, topics: list[str], expected: int, timeout: float) -> Arrivals:
    """Read the topics from the start (committed records only) until `expected` records are there;
    throughput comes from the records' own timestamps, not from when this reader saw them."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                isolation_level="read_committed")
    started, count, first, last = time.monotonic(), 0, None, None
    await consumer.start()
    try:
        while count < expected and time.monotonic() - started < timeout:
            batch = await consumer.getmany(timeout_ms=500, max_records=20_000)
            stamps = [r.timestamp for part in batch.values() for r in part]
            if stamps:
                count += len(stamps)
                first = min(stamps) if first is None else min(first, *stamps)
                last = max(stamps) if last is None else max(last, *stamps)
    finally:
        await consumer.stop()
    if count < expected:
        raise RuntimeError(f"only {count} of {expected} records on {', '.join(topics)} within {timeout:.0f}s")
    return Arrivals(first, last, time.monotonic() - started)


async def read_arrivals_when_quiet(bootstrap: str, topics: list[str], partitions: int, expected: int,
                                   timeout: float, quiet: float = 3.0) -> Arrivals:
    """`read_arrivals`, but only once the topics have stopped growing for `quiet` seconds: while
    the load runs, the bench only asks for end offsets, so that reading a million records does
    not take CPU from the services it measures (on 2 cores it takes a fifth). `wall` runs to when
    the topics stopped growing."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    watched = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    started = time.monotonic()
    await consumer.start()
    try:
        total, grew_at = 0, time.monotonic()
        while (total == 0 or time.monotonic() - grew_at < quiet) and time.monotonic() - started < timeout:
            await asyncio.sleep(0.5)
            now = sum((await consumer.end_offsets(watched)).values())
            if now != total:
                total, grew_at = now, time.monotonic()
    finally:
        await consumer.stop()
    wall = grew_at - started
    arrivals = await read_arrivals(bootstrap, topics, expected, max(1.0, timeout - (time.monotonic() - started)))
    return Arrivals(arrivals.first_ms, arrivals.last_ms, wall)


async def answered_by_intake(settings) -> dict[str, tuple[int, int]]:
    """Of the Read Inventory requests ("reads") and the other requests for inventory ("changes")
    intake took in, how many it completed itself from inventory's API (the rest went on to
    inventory's topic), and how many it took in."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch("select variant = '8.2' as read, count(*) filter (where outcome = 'answered')"
                                " as answered, count(*) as taken from intake.requests"
                                " where variant = any($1::text[]) group by 1", INVENTORY_VARIANTS)
        found = {("reads" if r["read"] else "changes"): (r["answered"], r["taken"]) for r in rows}
        return {kind: found.get(kind, (0, 0)) for kind in ("reads", "changes")}
    finally:
        await conn.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_idle(pids: list[int], timeout: float = 180) -> float:
    """Seconds until the services have digested a load (each under a quarter of a core, which is
    what idle polling costs, over 2 s): after the last output, intake still keeps every response
    for replays and old processed records are pruned."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = sum(cpu_seconds(p) for p in pids)
        await asyncio.sleep(2)
        if sum(cpu_seconds(p) for p in pids) - before < 0.5 * len(pids):
            break
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smi_population(count: int) -> list[Record]:
    """Pre-notifications of the devices the service mix reads and changes, alternating parties."""
    out = []
    for k in range(count):
        party = SUPPLIERS[k % 2]
        body = build.prenotification(population_device(k), ("ESME", "GSME")[k % 2])
        out.append(Record(party.encode(), build.request(party, k, "12.2", body, "json"), "application/json",
                          request_id=build.request_id(party, k)))
    return out


def population_device(k: int) -> str:
    return device_id(k, "00-E0")


def service_mix(count: int, population: int, first_counter: int = 1_000_000) -> list[Record]:
    """What users send all day: half Read Inventory (8.2) of devices in the SMI, three tenths
    pre-notifications (12.2) of new devices, a fifth status changes (8.4, Pending to
    InstalledNotCommissioned, each on its own device, sent by its Notifying Party); a fifth of
    it JSON, the rest XML. Needs `population` >= count / 5 devices from `smi_population`."""
    if population * 5 < count:
        raise ValueError(f"{count} requests need at least {count // 5} devices in the SMI")
    out, changed = [], 0
    for n in range(count):
        kind, fmt = n % 10, ("xml", "json")[(n // 10) % 5 == 0]
        party, counter = SUPPLIERS[n % 2], first_counter + n
        if kind < 5:
            variant, body = "8.2", {"DeviceID": population_device(n * 7919 % population)}
        elif kind < 8:
            variant, body = "12.2", build.prenotification(device_id(n, "00-E1"), ("ESME", "GSME")[n % 2])
        else:
            party = SUPPLIERS[changed % 2]
            variant, body = "8.4", {"DeviceID": population_device(changed),
                                    "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"}
            changed += 1
        out.append(Record(party.encode(), build.request(party, counter, variant, body, fmt),
                          f"application/{fmt}", request_id=build.request_id(party, counter)))
    return out


def stop_processes(processes) -> None:
    """SIGTERM every service process, then wait for each (a stuck one is left to the OS)."""
    for process in processes:
        process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.wait(30)
