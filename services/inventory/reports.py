"""Reports from the SMI and its status history, for the SEC Panel and the parties.

- CH Stock Level Charge (SEC K7.5): per ordering party, the hubs (counted by their CHF) delivered
  and accepted but not yet commissioned, at the end of a given date (UTC): those whose status at
  that instant is Pending, Whitelisted or InstalledNotCommissioned. A hub returned (Withdrawn), or
  removed from the SMI, is not in stock from then on.
- Stock ageing: devices Pending now, by type, owning party (ordering party for hubs, else the
  Responsible Supplier, else the Notifying Party) and age in whole calendar months.
- Last-in-first-out: per ordering party, hubs installed in a window that were delivered after the
  oldest hub of the same party still Pending (SECMP0060 consultation).
"""
from datetime import date, datetime, time, timedelta, timezone

import asyncpg

from services.inventory import store

IN_STOCK = ["Pending", "Whitelisted", "InstalledNotCommissioned"]
# (lowest age in months, label): each bucket runs to the next one's lowest age.
AGE_BUCKETS = [(0, "0-3"), (3, "3-6"), (6, "6-12"), (12, "12-24"), (24, "24-36"), (36, "36+")]


def age_bucket(months: int) -> str:
    """The bucket of an age in whole months (the SQL of `store.pending_by_age` does the same)."""
    label = AGE_BUCKETS[0][1]
    for low, name in AGE_BUCKETS:
        if months >= low:
            label = name
    return label


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, timezone.utc)


async def ch_stock_level(conn: asyncpg.Connection, day: date) -> dict:
    rows = await store.hubs_in_stock(conn, end_of(day), IN_STOCK)
    return {"report": "ch_stock_level", "date": day.isoformat(), "statuses": IN_STOCK,
            "parties": [{"ordering_party": r["ordering_party"], "hubs": r["hubs"]} for r in rows],
            "total": sum(r["hubs"] for r in rows)}


async def stock_ageing(conn: asyncpg.Connection, as_of: datetime) -> dict:
    rows = await store.pending_by_age(conn, as_of, AGE_BUCKETS)
    return {"report": "stock_ageing", "as_of": as_of.isoformat(),
            "buckets": [label for _, label in AGE_BUCKETS],
            "rows": [{"device_type": r["device_type"], "party": r["party"], "age_months": r["bucket"],
                      "devices": r["devices"]} for r in rows],
            "total": sum(r["devices"] for r in rows)}


async def lifo(conn: asyncpg.Connection, since: datetime, as_of: datetime) -> dict:
    rows = await store.lifo_installs(conn, since, as_of)
    return {"report": "lifo", "since": since.isoformat(), "as_of": as_of.isoformat(),
            "parties": [{"ordering_party": r["ordering_party"],
                         "oldest_pending_delivered_at": r["oldest_pending"].isoformat(),
                         "pending_hubs": r["pending"], "installed": r["installed"],
                         "installed_newer_than_oldest_pending": r["installed_newer"],
                         "pending_older_than_newest_installed": r["pending_older"]} for r in rows]}
