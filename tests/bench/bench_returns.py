"""Bulk return latency and throughput, from the request produced to its response consumed.

Intake and returns run as their own processes; inventory's part (withdrawing the hubs) is played
in this process by a responder that accepts every hub, so inventory's own cost is not included.
"""
import asyncio
import contextlib
import signal
import statistics
import tempfile
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.duis import build
from shared.messages import HubResult, HubsReturned, ReturnHubs
from tests.support import SUPPLIER, drop_database, isolated_settings, start_process

HUBS_PER_REQUEST = 999
NOTE = "intake + returns as processes, inventory's reply played by the bench (every hub accepted)"


async def _inventory_responder(settings, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(settings.topics.inventory_commands,
                                bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", isolation_level="read_committed",
                                group_id="bench-inventory")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=1,
                                max_request_size=4 * 1024 * 1024)
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50)
            for record in (r for part in batch.values() for r in part):
                command = ReturnHubs.model_validate_json(record.value)
                reply = HubsReturned(command_id=command.command_id, request_id=command.request_id,
                                     results=[HubResult(device_id=h, code="I0") for h in command.hubs])
                await producer.send(settings.topics.inventory_replies, reply.to_bytes(), key=record.key)
    finally:
        await consumer.stop()
        await producer.stop()


class _Responses:
    """Consumes the responses topic from its end, noting when each RequestID was answered."""

    def __init__(self, settings) -> None:
        self.settings, self.answered, self.codes = settings, {}, {}
        self.consumer = AIOKafkaConsumer(settings.topics.responses,
                                         bootstrap_servers=settings.kafka_bootstrap_servers,
                                         isolation_level="read_committed", enable_auto_commit=False,
                                         fetch_max_bytes=64 * 1024 * 1024,
                                         max_partition_fetch_bytes=16 * 1024 * 1024)

    async def start(self) -> None:
        await self.consumer.start()
        while not self.consumer.assignment():
            await self.consumer.getmany(timeout_ms=100)
        partitions = list(self.consumer.assignment())
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)

    async def run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=20)
            now = time.perf_counter()
            for record in (r for part in batch.values() for r in part):
                headers = {k: v.decode() for k, v in record.headers}
                self.answered[headers["request-id"]] = now
                self.codes[headers["request-id"]] = headers.get("response-code")

    async def wait_for(self, request_ids: list[str], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while not all(r in self.answered for r in request_ids):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{sum(r in self.answered for r in request_ids)}/{len(request_ids)} answered")
            await asyncio.sleep(0.005)


def _request(counter: int) -> bytes:
    first = counter * HUBS_PER_REQUEST
    hubs = [build.device_id(first + n, "00-BE") for n in range(HUBS_PER_REQUEST)]
    return build.request(SUPPLIER, counter, "8.14.3", build.fault_return(hubs))


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    repetitions, burst = max(3, round(20 * scale)), max(2, round(100 * scale))
    settings = await isolated_settings(bootstrap, database_url, returns_overdue_check_seconds=0)
    logs = Path(tempfile.mkdtemp(prefix="bench-returns-"))
    workers = [start_process(name, settings, logs / f"{name}.log") for name in ("intake", "returns")]
    stop = asyncio.Event()
    responder = asyncio.create_task(_inventory_responder(settings, stop))
    responses = _Responses(settings)
    reader: asyncio.Task | None = None
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, max_request_size=4 * 1024 * 1024)
    try:
        await producer.start()
        async def send(counter: int) -> str:
            await producer.send_and_wait(settings.topics.requests, _request(counter), key=SUPPLIER.encode())
            return build.request_id(SUPPLIER, counter)

        await responses.start()
        reader = asyncio.create_task(responses.run())
        await responses.wait_for([await send(1)], timeout=90)  # warm-up: processes, groups, pools
        latencies = []
        for counter in range(2, 2 + repetitions):
            payload = _request(counter)
            started = time.perf_counter()
            await producer.send_and_wait(settings.topics.requests, payload, key=SUPPLIER.encode())
            request_id = build.request_id(SUPPLIER, counter)
            await responses.wait_for([request_id], timeout=30)
            latencies.append(responses.answered[request_id] - started)

        first = 2 + repetitions
        payloads = [_request(c) for c in range(first, first + burst)]
        started = time.perf_counter()
        for payload in payloads:
            await producer.send(settings.topics.requests, payload, key=SUPPLIER.encode())
        await producer.flush()
        ids = [build.request_id(SUPPLIER, c) for c in range(first, first + burst)]
        await responses.wait_for(ids, timeout=300)
        burst_seconds = max(responses.answered[r] for r in ids) - started
        all_accepted = all(responses.codes[r] == "I0" for r in ids)
    finally:
        stop.set()
        tasks = [t for t in (reader, responder) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        await responses.consumer.stop()
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.wait(timeout=20)
        await drop_database(settings, database_url)

    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return [
        {"name": "returns_999_hub_request_p50", "value": round(statistics.median(latencies) * 1000, 1),
         "unit": "ms", "target": 300, "note": f"{repetitions} sequential requests of 999 hubs; {NOTE}"},
        {"name": "returns_999_hub_request_p99", "value": round(p99 * 1000, 1), "unit": "ms",
         "target": 1000, "note": f"{repetitions} sequential requests of 999 hubs; {NOTE}"},
        {"name": "returns_burst_all_answered", "value": round(burst_seconds, 2), "unit": "s",
         "target": 60 * burst / 100,
         "note": f"{burst} requests of 999 hubs ({burst * HUBS_PER_REQUEST} hubs) sent at once; "
                 f"all I0: {all_accepted}; {NOTE}"},
    ]


if __name__ == "__main__":
    import os
    import sys

    figures = asyncio.run(main(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"],
                               float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
