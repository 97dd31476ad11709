"""Intake throughput (pre-loaded requests, topic to routed command) against a plain aiokafka
consume-and-produce of the same bytes, and latency at a fixed offered rate."""
import statistics
import tempfile
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.bench.openloop import offer, percentile
from tests.bench.workload import load_topic, mixed_requests, read_arrivals, read_arrivals_when_quiet
from tests.support import drop_database, isolated_settings, start_process


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


async def routed_rate(settings, count: int) -> float:
    """Requests/s at which a running intake routes the `count` requests loaded on its topic,
    from the routed commands' own timestamps."""
    arrivals = await read_arrivals_when_quiet(settings.kafka_bootstrap_servers,
                                               [settings.topics.inventory_commands, settings.topics.returns_commands],
                                               settings.partitions, count, 600)
    return count / arrivals.span


async def _latency(settings, rate: int, seconds: float) -> list[float]:
    """Latency of each request from its intended send time to its routed command being read."""
    requests = mixed_requests(int(rate * seconds), start=5_000_000)
    ids = [r.request_id for r in requests]
    book = await offer(settings.kafka_bootstrap_servers, settings.topics.requests, requests, rate,
                       [settings.topics.inventory_commands, settings.topics.returns_commands], 120,
                       _command_request_id)
    if missing := book.unanswered(ids):
        raise RuntimeError(f"{len(missing)} of {len(ids)} requests without a routed command")
    return book.latencies(ids)


def _command_request_id(record) -> tuple[str, None]:
    return record.value.split(b'"request_id":"')[1].split(b'"')[0].decode(), None


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    count = max(1000, int(50_000 * scale))
    settings = await isolated_settings(bootstrap, database_url)
    await load_topic(bootstrap, settings.topics.requests, mixed_requests(count))

    ceiling_topic = settings.topics.requests + ".ceiling"
    await _plain_pipe(bootstrap, settings.topics.requests, ceiling_topic, count)
    ceiling = count / (await read_arrivals(bootstrap, [ceiling_topic], count, 120)).span

    log = Path(tempfile.mkdtemp()) / "intake.log"
    process = start_process("intake", settings, log)
    try:
        throughput = await routed_rate(settings, count)
        latencies = sorted(await _latency(settings, 1000, max(5.0, 30 * scale)))
    finally:
        process.terminate()
        process.wait(30)
        await drop_database(settings, database_url)
    p50 = statistics.median(latencies) * 1000
    p99 = percentile(latencies, 0.99) * 1000
    return [
        {"name": "intake_throughput", "value": round(throughput), "unit": "requests/s", "target": ">= 5000",
         "ceiling": round(ceiling), "note": f"{count} pre-loaded mixed requests; ceiling: plain aiokafka "
                                            f"consume-and-produce of the same bytes; ratio {throughput / ceiling:.2f}"},
        {"name": "intake_latency_p50_at_1000rps", "value": round(p50, 1), "unit": "ms", "target": "-",
         "note": "intended send time to routed command read (read_committed)"},
        {"name": "intake_latency_p99_at_1000rps", "value": round(p99, 1), "unit": "ms", "target": "< 50",
         "note": f"{len(latencies)} requests at 1,000 requests/s offered"},
    ]
