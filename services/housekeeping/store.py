"""Housekeeping's own records in PostgreSQL (schema housekeeping): runs, decisions, confirmed
removals, query answers. The device-age state itself is the faust table, never here."""
from datetime import datetime

import asyncpg
import orjson


async def save_run(conn: asyncpg.Connection, as_of: datetime, partition: int, policy_version: str,
                   decisions: list[tuple], retained: dict[str, int], retained_excluded: int,
                   retained_by_rule: int, events_covered: int) -> None:
    """decisions: (device_id, device_type, pending_since, notifying_party, decision, command_id).
    A run asked again adds its removals to the partition's row and replaces what it retained."""
    async with conn.transaction():
        await conn.execute("""delete from housekeeping.decisions where as_of = $1 and device_id = any($2)""",
                           as_of, [d[0] for d in decisions])
        await conn.copy_records_to_table(
            "decisions", schema_name="housekeeping",
            columns=["as_of", "device_id", "device_type", "pending_since", "notifying_party",
                     "decision", "command_id", "policy_version"],
            records=[(as_of, *d, policy_version) for d in decisions])
        await conn.execute(
            """insert into housekeeping.runs as r (as_of, partition, policy_version, removals_requested,
                 retained_excluded, retained_by_rule, retained, events_covered)
               values ($1, $2, $3, $4, $5, $6, $7, $8)
               on conflict (as_of, partition) do update set
                 policy_version = excluded.policy_version,
                 removals_requested = r.removals_requested + excluded.removals_requested,
                 retained_excluded = excluded.retained_excluded, retained_by_rule = excluded.retained_by_rule,
                 retained = excluded.retained,
                 events_covered = greatest(r.events_covered, excluded.events_covered),
                 attempts = r.attempts + 1, completed_at = now()""",
            as_of, partition, policy_version, len(decisions), retained_excluded, retained_by_rule,
            orjson.dumps(retained).decode(), events_covered)


async def run_summary(conn: asyncpg.Connection, as_of: datetime) -> list[asyncpg.Record]:
    return await conn.fetch("""select partition, policy_version, removals_requested, retained_excluded,
                                      retained_by_rule, retained, events_covered, attempts, completed_at
                               from housekeeping.runs where as_of = $1 order by partition""", as_of)


async def record_removals(conn: asyncpg.Connection, rows: list[tuple]) -> set[tuple[int, int]]:
    """rows: (device_id, pending_since, party, policy_version, alerted, partition, offset, removed_at).
    Returns the source positions that own their removal: the first record of each Pending spell,
    or the same record delivered again. Any other record repeats a removal already announced."""
    if not rows:
        return set()
    columns = list(zip(*rows))
    owned = await conn.fetch(
        """with incoming as (
             select * from unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bool[],
                                  $6::int[], $7::bigint[], $8::timestamptz[])
               as t(device_id, pending_since, notifying_party, policy_version, alerted,
                    source_partition, source_offset, removed_at)),
           inserted as (
             insert into housekeeping.removals select * from incoming
             on conflict (device_id, pending_since) do nothing returning device_id, pending_since)
           select i.source_partition, i.source_offset from incoming i
           where exists (select 1 from inserted n where (n.device_id, n.pending_since) = (i.device_id, i.pending_since))
              or exists (select 1 from housekeeping.removals r
                         where (r.device_id, r.pending_since) = (i.device_id, i.pending_since)
                           and (r.source_partition, r.source_offset) = (i.source_partition, i.source_offset))""",
        *columns)
    return {(r["source_partition"], r["source_offset"]) for r in owned}


async def save_query_part(conn: asyncpg.Connection, query_id: str, partition: int, result: dict) -> None:
    await conn.execute("""insert into housekeeping.query_parts (query_id, partition, result)
                          values ($1, $2, $3) on conflict do nothing""",
                       query_id, partition, orjson.dumps(result).decode())


async def query_parts(conn: asyncpg.Connection, query_id: str) -> list[dict]:
    rows = await conn.fetch("select result from housekeeping.query_parts where query_id = $1", query_id)
    return [orjson.loads(r["result"]) for r in rows]
