"""Run the benchmarks: `python -m tests.bench [--scale 0.1] [--only intake,returns]`.

Uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set, else a local stack of its own, used as it
is while it runs and wiped and started afresh when it does not (`.stack-bench`,
SMI_BENCH_KAFKA_PORT and SMI_BENCH_PG_PORT move it off its default ports). Merges the figures into bench-results.json and the table in docs/benchmarks.md:
the benches that ran replace their own rows, the others keep theirs.
"""
import argparse
import asyncio
import importlib
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.bench import report

ROOT = Path(__file__).resolve().parents[2]
RESULTS, DOC = ROOT / "bench-results.json", ROOT / "docs" / "benchmarks.md"
STACK = ROOT / ".stack-bench"
BENCHES = ["signing", "intake", "inventory", "housekeeping", "returns", "ssi", "e2e", "replication"]
COLUMNS = ("bench", "name", "value", "unit", "target", "met", "ceiling", "note")
console = Console()
WARM_UP_S = 90  # the mix carried, uncounted, by a stack just started


def infrastructure() -> tuple[str, str, bool]:
    """The broker and database the environment names, else the bench's own stack: used as it is
    while it runs (runs in a row meet a warm broker), started afresh when it does not (a broker
    still holding the groups and transactional ids of days of earlier runs measured slower).
    The third value says whether the stack was started just now."""
    bootstrap, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if bootstrap and database:
        return bootstrap, database, False
    from deploy.local import stack
    started = not any(stack.status(STACK).values())
    if started:
        stack.clean(STACK)
    return *stack.ensure_infrastructure(STACK, int(os.environ.get("SMI_BENCH_KAFKA_PORT") or 29492),
                                        int(os.environ.get("SMI_BENCH_PG_PORT") or 25832)), started


async def warm_up(bootstrap: str, database: str) -> None:
    """A broker just started compiles itself under its first minute of load, and the first bench
    to meet it measured that (docs/benchmarks.md, "A broker that kept every earlier run")."""
    from tests.bench import bench_e2e
    console.rule(f"[bold]warm-up: the end-to-end mix for {WARM_UP_S} s on a broker just started")
    await bench_e2e.offer_mix(bootstrap, database, 0, WARM_UP_S, 20_000)


def available(name: str) -> bool:
    return (ROOT / "tests" / "bench" / f"bench_{name}.py").exists()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


async def run(names: list[str], scale: float) -> list[dict]:
    bootstrap, database, started = infrastructure()
    if started:
        await warm_up(bootstrap, database)
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    results = []
    for name in names:
        module = importlib.import_module(f"tests.bench.bench_{name}")
        console.rule(f"[bold]{name}")
        started, taken_at = time.monotonic(), now()
        rows = report.stamp(await module.main(bootstrap, database, scale), name, taken_at, scale, machine)
        results += rows
        console.print(f"{name}: {len(rows)} figures in {time.monotonic() - started:.0f} s")
    return results


def show(results: list[dict]) -> None:
    table = Table(title="Benchmarks")
    for column in COLUMNS:
        table.add_column(column)
    for r in results:
        table.add_row(*(str(r[c]) if r[c] is not None else "" for c in COLUMNS))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every workload (e.g. 0.1)")
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(BENCHES))
    args = parser.parse_args()
    names = [n for n in (args.only.split(",") if args.only else BENCHES) if available(n)]
    fresh = asyncio.run(run(names, args.scale))
    show(fresh)
    rows = report.merge(report.previous_rows(report.load(RESULTS)), fresh, set(names), BENCHES)
    report.write_json(RESULTS, rows, now())
    report.write_docs(DOC, rows)
    console.print(f"merged {len(fresh)} figures into {RESULTS.name} and docs/benchmarks.md ({len(rows)} in all)")


if __name__ == "__main__":
    main()
