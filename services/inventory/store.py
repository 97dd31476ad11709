"""Inventory's tables (schema `inventory`): the SMI, its status history, the archive, the
messages handled, and the report queries. The only file with SQL for this service."""
import asyncio
import dataclasses
from datetime import datetime
from operator import attrgetter

import asyncpg
import orjson

from services.inventory.domain import Device
from shared.kafka import Output

COLUMNS = [f.name for f in dataclasses.fields(Device)]
_ROW = attrgetter(*COLUMNS)  # a device as a row, without dataclasses.astuple's deep copies
_SELECT = f"select {', '.join(COLUMNS)} from inventory.devices"
HISTORY_COLUMNS = ["device_id", "from_status", "to_status", "at", "cause", "party", "reference"]
History = tuple[str, str | None, str | None, datetime, str, str | None, str | None]


def _device(row: asyncpg.Record) -> Device:
    return Device(**dict(row))


async def devices(conn: asyncpg.Connection, ids: list[str], lock: bool = True) -> dict[str, Device]:
    rows = await conn.fetch(f"{_SELECT} where device_id = any($1::text[])"
                            f"{' order by device_id for update' if lock else ''}", ids)
    return {r["device_id"]: _device(r) for r in rows}


async def device(conn: asyncpg.Connection, device_id: str, lock: bool = True) -> Device | None:
    return (await devices(conn, [device_id], lock)).get(device_id)


async def existing_ids(conn: asyncpg.Connection, ids: list[str]) -> set[str]:
    rows = await conn.fetch("select device_id from inventory.devices where device_id = any($1::text[])", ids)
    return {r["device_id"] for r in rows}


async def devices_at_mpxn(conn: asyncpg.Connection, mpxn: str, limit: int) -> list[Device]:
    """The devices at a meter point and the devices linked to them."""
    rows = await conn.fetch(
        f"""with at_point as (select device_id, linked_device_id from inventory.devices where mpxn = $1)
            {_SELECT} where device_id in (select device_id from at_point
                                           union select linked_device_id from at_point)
            order by device_id limit $2""", mpxn, limit)
    return [_device(r) for r in rows]


async def insert(conn: asyncpg.Connection, new: list[Device]) -> None:
    await conn.copy_records_to_table(
        "devices", schema_name="inventory", columns=COLUMNS,
        records=[_ROW(d) for d in new])


async def update(conn: asyncpg.Connection, changed: list[Device]) -> None:
    sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(COLUMNS[1:]))
    await conn.executemany(f"update inventory.devices set {sets} where device_id = $1",
                           [_ROW(d) for d in changed])


async def append_history(conn: asyncpg.Connection, rows: list[History]) -> None:
    await conn.copy_records_to_table("status_history", schema_name="inventory",
                                     columns=HISTORY_COLUMNS, records=rows)


async def history(conn: asyncpg.Connection, device_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"select {', '.join(HISTORY_COLUMNS)} from inventory.status_history"
        " where device_id = $1 order by seq", device_id)


async def archive(conn: asyncpg.Connection, device: Device, at: datetime, cause: str,
                  reason: str | None, policy_version: str | None, reference: str | None) -> None:
    """Move the device and its whole history out of the live SMI, into the archive."""
    record = orjson.dumps(dataclasses.asdict(device)).decode()
    await conn.execute(
        """insert into inventory.archived_devices
             (device_id, archived_at, cause, reason, policy_version, reference, record)
           values ($1, $2, $3, $4, $5, $6, $7::jsonb)""",
        device.device_id, at, cause, reason, policy_version, reference, record)
    await conn.execute("set local inventory.archiving = 'on'")
    await conn.execute(
        """with moved as (delete from inventory.status_history where device_id = $1 returning *)
           insert into inventory.archived_history select * from moved""", device.device_id)
    await conn.execute("set local inventory.archiving = 'off'")
    await conn.execute("delete from inventory.devices where device_id = $1", device.device_id)


async def last_archived(conn: asyncpg.Connection, device_id: str) -> Device | None:
    record = await conn.fetchval(
        "select record from inventory.archived_devices where device_id = $1"
        " order by archived_at desc limit 1", device_id)
    if record is None:
        return None
    values = orjson.loads(record)
    for name in ("status_since", "added_at", "commissioned_at"):
        if values[name]:
            values[name] = datetime.fromisoformat(values[name])
    return Device(**values)


async def archived_history(conn: asyncpg.Connection, device_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"select {', '.join(HISTORY_COLUMNS)} from inventory.archived_history"
        " where device_id = $1 order by seq", device_id)


async def mark_handled(conn: asyncpg.Connection, message_ids: list[str]) -> set[str]:
    """Record these messages as handled; return those that were not handled before."""
    if not message_ids:
        return set()
    rows = await conn.fetch("insert into inventory.handled_messages (message_id) select unnest($1::text[])"
                            " on conflict do nothing returning message_id", message_ids)
    return {r["message_id"] for r in rows}


async def keep_applied(conn: asyncpg.Connection, applied: list[tuple[str, list[Output]]]) -> None:
    """Keep what each message applied through the API produced (kept already: left as it is)."""
    rows = [(mid, seq, o.topic, o.key, o.value, orjson.dumps(o.headers).decode())
            for mid, outputs in applied for seq, o in enumerate(outputs)]
    if rows:
        await conn.execute(
            """insert into inventory.applied_outputs (message_id, seq, out_topic, out_key, out_value, out_headers)
               select * from unnest($1::text[], $2::int[], $3::text[], $4::bytea[], $5::bytea[], $6::jsonb[])
               on conflict do nothing""", *[list(column) for column in zip(*rows)])


async def applied_outputs(conn: asyncpg.Connection, message_ids: list[str]) -> dict[str, list[Output]]:
    """What these messages produced when they were applied through the API, if they were."""
    rows = await conn.fetch("select message_id, out_topic, out_key, out_value, out_headers"
                            " from inventory.applied_outputs where message_id = any($1::text[])"
                            " order by message_id, seq", message_ids)
    kept: dict[str, list[Output]] = {}
    for r in rows:
        headers = tuple(tuple(h) for h in orjson.loads(r["out_headers"]))
        kept.setdefault(r["message_id"], []).append(Output(r["out_topic"], r["out_value"], r["out_key"], headers))
    return kept


async def prune_applied(conn: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Delete up to `limit` kept outputs applied before `before`; return how many went."""
    status = await conn.execute(
        """delete from inventory.applied_outputs where ctid = any(array(
               select ctid from inventory.applied_outputs where applied_at < $1 limit $2))""", before, limit)
    return int(status.split()[-1])


# --- Reports ---

_STATUS_AT = """
    with hubs as (
        select device_id, ordering_party from inventory.devices where device_type = 'CHF'
        union all
        (select distinct on (device_id) device_id, record->>'ordering_party'
           from inventory.archived_devices where record->>'device_type' = 'CHF'
          order by device_id, archived_at desc)),
    moves as (
        select device_id, to_status, at, seq from inventory.status_history
        union all
        select device_id, to_status, at, seq from inventory.archived_history),
    status_at as (
        select distinct on (m.device_id) m.device_id, h.ordering_party, m.to_status
          from moves m join hubs h using (device_id)
         where m.at < $1
         order by m.device_id, m.at desc, m.seq desc)
"""


async def hubs_in_stock(conn: asyncpg.Connection, before: datetime,
                        statuses: list[str]) -> list[asyncpg.Record]:
    """Per ordering party, the CHFs whose status just before `before` is one of `statuses`."""
    return await conn.fetch(
        _STATUS_AT + """select ordering_party, count(*) as hubs from status_at
                        where to_status = any($2::text[]) group by ordering_party
                        order by ordering_party""", before, statuses)


async def pending_by_age(conn: asyncpg.Connection, as_of: datetime,
                         buckets: list[tuple[int, str]]) -> list[asyncpg.Record]:
    """Pending devices by type, owning party and age bucket (whole calendar months)."""
    case = " ".join(f"when months < {upper} then '{label}'"
                    for (_, label), (upper, _) in zip(buckets, buckets[1:]))
    return await conn.fetch(
        f"""with aged as (
              select device_type, coalesce(ordering_party, responsible_supplier, notifying_party) as party,
                     (extract(year from age($1, status_since)) * 12
                      + extract(month from age($1, status_since)))::int as months
                from inventory.devices where status = 'Pending' and status_since <= $1)
            select device_type, party, case {case} else '{buckets[-1][1]}' end as bucket,
                   count(*) as devices
              from aged group by 1, 2, 3 order by 1, 2, 3""", as_of)


async def lifo_installs(conn: asyncpg.Connection, since: datetime, as_of: datetime) -> list[asyncpg.Record]:
    """Per ordering party: hubs installed in [since, as_of) that were delivered after the
    oldest hub of the same party still Pending at `as_of`."""
    return await conn.fetch(
        """with hub as (
              select device_id, ordering_party, added_at from inventory.devices where device_type = 'CHF'),
            installed as (
              select h.device_id, h.ordering_party, h.added_at, min(s.at) as installed_at
                from hub h join inventory.status_history s using (device_id)
               where s.from_status = 'Pending' and s.to_status in ('InstalledNotCommissioned', 'Commissioned')
               group by 1, 2, 3),
            pending as (
              select h.ordering_party, h.added_at
                from hub h join inventory.devices d using (device_id)
               where d.status = 'Pending' and d.status_since <= $2),
            oldest as (
              select ordering_party, min(added_at) as oldest_pending, count(*) as pending
                from pending group by 1)
            select i.ordering_party, o.oldest_pending, o.pending,
                   count(*) as installed,
                   count(*) filter (where i.added_at > o.oldest_pending) as installed_newer,
                   (select count(*) from pending p where p.ordering_party = i.ordering_party
                       and p.added_at < max(i.added_at)) as pending_older
              from installed i join oldest o using (ordering_party)
             where i.installed_at >= $1 and i.installed_at < $2
             group by i.ordering_party, o.oldest_pending, o.pending
            having count(*) filter (where i.added_at > o.oldest_pending) > 0
             order by i.ordering_party""", since, as_of)


TALLY_SLICE_PAGES = 1000  # 8 MB of the table per query: some tens of milliseconds of one core
TALLY_PAUSE_SECONDS = 0.01
_TALLY = """select device_type, coalesce(status, 'none') as status,
                   case when device_type = 'CHF' then ordering_party end as hub_party,
                   case when status = 'Pending' and status_since <= $1 then
                     (extract(year from age($1, status_since)) * 12
                      + extract(month from age($1, status_since)))::int end as pending_months,
                   count(*) as devices
              from inventory.devices where ctid >= $2::tid {upper} group by 1, 2, 3, 4"""


async def device_tally(conn: asyncpg.Connection, as_of: datetime) -> list[dict]:
    """The SMI counted for the gauges: devices by type and status, with a hub's ordering party
    and a Pending device's age in whole months (as `pending_by_age` counts it).

    One snapshot, counted a slice of the table's pages at a time, with a pause between: a
    single scan of a million devices held a core for most of a second and, with the broker's
    and the services' work on a small machine, held back the requests meanwhile. No parallel
    workers either, for the same reason."""
    totals: dict[tuple, int] = {}
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute("set local max_parallel_workers_per_gather = 0")
        # Read after the snapshot is taken: every row it sees lies in a page counted here.
        pages = await conn.fetchval("select pg_relation_size('inventory.devices')"
                                    " / current_setting('block_size')::int")
        first = 0
        while True:
            last = first + TALLY_SLICE_PAGES >= pages
            bounds = [(first, 0)] if last else [(first, 0), (first + TALLY_SLICE_PAGES, 0)]
            rows = await conn.fetch(_TALLY.format(upper="" if last else "and ctid < $3::tid"), as_of, *bounds)
            for row in rows:
                key = tuple(row.items())[:-1]  # every column but the count
                totals[key] = totals.get(key, 0) + row["devices"]
            if last:
                break
            first += TALLY_SLICE_PAGES
            await asyncio.sleep(TALLY_PAUSE_SECONDS)
    return [dict(key, devices=count) for key, count in totals.items()]
