"""bench-results.json and the results table of docs/benchmarks.md.

A row is one figure: bench, name, value, unit, target, ceiling (a same-run ceiling, else null),
met, note, and when, at what scale and on what machine it was taken. A run of some benches
replaces only their rows, so the others keep the figures of their own last run.
"""
import json
import math
import operator
import re
from pathlib import Path

START, END = "<!-- results:start -->", "<!-- results:end -->"
_TARGET = re.compile(r"^\s*(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}


def normalise_target(target) -> str | None:
    """"< 100", ">= 5000", "== 0"; a bare number is an upper bound; None or "-" is no target."""
    if target is None or target == "-" or target == "":
        return None
    if isinstance(target, (int, float)):
        return f"<= {target:g}"
    return str(target).strip()


def target_met(value, target: str | None) -> bool | None:
    """None when there is no target (or none this code can read)."""
    match = _TARGET.match(target or "")
    if match is None:
        return None
    if not isinstance(value, (int, float)) or math.isnan(value):
        return False
    return _COMPARE[match[1]](value, float(match[2]))


def stamp(rows: list[dict], bench: str, taken_at: str, scale: float, machine: str) -> list[dict]:
    """A bench's rows as the report keeps them."""
    out = []
    for row in rows:
        value = row["value"]
        if isinstance(value, float) and math.isnan(value):
            value = None
        target = normalise_target(row.get("target"))
        out.append({"bench": bench, "name": row["name"], "value": value, "unit": row["unit"],
                    "target": target, "ceiling": row.get("ceiling"), "met": target_met(value, target),
                    "note": row.get("note", ""), "taken_at": taken_at, "scale": scale, "machine": machine})
    return out


def previous_rows(report: dict | None) -> list[dict]:
    """The rows of an earlier report; one from before rows carried their own run is read too."""
    if not report:
        return []
    rows = []
    for row in report.get("results", []):
        bench = row["bench"]
        taken_at = row.get("taken_at", report.get("taken_at"))
        rows += stamp([row], bench, taken_at, row.get("scale", report.get("scale")),
                      row.get("machine", report.get("machine")))
    return rows


def merge(previous: list[dict], fresh: list[dict], ran: set[str], order: list[str]) -> list[dict]:
    """Fresh rows replace every row of the benches that ran; benches keep `order`, then their
    rows keep the order they were produced in."""
    kept = [r for r in previous if r["bench"] not in ran]
    rank = {name: i for i, name in enumerate(order)}
    rows = kept + fresh
    return sorted(rows, key=lambda r: rank.get(r["bench"], len(order)))  # sorted() is stable


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def write_json(path: Path, rows: list[dict], updated_at: str) -> None:
    path.write_text(json.dumps({"updated_at": updated_at, "results": rows}, indent=2) + "\n")


def _cell(value) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def _met(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: ""}[met]


def table(rows: list[dict]) -> str:
    runs: dict[str, str] = {}
    for r in rows:
        scale = f"{r['scale']:g}" if isinstance(r["scale"], (int, float)) else "unknown"
        runs.setdefault(r["bench"], f"{r['taken_at']}, scale {scale}, {r['machine']}")
    lines = ["Each bench's figures come from its latest run:", ""]
    lines += [f"- {bench}: {run}" for bench, run in runs.items()]
    lines += ["", "| bench | figure | value | target | met | same-run ceiling | note |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['bench']} | {_cell(r['name'])} | {_cell(r['value'])} {r['unit']} | {_cell(r['target'])} | "
              f"{_met(r['met'])} | {_cell(r['ceiling'])} | {_cell(r['note'])} |" for r in rows]
    return "\n".join(lines)


def write_docs(doc: Path, rows: list[dict]) -> None:
    """Replace what is between the markers, keeping the prose around it."""
    text = doc.read_text() if doc.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    doc.write_text(f"{before}{START}\n{table(rows)}\n{END}{after}")
