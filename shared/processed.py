"""What the processor keeps in a service's schema to apply each record once: where each
partition's batches have got to (`processed_positions`) and what each record produced
(`processed_records`, in generations emptied by TRUNCATE once committed; see the migration
`processed_generations`)."""
from collections.abc import Awaitable, Callable, Iterable

import asyncpg
import orjson
from aiokafka.structs import ConsumerRecord

from shared.kafka import Output

Key = tuple[str, int, int]
Place = tuple[str, int]  # topic, partition
Last = tuple[str, str, int]  # consumer, topic, partition
LOCK_TIMEOUT = "100ms"  # a generation still being read is cleared at a later try


def key(record: ConsumerRecord) -> Key:
    return (record.topic, record.partition, record.offset)


async def claim(conn: asyncpg.Connection, schema: str, consumer: str,
                records: list[ConsumerRecord]) -> dict[Place, int]:
    """Move the batch's partitions' positions past its records; return, per partition, the
    offset below which records were applied before. The row locks last until the transaction
    ends, so another owner's batch of the same partition waits for this one and sees its end."""
    ends: dict[Place, int] = {}
    for r in records:
        ends[(r.topic, r.partition)] = max(ends.get((r.topic, r.partition), 0), r.offset + 1)
    topics, partitions, offsets = [t for t, _ in ends], [p for _, p in ends], list(ends.values())
    moved = await _move(conn, schema, consumer, topics, partitions, offsets)
    if len(moved) < len(ends):  # partitions this group never had: from the start
        await conn.execute(
            f"""insert into {schema}.processed_positions
                  (consumer, topic, partition, next_offset, prior_next_offset)
                select $1, t, p, 0, 0 from unnest($2::text[], $3::int[]) as u(t, p)
                on conflict do nothing""", consumer, topics, partitions)
        moved = await _move(conn, schema, consumer, topics, partitions, offsets)
    return moved


async def _move(conn, schema, consumer, topics, partitions, offsets) -> dict[Place, int]:
    rows = await conn.fetch(
        f"""update {schema}.processed_positions p
            set prior_next_offset = p.next_offset, next_offset = greatest(p.next_offset, u.next_offset)
            from unnest($2::text[], $3::int[], $4::bigint[]) as u(topic, partition, next_offset)
            where p.consumer = $1 and p.topic = u.topic and p.partition = u.partition
            returning p.topic, p.partition, p.prior_next_offset""",
        consumer, topics, partitions, offsets)
    return {(r["topic"], r["partition"]): r["prior_next_offset"] for r in rows}


async def saved_below(conn: asyncpg.Connection, schema: str, consumer: str, places: set[Place]) -> dict[Place, int]:
    """Per partition, one past the highest offset with saved outputs (0: none)."""
    rows = await conn.fetch(
        f"""select u.topic, u.partition,
                   (select max(p."offset") + 1 from {schema}.processed_records p
                    where p.consumer = $1 and p.topic = u.topic and p.partition = u.partition) as below
            from unnest($2::text[], $3::int[]) as u(topic, partition)""",
        consumer, [t for t, _ in places], [p for _, p in places])
    return {(r["topic"], r["partition"]): r["below"] or 0 for r in rows}


async def load(conn: asyncpg.Connection, schema: str, consumer: str,
               records: list[ConsumerRecord]) -> dict[Key, list[Output]]:
    """The saved outputs of those of these records that were applied and saved before."""
    rows = await conn.fetch(
        f"""select p.topic, p.partition, p."offset", p.out_topic, p.out_key, p.out_value, p.out_headers
            from {schema}.processed_records p
            join unnest($2::text[], $3::int[], $4::bigint[]) as r(topic, partition, "offset")
              on (p.topic, p.partition, p."offset") = (r.topic, r.partition, r."offset")
            where p.consumer = $1 order by p.seq""",
        consumer, [r.topic for r in records], [r.partition for r in records], [r.offset for r in records])
    done: dict[Key, list[Output]] = {}
    for row in rows:
        outs = done.setdefault((row["topic"], row["partition"], row["offset"]), [])
        if row["out_topic"] is not None:
            headers = tuple(tuple(h) for h in orjson.loads(row["out_headers"]))
            outs.append(Output(row["out_topic"], row["out_value"], row["out_key"], headers))
    return done


async def save(conn: asyncpg.Connection, schema: str, consumer: str,
               results: Iterable[tuple[ConsumerRecord, list[Output]]], save_empty: bool) -> None:
    rows = []
    for record, outputs in results:
        position = (consumer, record.topic, record.partition, record.offset)
        if not outputs and save_empty:
            rows.append((*position, -1, None, None, None, None))
        for seq, o in enumerate(outputs):
            rows.append((*position, seq, o.topic, o.key, o.value, orjson.dumps(o.headers).decode()))
    if rows:
        await conn.copy_records_to_table(
            "processed_records", schema_name=schema, records=rows,
            columns=["consumer", "topic", "partition", "offset", "seq",
                     "out_topic", "out_key", "out_value", "out_headers"])


CommittedOffsets = Callable[[str], Awaitable[dict[Place, int]]]


async def clear_next_generation(conn: asyncpg.Connection, schema: str, committed: CommittedOffsets) -> str:
    """Empty the generation whose turn comes next if every row in it is below its group's
    committed offset (`committed`: a group's committed offsets, read from Kafka); otherwise
    delete the rows that are. Return what was done: empty, truncated, pruned or busy."""
    table = f"{schema}.processed_records_{await conn.fetchval(f'select {schema}.processed_generation_next()')}"
    last = await _last_offsets(conn, table)
    if not last:
        return "empty"
    offsets = {group: await committed(group) for group in {consumer for consumer, _, _ in last}}
    below = {k: offsets[k[0]].get(k[1:], -1) for k in last}
    try:
        async with conn.transaction():
            await conn.execute(f"set local lock_timeout = '{LOCK_TIMEOUT}'")
            await conn.execute(f"lock table {table} in access exclusive mode")
            last = await _last_offsets(conn, table)  # rows saved meanwhile count too
            if all(below.get(k, -1) > offset for k, offset in last.items()):
                await conn.execute(f"truncate {table}")
                return "truncated"
    except asyncpg.LockNotAvailableError:
        return "busy"
    # A group that stopped before committing keeps its rows here; the others' go row by row.
    await conn.execute(
        f"""delete from {table} p
            using unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) as c(consumer, topic, partition, below)
            where (p.consumer, p.topic, p.partition) = (c.consumer, c.topic, c.partition) and p."offset" < c.below""",
        *[list(column) for column in zip(*((*k, offset) for k, offset in below.items()))])
    return "pruned"


async def _last_offsets(conn: asyncpg.Connection, table: str) -> dict[Last, int]:
    """The highest offset saved per consumer and partition, by skipping through the index."""
    rows = await conn.fetch(
        f"""with recursive places as (
                (select consumer, topic, partition from {table} order by consumer, topic, partition limit 1)
                union all
                select n.* from places c cross join lateral (
                    select consumer, topic, partition from {table}
                    where (consumer, topic, partition) > (c.consumer, c.topic, c.partition)
                    order by consumer, topic, partition limit 1) n)
            select c.consumer, c.topic, c.partition,
                   (select max("offset") from {table} p
                    where (p.consumer, p.topic, p.partition) = (c.consumer, c.topic, c.partition)) as last
            from places c""")
    return {(r["consumer"], r["topic"], r["partition"]): r["last"] for r in rows}
