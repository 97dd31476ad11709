"""Intake throughput (pre-loaded requests, topic to routed command) against a plain aiokafka
consume-and-produce of the same bytes, and latency at a fixed offered rate against a one-hop echo
of the same requests at the same rate (`tests/bench/echo.py`): the platform's kernel with the
database and logic taken out (the same-run transactional ceiling), and without transactions (a
floor for the p99; its loop reads again only after each commit, so its p50 is no floor)."""
import tempfile
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.bench.echo import offered_to_echo
from tests.bench.openloop import offer, percentile
from tests.bench.workload import load_topic, mixed_requests, read_arrivals, read_arrivals_when_quiet
from tests.support import drop_database, isolated_settings, start_process

RATE = 1000  # requests/s offered in the latency measurement
ECHO_WARMUP_S = 5  # offered to a fresh echo first and not counted: its first seconds are slower


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


async def _latency(settings, requests) -> list[float]:
    """Latency of each request from its intended send time to its routed command being read."""
    ids = [r.request_id for r in requests]
    book = await offer(settings.kafka_bootstrap_servers, settings.topics.requests, requests, RATE,
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

    logs = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    process = start_process("intake", settings, logs / "intake.log")
    requests = mixed_requests(int(RATE * max(5.0, 30 * scale)), start=5_000_000)
    try:
        throughput = await routed_rate(settings, count)
        latencies = sorted(await _latency(settings, requests))
    finally:
        process.terminate()
        process.wait(30)
        await drop_database(settings, database_url)
    ids = [r.request_id for r in requests]
    warmup = mixed_requests(ECHO_WARMUP_S * RATE, start=6_000_000)  # intake is warm from the throughput run
    echoes = {mode: (await offered_to_echo(bootstrap, database_url, mode, 1, warmup + requests, RATE, logs))
              .latencies(ids) for mode in ("transactional", "plain")}

    def ms(of: list[float], q: float) -> float:
        return round(percentile(of, q) * 1000, 1)

    p50, p99, echo_p99 = ms(latencies, 0.5), ms(latencies, 0.99), ms(echoes["transactional"], 0.99)
    return [
        {"name": "intake_throughput", "value": round(throughput), "unit": "requests/s", "target": ">= 5000",
         "ceiling": round(ceiling), "note": f"{count} pre-loaded mixed requests; ceiling: plain aiokafka "
                                            f"consume-and-produce of the same bytes; ratio {throughput / ceiling:.2f}"},
        {"name": "intake_latency_p50_at_1000rps", "value": p50, "unit": "ms", "target": "-",
         "note": "intended send time to routed command read (read_committed)"},
        {"name": "intake_latency_p99_at_1000rps", "value": p99, "unit": "ms", "target": "< 50",
         "note": f"{len(latencies)} requests at 1,000 requests/s offered"},
        {"name": "intake_p99_ratio_to_transactional_echo", "value": round(p99 / echo_p99, 2), "unit": "x",
         "target": "-", "ceiling": echo_p99,
         "note": f"the same requests at the same rate, after a {ECHO_WARMUP_S} s warm-up, through one hop of the "
                 f"platform's kernel with the database and logic taken out: p50 {ms(echoes['transactional'], 0.5)} ms, p99 {echo_p99} ms "
                 f"({len(echoes['transactional'])} answered of {len(ids)}); without transactions (a floor for the p99): "
                 f"p50 {ms(echoes['plain'], 0.5)} ms, p99 {ms(echoes['plain'], 0.99)} ms"},
    ]
