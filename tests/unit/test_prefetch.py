"""Records read ahead of the batches: held in order, never more than the limit, dropped on demand,
and what the consumer raises reaches the processor."""
import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from shared.prefetch import Prefetch

P0, P1 = TopicPartition("in", 0), TopicPartition("in", 1)


def _records(tp: TopicPartition, *offsets: int) -> list[ConsumerRecord]:
    return [ConsumerRecord(tp.topic, tp.partition, o, 0, 0, None, b"x", None, 0, 1, []) for o in offsets]


class _Consumer:
    """Answers each getmany with the next of its fetches, then waits as a quiet broker does."""

    def __init__(self, *fetches) -> None:
        self.fetches, self.asked = list(fetches), []

    async def getmany(self, timeout_ms: int, max_records: int):
        self.asked.append(max_records)
        if not self.fetches:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        fetched = self.fetches.pop(0)
        if isinstance(fetched, Exception):
            raise fetched
        return fetched


async def _asked(consumer: _Consumer, fetches: int) -> None:
    while len(consumer.asked) < fetches:
        await asyncio.sleep(0.01)


async def test_fetches_are_gathered_in_order_within_each_partition():
    consumer = _Consumer({P0: _records(P0, 0, 1)}, {P1: _records(P1, 7)}, {P0: _records(P0, 2)})
    prefetch = Prefetch(consumer, limit=100)
    prefetch.start()
    try:
        await _asked(consumer, 4)
        assert await prefetch.arrival(0.1)
        batch = prefetch.take()
    finally:
        await prefetch.stop()
    assert {tp: [r.offset for r in records] for tp, records in batch.items()} == {P0: [0, 1, 2], P1: [7]}
    assert consumer.asked[:3] == [100, 98, 97], "never more than the limit held"


async def test_fetching_waits_while_the_limit_is_held_and_goes_on_once_taken():
    consumer = _Consumer({P0: _records(P0, 0, 1)}, {P0: _records(P0, 2)})
    prefetch = Prefetch(consumer, limit=2)
    prefetch.start()
    try:
        await _asked(consumer, 1)
        await asyncio.sleep(0.1)
        assert consumer.asked == [2], "full: no fetch"
        assert [r.offset for r in prefetch.take()[P0]] == [0, 1]
        await _asked(consumer, 2)
        assert await prefetch.arrival(1.0)
        assert [r.offset for r in prefetch.take()[P0]] == [2]
        assert not await prefetch.arrival(0.05)
    finally:
        await prefetch.stop()


async def test_records_dropped_are_not_taken():
    consumer = _Consumer({P0: _records(P0, 0)})
    prefetch = Prefetch(consumer, limit=10)
    prefetch.start()
    try:
        await _asked(consumer, 2)
        prefetch.drop()
        assert not await prefetch.arrival(0.05)
        assert prefetch.take() == {}
    finally:
        await prefetch.stop()


async def test_what_the_consumer_raises_is_raised_to_the_one_waiting_for_records():
    prefetch = Prefetch(_Consumer(PermissionError("not authorised to read the topic")), limit=10)
    prefetch.start()
    try:
        with pytest.raises(PermissionError, match="not authorised"):
            await prefetch.arrival(5.0)
    finally:
        await prefetch.stop()
