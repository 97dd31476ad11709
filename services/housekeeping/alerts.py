"""The N8 relay: reads the device events under a consumer group of its own and publishes the
alerts for confirmed housekeeping removals together with its consumer offsets in one Kafka
transaction, so an alert is published once even when a worker dies mid-batch (faust's own
exactly-once mode has open bugs; this path does not depend on it).

It does not run on shared/processor.py, which saves a row for every record it consumes: device
events are the platform's largest stream and only removals matter here. Instead the record that
first recorded a removal (by partition and offset) is the one that alerts, also when delivered
again after a crash, and every other record produces nothing."""
import asyncio
import logging
from functools import partial

import asyncpg
from aiokafka import ConsumerRebalanceListener

from services.housekeeping.handlers import handle_removals
from shared import kafka
from shared.parties import PartyRegistry
from shared.prefetch import Prefetch
from shared.processor import TRANSIENT
from shared.readiness import READINESS
from shared.settings import Settings

log = logging.getLogger(__name__)


class AlertRelay:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, group_id: str) -> None:
        self.pool, self.group_id = pool, group_id
        self.handle = partial(handle_removals, settings, PartyRegistry(pool, settings.party_cache_seconds))
        self.consumer = kafka.consumer(settings, group_id)
        self.prefetch = Prefetch(self.consumer, 5_000)
        self.publisher = kafka.TransactionalPublisher(settings, group_id)
        self.topic = settings.topics.device_events
        self._busy = asyncio.Lock()
        self._rebalance = _FinishBatch(self._busy, self.prefetch)
        self._stopping = asyncio.Event()
        self.readiness_part = f"alert relay {group_id} consuming"
        READINESS.expect(self.readiness_part)

    async def run(self) -> None:
        await self.publisher.start()
        self.consumer.subscribe([self.topic], listener=self._rebalance)
        await self.consumer.start()
        READINESS.mark(self.readiness_part)
        self.prefetch.start()
        try:
            while not self._stopping.is_set():
                await self._poll()
        finally:
            await self.prefetch.stop()
            READINESS.clear(self.readiness_part)
            await self.consumer.stop()
            await self.publisher.stop()

    def stop(self) -> None:
        self._stopping.set()

    async def _poll(self) -> None:
        if await self.prefetch.arrival(0.2):
            async with self._busy:  # taken under the lock a revocation drops them under
                batch = self.prefetch.take()
                if batch:
                    await self._process(batch)

    async def _process(self, batch) -> None:
        records = [r for part in batch.values() for r in part]
        delay = 0.2
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    outputs = await self.handle(conn, records)
                break
            except TRANSIENT as error:
                log.warning("database unavailable, retrying removals: %s", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        offsets = {tp: part[-1].offset + 1 for tp, part in batch.items()}
        await self.publisher.publish(outputs, offsets, self.group_id)


class _FinishBatch(ConsumerRebalanceListener):
    """Partitions are given up only after the batch being processed is committed, and the
    records fetched but not yet taken are dropped then: processed later, they could alert for
    partitions another relay already reads from the committed offsets, and whichever relay owns
    them now reads them again from there (as `shared/processor.py` does)."""

    def __init__(self, busy: asyncio.Lock, prefetch: Prefetch) -> None:
        self.busy, self.prefetch = busy, prefetch

    async def on_partitions_revoked(self, revoked) -> None:
        async with self.busy:
            self.prefetch.drop()

    async def on_partitions_assigned(self, assigned) -> None:
        pass
