"""The counts table, one row per fault."""
import io
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.reliability.check import Counts

COLUMNS = [("fault", "fault"), ("sent", "sent"), ("answered", "answered"), ("duplicated", "dup"),
           ("lost", "lost"), ("wrong", "wrong code"), ("smi_diffs", "SMI diffs"),
           ("rrr_missing", "RRR miss"), ("rrr_duplicated", "RRR dup"), ("n8_missing", "N8 miss"),
           ("n8_duplicated", "N8 dup"), ("dead_unexpected", "DL unexp"), ("dead_duplicated", "DL dup"),
           ("dead_missing", "DL miss"), ("reads_by_intake", "8.2 by intake"),
           ("changes_by_intake", "changes by intake"), ("changes_kept", "applied, then routed"),
           ("strikes", "strikes"), ("seconds", "seconds")]


def render(rows: list[Counts]) -> str:
    table = Table(title="Faults survived: effects per fault (target: 0 dup, 0 lost, 0 diffs)")
    for _, title in COLUMNS:
        table.add_column(title, justify="left" if title == "fault" else "right")
    for row in rows:
        values = asdict(row)
        table.add_row(*(f"{values[k]:.0f}" if k == "seconds" else str(values[k]) for k, _ in COLUMNS))
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=False).print(table)
    notes = [f"{r.fault}: strikes by target: {', '.join(f'{t} {n}' for t, n in sorted(r.struck.items()))}"
             for r in rows if len(r.struck) > 1]
    notes += [f"{r.fault}: services that exited on their own: {', '.join(r.exits)}" for r in rows if r.exits]
    return out.getvalue() + "".join(n + "\n" for n in notes)


def save(rows: list[Counts], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
