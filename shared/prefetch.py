"""Records read from the consumer as soon as a fetch brings them, so that the next fetch is in
flight while a batch is being applied.

aiokafka sends a broker no fetch while records it fetched from that broker are unread. Read
only between batches, a record that reached the broker while a batch was being applied was
fetched once that batch ended, after the next batch had already begun without it: it waited
for two batches. Read here as each fetch returns, it waits for the batch in hand only, and
arrives in the next batch with every record fetched meanwhile.
"""
import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

Batch = dict[TopicPartition, list[ConsumerRecord]]


class Prefetch:
    """Holds at most `limit` records, in order within each partition, until they are taken."""

    def __init__(self, consumer: AIOKafkaConsumer, limit: int) -> None:
        self._consumer, self._limit = consumer, limit
        self._held: Batch = {}
        self._arrived, self._room = asyncio.Event(), asyncio.Event()
        self._room.set()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._fetch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _fetch(self) -> None:
        while True:
            await self._room.wait()
            fetched = await self._consumer.getmany(timeout_ms=200, max_records=self._limit - self._count())
            for tp, records in fetched.items():
                self._held.setdefault(tp, []).extend(records)
            self._update()

    async def arrival(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for records; say whether any are held. What the
        consumer raised while fetching is raised here."""
        if not self._arrived.is_set():
            arrived = asyncio.ensure_future(self._arrived.wait())
            await asyncio.wait({arrived, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            arrived.cancel()
        if self._task.done():
            self._task.result()
            raise RuntimeError("fetching stopped")
        return self._arrived.is_set()

    def take(self) -> Batch:
        """Every record held."""
        batch, self._held = self._held, {}
        self._update()
        return batch

    def drop(self) -> None:
        """Forget the records held: after a rebalance the consumer fetches again from the
        committed offsets."""
        self.take()

    def _count(self) -> int:
        return sum(map(len, self._held.values()))

    def _update(self) -> None:
        count = self._count()
        (self._arrived.set if count else self._arrived.clear)()
        (self._room.set if count < self._limit else self._room.clear)()
