"""Runs, forecasts and retention reports over the entries of one table partition: pure functions
of (entries, policy, instants), so a forecast counts exactly what a run would decide."""
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from services.housekeeping.domain import (
    Decision, DueCutoff, Policy, TrackedDevice, age_in_months, decide, due_at,
)
from services.housekeeping.entries import fields, unpack

Entries = Iterable[tuple[bytes, bytes]]  # (device id, packed entry) of the table


@dataclass
class PartitionRun:
    removals: list[TrackedDevice] = field(default_factory=list)
    retained: Counter = field(default_factory=Counter)  # "decision|TYPE|age in months" -> count

    def count(self, decision: Decision) -> int:
        return sum(n for key, n in self.retained.items() if key.startswith(f"{decision}|"))


def due_candidates(entries: Entries, partition: int, policy: Policy, as_of: datetime):
    """The devices of the partition whose Pending age has reached their type's duration."""
    cutoffs: dict[bytes, DueCutoff] = {}
    for key, entry in entries:
        if entry[0] != partition:
            continue
        values = fields(entry)
        cutoff = cutoffs.get(values[0])
        if cutoff is None:
            cutoff = cutoffs[values[0]] = DueCutoff(policy.months_for(values[0].decode()), as_of)
        if cutoff.is_due(int(values[1])):
            yield unpack(key.decode(), entry)


def plan_run(entries: Entries, partition: int, policy: Policy, as_of: datetime) -> PartitionRun:
    run = PartitionRun()
    for device in due_candidates(entries, partition, policy, as_of):
        decision = decide(device, policy, as_of)
        if decision is Decision.REMOVE:
            run.removals.append(device)
        elif decision is not Decision.NOT_DUE:
            run.retained[f"{decision}|{device.device_type}|{age_in_months(device.pending_since, as_of)}"] += 1
    return run


def forecast(entries: Entries, partition: int, policy: Policy, start: datetime, end: datetime) -> dict:
    """What daily runs from `start` to `end` would remove and retain, counted by
    "TYPE|notifying party|YYYY-MM" (the month the device becomes due, or `start`'s month for a
    device already due then: the first run removes it)."""
    removed, retained = Counter(), Counter()
    for device in due_candidates(entries, partition, policy, end):
        decision = decide(device, policy, end)
        month = max(due_at(device, policy), start).strftime("%Y-%m")
        key = f"{device.device_type}|{device.notifying_party}|{month}"
        if decision is Decision.REMOVE:
            removed[key] += 1
        elif decision is not Decision.NOT_DUE:
            retained[f"{decision}|{key}"] += 1
    return {"removed": dict(removed), "retained": dict(retained)}


def retention(entries: Entries, partition: int, policy: Policy, as_of: datetime) -> dict:
    """Devices kept only because their type is excluded, by "TYPE|notifying party|age in months",
    and the earliest Pending start among them."""
    kept, oldest = Counter(), None
    for device in due_candidates(entries, partition, policy, as_of):
        if device.device_type in policy.excluded_types:
            kept[f"{device.device_type}|{device.notifying_party}|"
                 f"{age_in_months(device.pending_since, as_of)}"] += 1
            oldest = min(oldest or device.pending_since, device.pending_since)
    return {"kept": dict(kept), "oldest_pending_since": oldest.isoformat() if oldest else None}


def _by(counts: Counter, position: int) -> dict:
    total = Counter()
    for key, n in counts.items():
        total[key.split("|")[position]] += n
    return dict(sorted(total.items()))


def _merge(parts: list[dict], name: str) -> Counter:
    total = Counter()
    for part in parts:
        total.update(part.get(name, {}))
    return total


def forecast_summary(parts: list[dict]) -> dict:
    removed, retained = _merge(parts, "removed"), _merge(parts, "retained")
    retained_plain = Counter()
    for key, n in retained.items():
        retained_plain[key.split("|", 1)[1]] += n
    return {
        "removed": {"total": sum(removed.values()), "by_type": _by(removed, 0),
                    "by_notifying_party": _by(removed, 1), "by_month": _by(removed, 2)},
        "retained": {"total": sum(retained.values()), "by_type": _by(retained_plain, 0),
                     "by_notifying_party": _by(retained_plain, 1), "by_month": _by(retained_plain, 2),
                     "by_reason": _by(retained, 0)},
    }


def retention_summary(parts: list[dict]) -> dict:
    kept = _merge(parts, "kept")
    oldest = [p["oldest_pending_since"] for p in parts if p.get("oldest_pending_since")]
    by_age = {str(k): v for k, v in sorted(((int(a), n) for a, n in _by(kept, 2).items()))}
    return {"total": sum(kept.values()), "by_type": _by(kept, 0), "by_notifying_party": _by(kept, 1),
            "by_age_months": by_age, "oldest_pending_since": min(oldest) if oldest else None}
