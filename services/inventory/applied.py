"""Service Requests applied through inventory's API, in intake's own hop.

Intake routes a change to inventory's topic, where a second Kafka transaction answers it, unless
nothing about its device is still on its way there: then it hands the change to this API and
publishes what it produced (the response, the device events) in its own Kafka transaction. A
request is applied here by the same handlers and executor as on the topic, in one database
transaction that records it as handled and keeps what it produced under its message ID
(`applied_outputs`), so that:
- a second call for it (intake redoing a batch it did not commit) changes nothing and answers
  the same;
- the topic path, meeting a request a call applied after intake had given up on the call and
  routed it, publishes the kept outputs instead of nothing (`executor`).
Either way what a request produced is published once. A request's events are named by its place
on the requests topic, which a redone call names again.
"""
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.inventory import executor, store
from shared import applying
from shared.dispatch import HandlerTable
from shared.kafka import Output
from shared.service import Context

PRUNE_BATCH = 10_000


@dataclass(frozen=True)
class Applier:
    inventory: Context
    table: HandlerTable
    pool: asyncpg.Pool

    async def apply(self, body: bytes) -> list[list[Output]]:
        """The requests of a call (`applying.decode_requests`), applied in order in one
        transaction: what each produced, or nothing for a request the topic path handled."""
        requests = applying.decode_requests(self.inventory.settings.topics.requests, body)
        records = [record for record, _ in requests]
        async with self.pool.acquire() as conn, conn.transaction():
            produced = await executor.handle(self.inventory, self.table, conn, records)
            await store.keep_applied(conn, [(executor.request_message_id(request_id), outputs)
                                            for (_, request_id), outputs in zip(requests, produced) if outputs])
        return produced


async def prune(pool: asyncpg.Pool, before: datetime) -> int:
    """Delete the kept outputs of requests applied before `before`; return how many went."""
    pruned = 0
    while True:
        async with pool.acquire() as conn:
            deleted = await store.prune_applied(conn, before, PRUNE_BATCH)
        pruned += deleted
        if deleted < PRUNE_BATCH:
            return pruned
