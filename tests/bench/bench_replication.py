"""The price of replication: intake's throughput and the end-to-end latency at 500 requests/s
on the bench's one broker, then on three replicating KRaft nodes (replication factor 3,
min.insync.replicas=2, acks=all) started here, both against the same PostgreSQL, in one run."""
import asyncio
import os
import statistics
import tempfile
from pathlib import Path

from deploy.local import kafka, stack
from deploy.local.layout import Layout
from tests.bench import bench_e2e
from tests.bench.bench_intake import routed_rate
from tests.bench.openloop import percentile
from tests.bench.workload import load_topic, mixed_requests
from tests.support import drop_database, isolated_settings, start_process

STACK = Path(__file__).resolve().parents[2] / ".stack-bench-replicated"
# Node n of the three listens on this port + 2(n-1), its controller on the port after.
KAFKA_PORT = int(os.environ.get("SMI_BENCH_REPLICATED_KAFKA_PORT") or 29592)


async def _intake(bootstrap: str, database_url: str, count: int, replicas: int) -> float:
    settings = await isolated_settings(bootstrap, database_url, replication_factor=replicas)
    await load_topic(bootstrap, settings.topics.requests, mixed_requests(count))
    process = start_process("intake", settings, Path(tempfile.mkdtemp()) / "intake.log")
    try:
        return await routed_rate(settings, count)
    finally:
        process.terminate()
        process.wait(30)
        await drop_database(settings, database_url)


async def _measure(bootstrap: str, database_url: str, scale: float, replicas: int) -> dict:
    count = max(1000, int(50_000 * scale))
    throughput = await _intake(bootstrap, database_url, count, replicas)
    run = await bench_e2e.offer_mix(bootstrap, database_url, max(5.0, 10 * scale), max(10.0, 30 * scale),
                                    int(20_000 * scale), replication_factor=replicas)
    latencies = run.book.latencies(run.ids[run.warmup_n:])
    return {"throughput": throughput, "count": count, "measured": len(latencies),
            "unanswered": len(run.book.unanswered(run.ids)), "answered_rate": run.book.answer_rate(run.ids),
            "p50": statistics.median(latencies) * 1000, "p99": percentile(latencies, 0.99) * 1000}


def _three_brokers() -> Layout:
    # Kafka only: the bench's PostgreSQL serves both runs, so that only Kafka differs. Afresh, as
    # the bench's own broker is: nothing left from earlier runs weighs on one side only.
    stack.clean(STACK)
    layout = Layout(STACK, KAFKA_PORT, KAFKA_PORT + 6, brokers=3)
    layout.record()
    kafka.start(layout)
    return layout


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    one = await _measure(bootstrap, database_url, scale, 1)
    layout = await asyncio.to_thread(_three_brokers)
    try:
        three = await _measure(layout.bootstrap, database_url, scale, 3)
    finally:
        await asyncio.to_thread(kafka.stop, layout)
    return _rows(one, three)


def _answered(side: dict) -> str:
    """Answered below the offered 500 requests/s: the services did not keep up, a queue built."""
    return (f"{side['measured']} measured, {side['unanswered']} unanswered, answered at "
            f"{side['answered_rate']:.0f} requests/s")


def _rows(one: dict, three: dict) -> list[dict]:
    setting = ("the same PostgreSQL; three KRaft nodes (broker and controller each) on the same 2 cores, "
               "replication factor 3, min.insync.replicas=2, acks=all")
    notes = {"throughput": (f"{one['count']} pre-loaded mixed requests routed by intake", setting),
             "p50": (f"offered at 500 requests/s; {_answered(one)}", _answered(three)),
             "p99": ("", "")}
    rows = []
    for name, key, unit in (("intake_throughput", "throughput", "requests/s"),
                            ("e2e_latency_p50_at_500rps", "p50", "ms"), ("e2e_latency_p99_at_500rps", "p99", "ms")):
        note_one, note_three = notes[key]
        ratio = f"ratio to one broker {three[key] / one[key]:.2f}"
        rows.append({"name": f"replication_{name}_1_broker", "value": round(one[key], 1), "unit": unit,
                     "target": None, "note": note_one})
        rows.append({"name": f"replication_{name}_3_brokers", "value": round(three[key], 1), "unit": unit,
                     "target": None, "note": f"{ratio}; {note_three}" if note_three else ratio})
    return rows
