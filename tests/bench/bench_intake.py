"""Intake throughput (pre-loaded requests, topic to routed command) against a plain aiokafka
consume-and-produce of the same bytes, and latency at a fixed offered rate."""
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.bench.workload import mixed_requests
from tests.support import isolated_settings, start_process


async def _load(bootstrap: str, topic: str, requests) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        for key, value, content_type in requests:
            await producer.send(topic, value, key=key, headers=[("content-type", content_type.encode())])
        await producer.flush()
    finally:
        await producer.stop()


async def _output_span(bootstrap: str, topics: list[str], expected: int, timeout: float) -> float:
    """Seconds between the first and the last output record (by their create timestamps)."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                isolation_level="read_committed")
    await consumer.start()
    stamps: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while len(stamps) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            stamps += [r.timestamp for part in batch.values() for r in part]
    finally:
        await consumer.stop()
    if len(stamps) < expected:
        raise RuntimeError(f"only {len(stamps)} of {expected} outputs within {timeout}s")
    return (max(stamps) - min(stamps)) / 1000


async def _plain_pipe(bootstrap: str, source: str, target: str, expected: int) -> None:
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=f"ceiling-{source}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await consumer.start()
    await producer.start()
    done = 0
    try:
        while done < expected:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for part in batch.values():
                for record in part:
                    await producer.send(target, record.value, key=record.key)
            await producer.flush()
            await consumer.commit({tp: part[-1].offset + 1 for tp, part in batch.items()})
            done += sum(len(p) for p in batch.values())
    finally:
        await producer.stop()
        await consumer.stop()


async def _latency(settings, rate: int, seconds: float) -> list[float]:
    """Latency of each request from its intended send time to its routed command being read."""
    requests = mixed_requests(int(rate * seconds), start=5_000_000)
    sent_at: dict[bytes, float] = {}
    latencies: list[float] = []
    consumer = AIOKafkaConsumer(settings.topics.inventory_commands, settings.topics.returns_commands,
                                bootstrap_servers=settings.kafka_bootstrap_servers,
                                isolation_level="read_committed", auto_offset_reset="latest")
    await consumer.start()
    await asyncio.sleep(1)

    async def read() -> None:
        while len(latencies) < len(requests):
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for part in batch.values():
                for record in part:
                    request_id = record.value.split(b'"request_id":"')[1].split(b'"')[0]
                    latencies.append(now - sent_at[request_id])

    reader = asyncio.create_task(read())
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=0)
    await producer.start()
    start = time.perf_counter()
    for n, (key, value, content_type) in enumerate(requests):
        intended = start + n / rate
        await asyncio.sleep(max(0.0, intended - time.perf_counter()))
        request_id = value.split(b"RequestID")[1].strip(b'">:').split(b'"')[0].split(b"<")[0]
        sent_at[request_id] = intended
        await producer.send(settings.topics.requests, value, key=key,
                            headers=[("content-type", content_type.encode())])
    await producer.stop()
    await asyncio.wait_for(reader, 120)
    await consumer.stop()
    return latencies


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    count = max(1000, int(50_000 * scale))
    settings = await isolated_settings(bootstrap, database_url)
    requests = mixed_requests(count)
    await _load(bootstrap, settings.topics.requests, requests)

    ceiling_topic = settings.topics.requests + ".ceiling"
    await _plain_pipe(bootstrap, settings.topics.requests, ceiling_topic, count)
    ceiling = count / await _output_span(bootstrap, [ceiling_topic], count, 120)

    log = Path(tempfile.mkdtemp()) / "intake.log"
    process = start_process("intake", settings, log)
    try:
        span = await _output_span(bootstrap, [settings.topics.inventory_commands,
                                              settings.topics.returns_commands], count, 600)
        throughput = count / span
        latencies = sorted(await _latency(settings, 1000, max(5.0, 30 * scale)))
    finally:
        process.terminate()
        process.wait(30)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return [
        {"name": "intake_throughput", "value": round(throughput), "unit": "requests/s", "target": ">= 5000",
         "ceiling": round(ceiling), "note": f"{count} pre-loaded mixed requests; ceiling: plain aiokafka "
                                            f"consume-and-produce of the same bytes; ratio {throughput / ceiling:.2f}"},
        {"name": "intake_latency_p50_at_1000rps", "value": round(p50, 1), "unit": "ms", "target": "-",
         "note": "intended send time to routed command read (read_committed)"},
        {"name": "intake_latency_p99_at_1000rps", "value": round(p99, 1), "unit": "ms", "target": "< 50",
         "note": f"{len(latencies)} requests at 1,000 requests/s offered"},
    ]
