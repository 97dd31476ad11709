"""Returns' tables (schema `returns`): requests, their hubs, Returns Remedy Records, history."""
from datetime import date, datetime

import asyncpg
import orjson

from services.returns.domain import Reason
from shared.kafka import Output

_REFERENCE = "'RRR-' || lpad(nextval('returns.record_numbers')::text, 10, '0')"


async def request(conn: asyncpg.Connection, request_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("select * from returns.requests where request_id = $1", request_id)


async def hubs_under_return(conn: asyncpg.Connection, hubs: list[str]) -> set[str]:
    """Hubs with an open record, or awaiting inventory's answer for another request."""
    rows = await conn.fetch(
        """select device_id from returns.records where device_id = any($1) and status <> 'closed'
           union
           select device_id from returns.request_hubs where device_id = any($1) and code is null""",
        hubs,
    )
    return {r["device_id"] for r in rows}


async def insert_request(conn: asyncpg.Connection, *, request_id: str, originator: str, variant: str,
                         reply: dict, reason: Reason, event_time: datetime, command_id: str | None,
                         hubs: list[str], others: list[str | None], codes: list[str | None]) -> None:
    await conn.execute(
        """insert into returns.requests (request_id, originator, variant, reply, reason, event_time,
                                         command_id, state)
           values ($1, $2, $3, $4, $5, $6, $7, 'awaiting_inventory')""",
        request_id, originator, variant, orjson.dumps(reply).decode(),
        orjson.dumps(reason.as_json()).decode(), event_time, command_id,
    )
    await conn.execute(
        """insert into returns.request_hubs (request_id, position, device_id, other_device_id, code)
           select $1, p, d, o, c from unnest($2::int[], $3::text[], $4::text[], $5::text[]) as h(p, d, o, c)""",
        request_id, list(range(len(hubs))), hubs, others, codes,
    )


async def awaiting_hubs(conn: asyncpg.Connection, request_id: str) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(
        "select position, device_id, other_device_id from returns.request_hubs"
        " where request_id = $1 and code is null",
        request_id,
    )
    return {r["device_id"]: r for r in rows}


async def open_records(conn: asyncpg.Connection, req: asyncpg.Record, reason: Reason, due: date,
                       hubs: list[tuple[str, str | None, str | None]]) -> dict[str, str]:
    """One Returns Remedy Record per (hub, gpf, other device); return each hub's reference."""
    if not hubs:
        return {}
    devices, gpfs, others = (list(column) for column in zip(*hubs))
    rows = await conn.fetch(
        f"""insert into returns.records
              (reference, device_id, gpf_id, other_device_id, request_id, originator, kind,
               return_type, fault_reason, connection_method, incident_reference, user_ref_id,
               user_ref_datetime, additional_information, created_at, due_by, status)
            select {_REFERENCE}, d, g, o, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'open'
            from unnest($1::text[], $2::text[], $3::text[]) with ordinality as h(d, g, o, n)
            order by n
            returning reference, device_id""",
        devices, gpfs, others, req["request_id"], req["originator"], reason.kind,
        reason.return_type, reason.fault_reason, reason.connection_method,
        reason.incident_reference, reason.user_ref_id, reason.user_ref_datetime,
        reason.additional_information, req["event_time"], due,
    )
    references = {r["device_id"]: r["reference"] for r in rows}
    await conn.execute(
        """insert into returns.record_history (reference, seq, at, event, detail)
           select r, 1, $2, 'opened', $3 from unnest($1::text[]) as r""",
        list(references.values()), req["event_time"],
        f"returned by {req['originator']} in {req['request_id']}")
    return references


async def add_history(conn: asyncpg.Connection, references: list[str], at: datetime, event: str,
                      detail: str | None) -> None:
    await conn.execute(
        """insert into returns.record_history (reference, seq, at, event, detail)
           select r, coalesce((select max(seq) from returns.record_history h where h.reference = r), 0) + 1,
                  $2, $3, $4
           from unnest($1::text[]) as r""",
        references, at, event, detail,
    )


async def set_hub_codes(conn: asyncpg.Connection, request_id: str, positions: list[int],
                        codes: list[str], references: list[str | None]) -> None:
    await conn.execute(
        """update returns.request_hubs h set code = u.code, reference = u.reference
           from unnest($2::int[], $3::text[], $4::text[]) as u(position, code, reference)
           where h.request_id = $1 and h.position = u.position""",
        request_id, positions, codes, references,
    )


async def hub_outcomes(conn: asyncpg.Connection, request_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """select h.device_id, h.code, h.reference, r.due_by
           from returns.request_hubs h left join returns.records r on r.reference = h.reference
           where h.request_id = $1 order by h.position""",
        request_id,
    )


async def answer(conn: asyncpg.Connection, request_id: str, code: str, output: Output,
                 at: datetime) -> None:
    await conn.execute(
        """update returns.requests set state = 'answered', response_code = $2, response = $3,
                  response_topic = $4, answered_at = $5 where request_id = $1""",
        request_id, code, output.value, output.topic, at,
    )


async def receive(conn: asyncpg.Connection, device_id: str, outcome: str, at: datetime) -> str | None:
    """Close the hub's open record as received; its reference, or None when it has none."""
    reference = await conn.fetchval(
        """update returns.records set status = 'closed', received_at = $2, outcome = $3
           where device_id = $1 and status <> 'closed' returning reference""",
        device_id, at, outcome,
    )
    if reference is not None:
        await add_history(conn, [reference], at, "received", outcome)
        await add_history(conn, [reference], at, "closed", None)
    return reference


async def mark_overdue(conn: asyncpg.Connection, as_of: datetime) -> list[asyncpg.Record]:
    """Open records past their due date as of `as_of`: now overdue and alerted, each once."""
    rows = await conn.fetch(
        """update returns.records set status = 'overdue', overdue_alerted_at = $1
           where status = 'open' and due_by < ($1 at time zone 'UTC')::date
           returning reference, device_id, originator, request_id, due_by""",
        as_of,
    )
    await add_history(conn, [r["reference"] for r in rows], as_of, "overdue", "returning party alerted")
    return sorted(rows, key=lambda r: r["reference"])


# --- What tracking and reports read ---

_RECORD_FIELDS = """r.reference, r.device_id, r.gpf_id, r.request_id, r.originator, r.kind, r.return_type,
    r.fault_reason, r.connection_method, r.other_device_id, r.incident_reference, r.user_ref_id,
    r.user_ref_datetime, r.additional_information, r.created_at, r.due_by, r.status,
    r.overdue_alerted_at, r.received_at, r.outcome"""


async def records(conn: asyncpg.Connection, *, reference: str | None = None,
                  device_id: str | None = None, request_id: str | None = None) -> list[dict]:
    """Records with their history, by reference, by hub or by request (oldest first)."""
    rows = await conn.fetch(
        f"""select {_RECORD_FIELDS},
              coalesce((select jsonb_agg(jsonb_build_object('at', h.at, 'event', h.event, 'detail', h.detail)
                                         order by h.seq)
                        from returns.record_history h where h.reference = r.reference), '[]') as history
            from returns.records r
            where ($1::text is null or r.reference = $1) and ($2::text is null or r.device_id = $2)
              and ($3::text is null or r.request_id = $3)
            order by r.created_at, r.reference""",
        reference, device_id, request_id,
    )
    return [{**dict(r), "history": orjson.loads(r["history"])} for r in rows]


async def hub_requests(conn: asyncpg.Connection, device_id: str) -> list[asyncpg.Record]:
    """Every request that named the hub, with the hub's code there."""
    return await conn.fetch(
        """select h.request_id, h.code, h.reference, q.variant, q.event_time, q.originator
           from returns.request_hubs h join returns.requests q using (request_id)
           where h.device_id = $1 order by q.event_time, h.request_id""",
        device_id,
    )


async def request_hubs(conn: asyncpg.Connection, request_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """select position, device_id, other_device_id, code, reference from returns.request_hubs
           where request_id = $1 order by position""",
        request_id,
    )


_COUNTS = """count(*) as hubs,
    count(*) filter (where h.code = 'I0') as accepted,
    count(*) filter (where h.code <> 'I0') as refused,
    count(*) filter (where h.code is null) as awaiting_inventory,
    count(*) filter (where r.status = 'open') as open,
    count(*) filter (where r.status = 'overdue') as overdue,
    count(*) filter (where r.received_at is not null) as received,
    count(*) filter (where r.status = 'closed') as closed"""


async def party_requests(conn: asyncpg.Connection, party: str, limit: int,
                         offset: int) -> tuple[int, list[asyncpg.Record]]:
    """A party's requests, newest first, one page, with their hubs counted by state."""
    total = await conn.fetchval("select count(*) from returns.requests where originator = $1", party)
    rows = await conn.fetch(
        f"""select q.request_id, q.variant, q.event_time, q.state, q.response_code, {_COUNTS}
            from (select * from returns.requests where originator = $1
                  order by event_time desc, request_id limit $2 offset $3) q
            join returns.request_hubs h using (request_id)
            left join returns.records r on r.reference = h.reference
            group by q.request_id, q.variant, q.event_time, q.state, q.response_code
            order by q.event_time desc, q.request_id""",
        party, limit, offset,
    )
    return total, rows


async def open_by_party_and_age(conn: asyncpg.Connection, as_of: datetime) -> list[asyncpg.Record]:
    """Records not yet received, by party and age in days, and how many are past due as of then."""
    return await conn.fetch(
        """select originator, created_at, count(*) as open,
                  count(*) filter (where due_by < ($1 at time zone 'UTC')::date) as overdue
           from returns.records where status <> 'closed'
           group by originator, created_at order by originator, created_at""",
        as_of,
    )


async def reasons(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """select kind, return_type, coalesce(fault_reason, '') as fault_reason, count(*) as records
           from returns.records group by 1, 2, 3 order by 1, 2, 3""")


_HUB_STATUS = """coalesce(r.status, case when h.code is null then 'awaiting_inventory' else 'refused' end)"""


async def party_request(conn: asyncpg.Connection, party: str, request_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """select request_id, originator, variant, event_time, state, response_code
           from returns.requests where request_id = $1 and originator = $2""",
        request_id, party,
    )


async def hub_status_counts(conn: asyncpg.Connection, request_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""select {_HUB_STATUS} as status, count(*) as hubs
            from returns.request_hubs h left join returns.records r on r.reference = h.reference
            where h.request_id = $1 group by 1""",
        request_id,
    )


_HISTORY = """coalesce((select jsonb_agg(jsonb_build_object('at', x.at, 'event', x.event, 'detail', x.detail)
                                  order by x.seq)
                 from returns.record_history x where x.reference = h.reference), '[]')"""


async def hub_page(conn: asyncpg.Connection, request_id: str, status: str | None, limit: int,
                   offset: int, with_history: bool = True) -> list[asyncpg.Record]:
    """One page of a request's hubs in request order, optionally of one status, with each
    record's history if asked (the primary key on (request_id, position) drives it)."""
    return await conn.fetch(
        f"""select h.position, h.device_id, h.code, h.reference, r.due_by, {_HUB_STATUS} as status,
                   {_HISTORY if with_history else "'[]'::jsonb"} as history
            from returns.request_hubs h left join returns.records r on r.reference = h.reference
            where h.request_id = $1 and ($2::text is null or {_HUB_STATUS} = $2)
            order by h.position limit $3 offset $4""",
        request_id, status, limit, offset,
    )
