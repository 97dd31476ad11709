"""Consume, apply to PostgreSQL, publish: each input's effect exactly once.

For every batch:
1. one database transaction moves its partitions' positions (`processed_positions`: the row
   lock orders it behind any other owner's batch, and tells which records were applied before),
   runs the handler on the records not applied before and saves what each produced
   (`processed_records`), so a redelivered record publishes its saved outputs and changes nothing;
2. one Kafka transaction publishes the outputs together with the consumer offsets
   (`read_committed` readers never see a half-published batch), overlapping with step 1 of
   the next batch. A batch that produced nothing commits its offsets plainly: three fewer
   round trips, and nothing to fence (a stale consumer's commit fails on its generation);
   such commits are gathered, at most one a second, since redoing a quiet batch is harmless.
A crash between the two leaves the offsets uncommitted; the batch comes back and step 1 finds
it processed. A record whose handler fails on its own goes to the dead letters. Saved outputs
are cleared a generation at a time once committed (see the `processed_generations` migration).
"""
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from shared import kafka, metrics, processed
from shared.kafka import Output
from shared.prefetch import Prefetch
from shared.readiness import READINESS
from shared.settings import Settings

log = logging.getLogger(__name__)
Handler = Callable[[asyncpg.Connection, list[ConsumerRecord]], Awaitable[list[list[Output]]]]
TRANSIENT = (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
             asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.DeadlockDetectedError,
             asyncio.TimeoutError)
CLEAR_EVERY_SECONDS = 4.0  # a generation's turn comes every 30 s: a few tries before it
# A quiet batch's offsets wait for the next transaction, a quiet fetch, a revocation or this
# long: redelivered, such records are found saved (or, with save_empty=False, handled again
# harmlessly), and an offset commit per batch of a busy quiet stream loads the broker for nothing.
PLAIN_COMMIT_EVERY_SECONDS = 1.0


class HandlerContractError(RuntimeError):
    """A handler broke the processor's contract: it stops the service instead of dead-lettering."""


class Processor:
    def __init__(self, *, service: str, group_id: str, topics: Sequence[str], handler: Handler,
                 pool: asyncpg.Pool, settings: Settings, schema: str, pattern: str | None = None,
                 save_empty: bool = True, fetch_min_bytes: int = 1) -> None:
        """`save_empty=False`: records that produced nothing are not saved, for a handler that
        itself changes nothing when it sees a record again, even from two owners at once.
        `fetch_min_bytes`: what the broker gathers before it answers a fetch (or the fetch wait
        ends), for a consumer nobody waits on: fewer, larger batches."""
        self.service, self.handler, self.save_empty = service, handler, save_empty
        self.group_id = group_id + settings.group_suffix
        self.pool, self.settings, self.schema = pool, settings, schema
        self.consumer = kafka.consumer(settings, self.group_id, fetch_min_bytes=fetch_min_bytes)
        self._prefetch = Prefetch(self.consumer, settings.batch_max_records)
        self.publisher = kafka.TransactionalPublisher(settings, self.group_id,
                                                     metrics.RETRIES.labels(service, "kafka").inc, self._stage)
        self._topics, self._pattern = list(topics), pattern
        self._busy = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._last_cleared = 0.0
        self._uncommitted: dict[TopicPartition, int] = {}  # quiet batches' offsets not yet committed
        self._last_plain_commit = 0.0
        self._publishing: asyncio.Task | None = None
        self._clearing: asyncio.Task | None = None
        self.admin = kafka.admin_client(settings)  # other groups' committed offsets
        self._saved_up_to: dict[tuple[str, int], int] = {}  # with save_empty=False, see _saved_below
        self.readiness_part = f"consumer group {self.group_id} joined"
        READINESS.expect(self.readiness_part)

    async def run(self) -> None:
        await self.publisher.start()
        await self.admin.start()
        if self._pattern:
            self.consumer.subscribe(pattern=self._pattern, listener=_Rebalance(self))
        else:
            self.consumer.subscribe(self._topics, listener=_Rebalance(self))
        await self.consumer.start()
        metrics.UP.labels(self.service).set(1)
        self._prefetch.start()
        try:
            while not self._stopping.is_set():
                asked = time.perf_counter()
                if await self._prefetch.arrival(0.2):
                    self._stage("fetch_wait", time.perf_counter() - asked)
                    async with self._busy:  # taken under the lock a revocation drops them under
                        batch = self._prefetch.take()
                        if batch:
                            await self._process(batch)
                elif self._uncommitted:
                    await self.finish_batches_in_hand()
            await self.finish_batches_in_hand()
        finally:
            await self._prefetch.stop()
            if self._clearing is not None:
                await asyncio.gather(self._clearing, return_exceptions=True)
            metrics.UP.labels(self.service).set(0)
            READINESS.clear(self.readiness_part)
            await self.consumer.stop()
            await self.publisher.stop()
            await self.admin.close()

    def stop(self) -> None:
        self._stopping.set()

    def _stage(self, name: str, seconds: float) -> None:
        metrics.STAGE_SECONDS.labels(self.service, name).observe(seconds)

    async def settled(self) -> None:
        """Wait until the batch being published (if any) is committed."""
        if self._publishing is not None:
            await self._publishing

    async def finish_batches_in_hand(self, drop_fetched: bool = False) -> None:
        """Wait until no batch is being applied and every one handled is committed;
        `drop_fetched`: forget the records fetched but not yet applied (on a revocation)."""
        async with self._busy:
            await self.settled()
            if self._uncommitted:
                await self._commit_plainly()
            if drop_fetched:
                self._prefetch.drop()

    def forget_partitions(self, partitions) -> None:
        """Another consumer may process these meanwhile: ask the database again when they return."""
        for tp in partitions:
            self._saved_up_to.pop((tp.topic, tp.partition), None)

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Apply this batch while the previous one is still being published: the database
        work of one overlaps the Kafka transaction of the other, and commits stay in order."""
        started = time.perf_counter()
        outputs = await self._apply([r for part in batch.values() for r in part])
        applied = time.perf_counter()
        await self.settled()
        self._stage("database", applied - started)
        self._stage("queued", time.perf_counter() - applied)
        self._publishing = asyncio.create_task(self._finish(batch, outputs, started))

    async def _finish(self, batch: dict[TopicPartition, list[ConsumerRecord]],
                      outputs: list[Output], started: float) -> None:
        offsets = {tp: part[-1].offset + 1 for tp, part in batch.items()}
        try:
            committed = await self._publish(outputs, offsets)
        except Exception:  # said now: the service stops, and its shutdown may take a while
            log.exception("publishing a batch failed for good; stopping")
            raise
        if committed and time.monotonic() - self._last_cleared > CLEAR_EVERY_SECONDS and \
                (self._clearing is None or self._clearing.done()):
            self._last_cleared = time.monotonic()  # beside the batches, not between them
            self._clearing = asyncio.create_task(self._clear())
        for tp, part in batch.items():
            metrics.RECORDS.labels(self.service, tp.topic).inc(len(part))
            stable = self.consumer.last_stable_offset(tp)
            if stable is not None:
                metrics.CONSUMER_LAG.labels(self.group_id, tp.topic, tp.partition).set(
                    max(0, stable - offsets[tp]))
        metrics.DEAD_LETTERS.labels(self.service).inc(
            sum(o.topic == self.settings.topics.dead_letters for o in outputs))
        metrics.BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)

    async def _apply(self, records: list[ConsumerRecord]) -> list[Output]:
        delay = 0.2
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    return await self._apply_in(conn, records)
            except TRANSIENT as error:
                log.warning("database unavailable, retrying batch: %s", error)
                metrics.RETRIES.labels(self.service, "database").inc()
            except HandlerContractError:
                raise  # a bug in the service, not in a record: no record is to blame for it
            except Exception:
                if len(records) == 1:
                    log.exception("handler failed on %s", processed.key(records[0]))
                    return await self._dead_letter_alone(records[0])
                log.warning("batch failed; handling its %d records one by one", len(records))
                return [o for r in records for o in await self._apply([r])]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _apply_in(self, conn: asyncpg.Connection, records: list[ConsumerRecord]) -> list[Output]:
        if self.save_empty:
            applied_below = await processed.claim(conn, self.schema, self.group_id, records)
        else:  # the handler needs no ordering (see save_empty), and a claim would make every
            applied_below = await self._saved_below(conn, records)  # quiet batch a write
        maybe_seen = [r for r in records if r.offset < applied_below.get((r.topic, r.partition), 0)]
        done = await processed.load(conn, self.schema, self.group_id, maybe_seen) if maybe_seen else {}
        fresh = [r for r in records if processed.key(r) not in done]
        produced = await self.handler(conn, fresh) if fresh else []
        if len(produced) != len(fresh):
            raise HandlerContractError(f"the handler returned {len(produced)} output lists for {len(fresh)} "
                                       "records; it must return one per record, in order")
        await processed.save(conn, self.schema, self.group_id, zip(fresh, produced), self.save_empty)
        done.update({processed.key(r): outs for r, outs in zip(fresh, produced)})
        return [o for r in records for o in done[processed.key(r)]]

    async def _saved_below(self, conn: asyncpg.Connection, records: list[ConsumerRecord]) -> dict:
        """Where an earlier owner's saved outputs end, asked once per partition assigned."""
        unknown = {(r.topic, r.partition) for r in records} - self._saved_up_to.keys()
        if unknown:
            self._saved_up_to.update(await processed.saved_below(conn, self.schema, self.group_id, unknown))
        return self._saved_up_to

    async def _dead_letter_alone(self, record: ConsumerRecord) -> list[Output]:
        outputs = [kafka.dead_letter(self.settings, record, "the handler failed on this record",
                                     self.service)]
        async with self.pool.acquire() as conn, conn.transaction():
            if self.save_empty:
                await processed.claim(conn, self.schema, self.group_id, [record])
            saved = await processed.load(conn, self.schema, self.group_id, [record])
            if processed.key(record) in saved:
                return saved[processed.key(record)]
            await processed.save(conn, self.schema, self.group_id, [(record, outputs)], self.save_empty)
        return outputs

    async def _publish(self, outputs: list[Output],
                       offsets: dict[TopicPartition, int]) -> dict[TopicPartition, int] | None:
        """Publish a batch's outputs and commit its offsets (a quiet batch's perhaps later);
        return the offsets committed now, if any."""
        offsets = {**self._uncommitted, **offsets}  # batches come in order: later offsets win
        if not outputs:
            self._uncommitted = offsets
            if time.monotonic() - self._last_plain_commit < PLAIN_COMMIT_EVERY_SECONDS:
                return None
            return await self._commit_plainly()
        self._uncommitted = {}
        await self.publisher.publish(outputs, offsets, self.group_id)
        return offsets

    async def _commit_plainly(self) -> dict[TopicPartition, int] | None:
        offsets, self._uncommitted = self._uncommitted, {}
        self._last_plain_commit = time.monotonic()
        try:
            began = time.perf_counter()
            await self.consumer.commit(offsets)
            self._stage("plain_commit", time.perf_counter() - began)
            return offsets
        except (CommitFailedError, IllegalStateError) as error:  # the partitions moved on; their new
            log.info("offsets not committed after a rebalance: %s", error)  # owner redoes nothing
            return None
        except KafkaError as error:
            log.warning("plain offset commit failed, committing in a transaction: %r", error)
        await self.publisher.publish([], offsets, self.group_id)
        return offsets

    async def _clear(self) -> None:
        """Empty the generation of saved outputs whose turn comes next, if all committed."""
        try:
            async with self.pool.acquire() as conn:
                how = await processed.clear_next_generation(conn, self.schema, self._committed)
        except Exception as error:  # tried again in a few seconds; the batches go on meanwhile
            log.warning("could not clear saved outputs: %r", error)
            how = "failed"
        metrics.GENERATIONS_CLEARED.labels(self.service, how).inc()

    async def _committed(self, group_id: str) -> dict[tuple[str, int], int]:
        offsets = await self.admin.list_consumer_group_offsets(group_id)
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


class _Rebalance(ConsumerRebalanceListener):
    """Partitions are given up only after the batches in hand are committed."""

    def __init__(self, processor: Processor) -> None:
        self.processor = processor

    async def on_partitions_revoked(self, revoked) -> None:
        await self.processor.finish_batches_in_hand(drop_fetched=True)
        self.processor.forget_partitions(revoked)

    async def on_partitions_assigned(self, assigned) -> None:
        self.processor.forget_partitions(assigned)
        # Called after every join, with no partitions too (more instances than partitions).
        READINESS.mark(self.processor.readiness_part)
