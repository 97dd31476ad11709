"""How far each table partition has come in the device events, so that work decides only on a
table that holds every device event committed before the work was asked for.

When work is fanned out, `EventEnds` takes, per partition, the offset just past the last committed
device event (below the last stable offset, so an open transaction is not waited for; transaction
markers and aborted records, which the tracker never sees, are not waited for either). The
partition's work waits in `Progress` until the table has come that far: the tracker applied the
event itself, or the tracker's consumer group committed past it (faust flushes the changelog
before it commits, so events applied before a restart are in the restored table).
"""
import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.housekeeping import metrics
from shared.kafka import admin_client, client_options
from shared.settings import Settings

log = logging.getLogger(__name__)
# Polls of a fifth of a second in a row that deliver nothing and do not move the position: what
# is left below the end is transaction markers, not records on their way.
TRAILING_MARKER_POLLS = 10


class EventEnds:
    """Per device-events partition, the offset just past its last committed record."""

    def __init__(self, settings: Settings) -> None:
        self.topic, self.partitions = settings.topics.device_events, settings.partitions
        self.consumer = AIOKafkaConsumer(**client_options(settings), isolation_level="read_committed",
                                         enable_auto_commit=False, fetch_max_wait_ms=50)
        self._lock = asyncio.Lock()  # runs and API queries fan out concurrently

    async def start(self) -> None:
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()

    async def now(self) -> dict[int, int]:
        """Retried while the broker is away: work is delayed, never sent without its ends."""
        delay = 0.2
        while True:
            try:
                return await self._now()
            except KafkaError as error:
                log.warning("could not read the device events' ends, retrying: %r", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _now(self) -> dict[int, int]:
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        async with self._lock:
            stable = await self.consumer.end_offsets(tps)  # read_committed: last stable offsets
            return {tp.partition: await self._last_record_end(tp, stable[tp]) for tp in tps}

    async def _last_record_end(self, tp: TopicPartition, stable: int) -> int:
        """Read back from the stable offset until a record shows up: the offset after it."""
        window, end = 64, stable
        self.consumer.assign([tp])
        while end > 0:
            start = max(0, end - window)
            self.consumer.seek(tp, start)
            last, idle, before = None, 0, start
            while await self.consumer.position(tp) < end:
                records = (await self.consumer.getmany(tp, timeout_ms=200)).get(tp, [])
                for record in records:
                    if record.offset < stable:
                        last = record.offset
                position = await self.consumer.position(tp)
                idle = 0 if records or position != before else idle + 1
                before = position
                # aiokafka never steps over transaction markers that end the partition: its
                # position stays short of the end with nothing more to deliver below it.
                if idle >= TRAILING_MARKER_POLLS:
                    break
            if last is not None:
                return last + 1
            end, window = start, window * 8
        return 0


class Progress:
    """Per device-events partition, the offset up to which the table holds every event."""

    def __init__(self, settings: Settings, group_id: str) -> None:
        self.settings, self.group_id = settings, group_id
        self.topic = settings.topics.device_events
        self.applied: dict[int, int] = {}  # set by the tracker as it applies each event
        self.admin = admin_client(settings)

    async def start(self) -> None:
        await self.admin.start()

    async def stop(self) -> None:
        await self.admin.close()

    def forget(self, partitions: set[int]) -> None:
        """Partitions this worker no longer owns: what it applied says nothing of their future."""
        for partition in partitions:
            self.applied.pop(partition, None)

    async def committed(self, partition: int) -> int:
        tp = TopicPartition(self.topic, partition)
        offsets = await self.admin.list_consumer_group_offsets(self.group_id, partitions=[tp])
        found = offsets.get(tp)
        return found.offset if found is not None and found.offset >= 0 else 0

    async def wait(self, partition: int, target: int, keep_waiting: Callable[[], bool]) -> int | None:
        """Until the partition's table holds every device event below `target`: how far it holds
        them, or None when `keep_waiting` turns false first (the partition is moving away)."""
        started = time.monotonic()
        reached, asked_at = self.applied.get(partition, 0), 0.0
        while reached < target:
            if not keep_waiting():
                return None
            if time.monotonic() - asked_at >= 1.0:
                asked_at = time.monotonic()
                try:
                    reached = max(reached, await self.committed(partition))
                except KafkaError as error:
                    log.warning("could not read the tracker's committed offsets: %r", error)
            await asyncio.sleep(0.05)
            reached = max(reached, self.applied.get(partition, 0))
        waited = time.monotonic() - started
        metrics.CATCH_UP_SECONDS.observe(waited)
        if waited > 1.0:
            log.info("partition %d: work waited %.1fs for the table to reach offset %d", partition,
                     waited, target)
        return reached
