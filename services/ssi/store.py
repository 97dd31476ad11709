"""The SSI's SQL: the alerts it keeps (schema `ssi`) and the party registry it signs in against."""
from datetime import datetime

import asyncpg
import orjson


async def party_credential(conn: asyncpg.Connection, party: str) -> asyncpg.Record | None:
    """A Service User's name and credential hash (CSPs do not use the SSI)."""
    return await conn.fetchrow(
        "select eui, name, credential from registry.parties where eui = $1 and kind = 'service_user'",
        party)


async def party_names(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch("select eui, name from registry.parties where kind = 'service_user'"
                            " and credential is not null order by eui")
    return {r["eui"]: r["name"] for r in rows}


async def save_alerts(conn: asyncpg.Connection,
                      alerts: list[tuple[str, int, int, str, datetime, str, str | None, dict]]) -> None:
    await conn.executemany(
        """insert into ssi.alerts (topic, partition, "offset", party, sent_at, code, device_id, payload)
           values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict do nothing""",
        [(*a[:7], orjson.dumps(a[7]).decode()) for a in alerts],
    )


async def party_alerts(conn: asyncpg.Connection, party: str, limit: int,
                       offset: int) -> tuple[int, list[dict]]:
    total = await conn.fetchval("select count(*) from ssi.alerts where party = $1", party)
    rows = await conn.fetch(
        """select sent_at, code, device_id, payload from ssi.alerts where party = $1
           order by sent_at desc, topic, partition, "offset" desc limit $2 offset $3""",
        party, limit, offset)
    return total, [{**dict(r), "payload": orjson.loads(r["payload"])} for r in rows]
