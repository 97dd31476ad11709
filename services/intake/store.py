"""Intake's tables (schema `intake`): the RequestIDs taken in and their responses."""
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class NewRequest:
    request_id: str
    originator: str
    variant: str
    format: str
    received_at: datetime
    outcome: str
    response: bytes | None
    response_topic: str | None
    subject: str | None = None  # what a change for inventory is about (`inventory_api`)


async def insert_new(conn: asyncpg.Connection, requests: list[NewRequest]) -> set[str]:
    """Insert the requests not seen before; return the RequestIDs that were new."""
    if not requests:
        return set()
    rows = await conn.fetch(
        """insert into intake.requests
             (request_id, originator, variant, format, received_at, outcome, response, response_topic,
              subject)
           select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                                $6::text[], $7::bytea[], $8::text[], $9::text[])
           on conflict (request_id) do nothing
           returning request_id""",
        *[list(column) for column in zip(*(
            (r.request_id, r.originator, r.variant, r.format, r.received_at, r.outcome, r.response,
             r.response_topic, r.subject) for r in requests))],
    )
    return {row["request_id"] for row in rows}


async def answered(conn: asyncpg.Connection, responses: list[tuple[str, bytes, str]]) -> None:
    """Requests recorded as routed that inventory's API completed after all: their responses,
    from (RequestID, response, topic)."""
    if responses:
        await conn.execute(
            """update intake.requests r set outcome = 'answered', response = a.response, response_topic = a.topic
               from unnest($1::text[], $2::bytea[], $3::text[]) as a(id, response, topic)
               where r.request_id = a.id""", *[list(column) for column in zip(*responses)])


async def unanswered_subjects(conn: asyncpg.Connection, subjects: list[str]) -> set[str]:
    """Which of these devices (or places) a change routed to inventory and not yet answered is about."""
    if not subjects:
        return set()
    rows = await conn.fetch(
        "select distinct subject from intake.requests"
        " where subject = any($1::text[]) and response is null and subject is not null",
        subjects)
    return {row["subject"] for row in rows}


async def responses_of(conn: asyncpg.Connection, request_ids: list[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(
        "select request_id, response, response_topic, format from intake.requests"
        " where request_id = any($1)",
        request_ids,
    )
    return {r["request_id"]: r for r in rows}


async def await_response(conn: asyncpg.Connection, request_ids: list[str]) -> set[str]:
    """Replays of requests still without a response wait for it; return those that wait."""
    if not request_ids:
        return set()
    rows = await conn.fetch(
        """update intake.requests r set pending_replays = r.pending_replays + n.count
           from (select id, count(*) as count from unnest($1::text[]) as id group by id) n
           where r.request_id = n.id and r.response is null
           returning r.request_id""",
        request_ids,
    )
    return {row["request_id"] for row in rows}


async def record_responses(conn: asyncpg.Connection,
                           responses: list[tuple[str, bytes, str]]) -> dict[str, int]:
    """Keep the first response seen for each routed request, from (RequestID, response, topic)
    in the order seen; return the replays waiting for each request answered now."""
    if not responses:
        return {}
    # One UPDATE, its row lock what orders it against `await_response`: whichever comes second
    # sees the other's effect. pending_replays is left as it was, the replays that waited.
    rows = await conn.fetch(
        """with incoming as (
               select distinct on (id) id, response, topic
               from unnest($1::text[], $2::bytea[], $3::text[]) with ordinality as i(id, response, topic, n)
               order by id, n)
           update intake.requests r
           set response = i.response, response_topic = i.topic
           from incoming i
           where r.request_id = i.id and r.response is null
           returning r.request_id, r.pending_replays""",
        *[list(column) for column in zip(*responses)],
    )
    return {row["request_id"]: row["pending_replays"] for row in rows}
