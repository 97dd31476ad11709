"""End to end: a mix of Service Requests offered at a fixed 500 requests/s to intake and inventory
(separate processes), each request's latency from its due time on the schedule to its response
being read from the responses topic (read_committed). Open loop, so no coordinated omission.

The SMI is filled first with the devices the mix reads and changes; the first seconds at full rate
are a warm-up (answered, plotted, not counted); then the measured period.

The same requests are then offered at the same rate to two echoes of the same two-hop shape
(`tests/bench/echo.py`): the platform's kernel with the database and the logic taken out (the
same-run transactional ceiling the platform's p99 is judged against), and plain consume-and-produce
without transactions (the floor)."""
import asyncio
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tests.bench.echo import offered_to_echo
from tests.bench.openloop import LatencyBook, offer, percentile
from tests.bench.plot import latency_png
from tests.bench.workload import (Record, free_port, load_topic, read_arrivals, answered_by_intake,
                                  service_mix, smi_population, stop_processes, wait_idle)
from tests.support import drop_database, isolated_settings, start_process

RATE = 500
TARGET_P99_MS = 100
TARGET_RATIO_TO_ECHO = 2
PLOT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks-latency.png"
MIX = "50% 8.2 Read Inventory, 30% 12.2 pre-notification, 20% 8.4 status change; 20% JSON, 80% XML"


@dataclass
class Run:
    book: LatencyBook
    plan: list[Record]    # every request offered, in order
    ids: list[str]        # their RequestIDs
    warmup_n: int         # the first ones, answered but not counted
    population: int
    settled: float        # seconds the services took to go idle after the SMI was filled
    logs: Path
    by_intake: dict[str, tuple[int, int]]  # the mix's reads and changes intake completed itself, of all


async def offer_mix(bootstrap: str, database_url: str, warmup_s: float, measured_s: float,
                    population: int, **overrides) -> Run:
    """The SMI filled, intake and inventory idle, then the mix offered at RATE; `overrides` go
    to the platform's settings (e.g. replication_factor)."""
    warmup_n, measured_n = int(RATE * warmup_s), int(RATE * measured_s)
    population = max((warmup_n + measured_n) // 5 + 1, population)
    plan = service_mix(warmup_n + measured_n, population)
    port = free_port()  # inventory's read API, which intake answers Read Inventory from
    settings = await isolated_settings(bootstrap, database_url, http_port=port,
                                       inventory_url=f"http://127.0.0.1:{port}", **overrides)
    logs = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    processes = []
    try:
        await load_topic(bootstrap, settings.topics.requests, smi_population(population))
        processes = [start_process(name, settings, logs / f"{name}.log") for name in ("intake", "inventory")]
        await read_arrivals(bootstrap, [settings.topics.device_events], population, 600)
        settled = await wait_idle([p.pid for p in processes])
        filled = await answered_by_intake(settings)  # the SMI's fill: batches over the limit, routed
        book = await offer(bootstrap, settings.topics.requests, plan, RATE, [settings.topics.responses], 30)
        after = await answered_by_intake(settings)
        by_intake = {kind: (after[kind][0] - filled[kind][0], after[kind][1] - filled[kind][1]) for kind in after}
    finally:
        stop_processes(processes)
        await drop_database(settings, database_url)
    return Run(book, plan, [r.request_id for r in plan], warmup_n, population, settled, logs, by_intake)


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    warmup_s, measured_s = max(5.0, 10 * scale), max(10.0, 60 * scale)
    run = await offer_mix(bootstrap, database_url, warmup_s, measured_s, int(100_000 * scale))
    book, ids, population, settled = run.book, run.ids, run.population, run.settled
    warmup, measured = ids[:run.warmup_n], ids[run.warmup_n:]
    latencies = book.latencies(measured)
    echoes = {mode: (await offered_to_echo(bootstrap, database_url, mode, 2, run.plan, RATE, run.logs))
              .latencies(measured) for mode in ("transactional", "plain")}
    missing, refused = len(book.unanswered(ids)), len(book.not_accepted(ids))
    start = book.due[ids[0]]
    latency_png(PLOT, _points(book, warmup, start), _points(book, measured, start), TARGET_P99_MS,
                f"{RATE} requests/s offered, intake + inventory; scale {scale:g}, "
                f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")

    def ms(q: float, of: list[float] = latencies) -> float:
        return round(percentile(of, q) * 1000, 1) if of else float("nan")

    echo_p99, floor_p99 = ms(0.99, echoes["transactional"]), ms(0.99, echoes["plain"])

    setting = (f"{len(measured)} requests over {measured_s:g} s after a {warmup_s:g} s warm-up; {MIX}; "
               f"{population} devices in the SMI, services settled for {settled:.0f} s first; "
               f"{run.by_intake['reads'][0]} of the {run.by_intake['reads'][1]} reads and "
               f"{run.by_intake['changes'][0]} of the {run.by_intake['changes'][1]} changes completed by "
               f"intake from inventory's API (one Kafka transaction), the others by inventory (two)")
    return [
        {"name": "e2e_latency_p50_at_500rps", "value": ms(0.5), "unit": "ms", "target": None,
         "note": f"due time on the schedule to the response read (read_committed); {setting}"},
        {"name": "e2e_latency_p99_at_500rps", "value": ms(0.99), "unit": "ms", "target": f"< {TARGET_P99_MS}",
         "note": "no coordinated omission: latency counts from each request's due time"},
        {"name": "e2e_p99_ratio_to_transactional_echo", "value": round(ms(0.99) / echo_p99, 2), "unit": "x",
         "target": f"<= {TARGET_RATIO_TO_ECHO}", "ceiling": echo_p99,
         "note": f"the same requests at the same rate through two hops of the platform's kernel with the "
                 f"database and logic taken out: p50 {ms(0.5, echoes['transactional'])} ms, p99 {echo_p99} ms "
                 f"({len(echoes['transactional'])} answered of {len(measured)}); without transactions (the "
                 f"floor): p50 {ms(0.5, echoes['plain'])} ms, p99 {floor_p99} ms"},
        {"name": "e2e_latency_p99_9_at_500rps", "value": ms(0.999), "unit": "ms", "target": None, "note": ""},
        {"name": "e2e_latency_max_at_500rps", "value": round(max(latencies, default=float("nan")) * 1000, 1),
         "unit": "ms", "target": None, "note": "plot: benchmarks-latency.png"},
        {"name": "e2e_achieved_rate", "value": round(book.achieved_rate(measured), 1), "unit": "requests/s",
         "target": f">= {RATE * 0.99:g}",
         "note": f"measured period; generator at worst {book.worst_send_lag(ids) * 1000:.1f} ms behind schedule; "
                 f"answered at {book.answer_rate(ids):.0f} requests/s over the whole run"},
        {"name": "e2e_unanswered", "value": missing, "unit": "requests", "target": "== 0",
         "note": f"of {len(ids)} sent (warm-up included), 30 s after the last; answered but not I0: {refused}; "
                 f"answered twice: {book.duplicates}"},
    ]


def _points(book: LatencyBook, ids: list[str], start: float) -> list[tuple[float, float]]:
    return [(book.due[r] - start, book.answered[r] - book.due[r]) for r in ids if r in book.answered]


if __name__ == "__main__":
    for row in asyncio.run(main(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"],
                                float(sys.argv[1]) if len(sys.argv) > 1 else 0.1)):
        print(row)
