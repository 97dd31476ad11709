"""The N8 relay drops the records it fetched before its partitions were given up."""
import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from services.housekeeping import alerts
from shared.settings import Settings

SETTINGS = Settings(kafka_bootstrap_servers="127.0.0.1:1")  # never connected to
PARTITION = TopicPartition("smi.internal.device-events", 0)


class _Consumer:
    """Returns each record put on `fetches` as a fetch of its own."""

    def __init__(self) -> None:
        self.fetches: asyncio.Queue[int] = asyncio.Queue()

    async def getmany(self, timeout_ms: int, max_records: int):
        try:
            offset = await asyncio.wait_for(self.fetches.get(), timeout_ms / 1000)
        except asyncio.TimeoutError:
            return {}
        return {PARTITION: [ConsumerRecord(PARTITION.topic, PARTITION.partition, offset, 0, 0,
                                           None, b"{}", None, 0, 2, [])]}


@pytest.fixture
async def relay(monkeypatch):
    consumer = _Consumer()
    monkeypatch.setattr(alerts.kafka, "consumer", lambda settings, group_id: consumer)
    relay = alerts.AlertRelay(SETTINGS, pool=None, group_id="relay")
    relay.processed = []

    async def process(batch):
        relay.processed.append([r.offset for part in batch.values() for r in part])
    relay._process = process
    relay.prefetch.start()
    yield relay
    await relay.prefetch.stop()


async def test_a_batch_fetched_is_processed(relay):
    relay.consumer.fetches.put_nowait(7)
    await relay._poll()
    assert relay.processed == [[7]]


async def test_records_fetched_before_a_revocation_are_dropped(relay):
    await relay._busy.acquire()  # a batch is being processed when the rebalance begins
    revoking = asyncio.create_task(relay._rebalance.on_partitions_revoked([PARTITION]))
    await asyncio.sleep(0)  # the revocation now waits for that batch
    relay.consumer.fetches.put_nowait(7)  # and the next records are fetched meanwhile
    polling = asyncio.create_task(relay._poll())
    assert await relay.prefetch.arrival(1.0)
    relay._busy.release()
    await asyncio.gather(revoking, polling)
    assert relay.processed == []
    relay.consumer.fetches.put_nowait(7)  # fetched again after the revocation: processed
    await relay._poll()
    assert relay.processed == [[7]]
