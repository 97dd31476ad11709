"""Tracking and reports: what the HTTP API, the CLI and the metrics show, as plain JSON-ready dicts."""
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from services.returns import domain, store
from services.returns.handlers import Unusable, canonical_request_id
from shared.eui import canonical_eui


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def by_reference(conn: asyncpg.Connection, reference: str) -> dict | None:
    found = await store.records(conn, reference=reference.upper())
    return _plain(found[0]) if found else None


async def by_hub(conn: asyncpg.Connection, device_id: str) -> dict | None:
    device_id = canonical_eui(device_id)
    records = await store.records(conn, device_id=device_id)
    requests = await store.hub_requests(conn, device_id)
    if not records and not requests:
        return None
    current = records[-1]["status"] if records else None
    return _plain({"device_id": device_id, "status": current,
                   "requests": [dict(r) for r in requests], "records": records})


async def by_request(conn: asyncpg.Connection, request_id: str) -> dict | None:
    try:
        request_id = canonical_request_id(request_id)
    except Unusable:
        return None
    req = await store.request(conn, request_id)
    if req is None:
        return None
    records = {r["reference"]: r for r in await store.records(conn, request_id=request_id)}
    hubs = []
    for hub in await store.request_hubs(conn, request_id):
        record = records.get(hub["reference"])
        hubs.append({
            "device_id": hub["device_id"], "code": hub["code"], "reference": hub["reference"],
            "status": record["status"] if record else ("refused" if hub["code"] else "awaiting_inventory"),
            "due_by": record["due_by"] if record else None,
            "history": record["history"] if record else [],
        })
    return _plain({
        "request_id": request_id, "originator": req["originator"], "variant": req["variant"],
        "event_time": req["event_time"], "state": req["state"], "response_code": req["response_code"],
        "hubs": hubs,
    })


async def party_requests(conn: asyncpg.Connection, party: str, limit: int = 50, offset: int = 0) -> dict:
    total, rows = await store.party_requests(conn, canonical_eui(party), limit, offset)
    return _plain({"party": canonical_eui(party), "total": total, "limit": limit, "offset": offset,
                   "requests": [dict(r) for r in rows]})


async def open_report(conn: asyncpg.Connection, as_of: datetime) -> list[dict]:
    """Records not received, by returning party: counts by age, and how many are overdue."""
    parties: dict[str, dict] = {}
    for row in await store.open_by_party_and_age(conn, as_of):
        party = parties.setdefault(row["originator"], {
            "party": row["originator"], "open": 0, "overdue": 0,
            "open_by_age": {name: 0 for _, name in domain.AGE_BUCKETS} | {domain.OLDEST_BUCKET: 0}})
        party["open"] += row["open"]
        party["overdue"] += row["overdue"]
        party["open_by_age"][domain.age_bucket(row["created_at"], as_of)] += row["open"]
    return list(parties.values())


async def reasons_report(conn: asyncpg.Connection) -> list[dict]:
    return [dict(r) for r in await store.reasons(conn)]


HUB_STATUSES = ("open", "overdue", "closed", "refused", "awaiting_inventory")


async def party_request_hubs(conn: asyncpg.Connection, party: str, request_id: str,
                             status: str | None, limit: int, offset: int,
                             with_history: bool = True) -> dict | None:
    """One of the party's requests with a page of its hubs (of one status, if given); None when
    the request is not the party's, so that another party's return looks like no return."""
    if status is not None and status not in HUB_STATUSES:
        raise ValueError(f"status must be one of {', '.join(HUB_STATUSES)}")
    try:
        request_id = canonical_request_id(request_id)
    except Unusable:
        return None
    req = await store.party_request(conn, canonical_eui(party), request_id)
    if req is None:
        return None
    counts = {name: 0 for name in HUB_STATUSES}
    counts.update({r["status"]: r["hubs"] for r in await store.hub_status_counts(conn, request_id)})
    hubs = [{**dict(r), "history": orjson.loads(r["history"])}
            for r in await store.hub_page(conn, request_id, status, limit, offset, with_history)]
    return _plain({**dict(req), "counts": counts, "hubs_total": sum(counts.values()),
                   "status": status, "total": counts[status] if status else sum(counts.values()),
                   "limit": limit, "offset": offset, "hubs": hubs})
