"""Run the benchmarks: `python -m tests.bench [--scale 0.1] [--only intake,returns]`.

Uses KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set, else a local stack of its own
(`.stack-bench`). Writes bench-results.json and the table in docs/benchmarks.md.
"""
import argparse
import asyncio
import importlib
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
BENCHES = ["intake", "inventory", "housekeeping", "returns", "ssi"]
console = Console()


def infrastructure() -> tuple[str, str]:
    bootstrap, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if bootstrap and database:
        return bootstrap, database
    from deploy.local import stack
    return stack.ensure_infrastructure(ROOT / ".stack-bench", 29492, 25832)


def available(name: str) -> bool:
    return (ROOT / "tests" / "bench" / f"bench_{name}.py").exists()


async def run(names: list[str], scale: float) -> list[dict]:
    bootstrap, database = infrastructure()
    results = []
    for name in names:
        module = importlib.import_module(f"tests.bench.bench_{name}")
        console.rule(f"[bold]{name}")
        started = time.monotonic()
        rows = await module.main(bootstrap, database, scale)
        for row in rows:
            row.setdefault("ceiling", None)
            row["bench"] = name
        results += rows
        console.print(f"{name}: {len(rows)} figures in {time.monotonic() - started:.0f} s")
    return results


def show(results: list[dict]) -> None:
    table = Table(title="Benchmarks")
    for column in ("bench", "name", "value", "unit", "target", "ceiling", "note"):
        table.add_column(column)
    for r in results:
        table.add_row(*(str(r.get(c) if r.get(c) is not None else "") for c in
                        ("bench", "name", "value", "unit", "target", "ceiling", "note")))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every workload (e.g. 0.1)")
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(BENCHES))
    args = parser.parse_args()
    names = [n for n in (args.only.split(",") if args.only else BENCHES) if available(n)]
    results = asyncio.run(run(names, args.scale))
    show(results)
    report = {"taken_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "scale": args.scale,
              "results": results}
    (ROOT / "bench-results.json").write_text(json.dumps(report, indent=2) + "\n")
    write_docs(report)
    console.print(f"wrote {ROOT / 'bench-results.json'} and docs/benchmarks.md")


def write_docs(report: dict) -> None:
    """Replace the results table in docs/benchmarks.md, keeping the prose around it."""
    doc = ROOT / "docs" / "benchmarks.md"
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = doc.read_text() if doc.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    rows = ["| bench | figure | value | target | same-run ceiling | note |", "|---|---|---|---|---|---|"]
    rows += [f"| {r['bench']} | {r['name']} | {r['value']} {r['unit']} | {r['target']} | "
             f"{r['ceiling'] if r['ceiling'] is not None else ''} | {r.get('note', '')} |"
             for r in report["results"]]
    table = "\n".join([f"Taken {report['taken_at']} on {report['machine']}, scale {report['scale']}.", "",
                        *rows])
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    doc.write_text(f"{before}{start}\n{table}\n{end}{after}")


if __name__ == "__main__":
    main()
