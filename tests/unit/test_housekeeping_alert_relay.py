"""The N8 relay drops a batch fetched before its partitions were given up."""
import asyncio

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from services.housekeeping.alerts import AlertRelay
from shared.settings import Settings

SETTINGS = Settings(kafka_bootstrap_servers="127.0.0.1:1")  # never connected to
PARTITION = TopicPartition("smi.internal.device-events", 0)


class _OneBatch:
    async def getmany(self, timeout_ms: int, max_records: int):
        record = ConsumerRecord(PARTITION.topic, PARTITION.partition, 7, 0, 0, None, b"{}", None, 0, 2, [])
        return {PARTITION: [record]}


async def _relay() -> tuple[AlertRelay, list]:
    relay, processed = AlertRelay(SETTINGS, pool=None, group_id="relay"), []
    relay.consumer = _OneBatch()

    async def process(batch):
        processed.append(batch)
    relay._process = process
    return relay, processed


async def test_a_batch_fetched_is_processed():
    relay, processed = await _relay()
    await relay._poll()
    assert len(processed) == 1


async def test_a_batch_fetched_before_a_revocation_is_dropped():
    relay, processed = await _relay()
    await relay._busy.acquire()  # a batch is being processed when the rebalance begins
    revoking = asyncio.create_task(relay._rebalance.on_partitions_revoked([PARTITION]))
    await asyncio.sleep(0)  # the revocation now waits for that batch
    polling = asyncio.create_task(relay._poll())  # and the next batch is fetched meanwhile
    await asyncio.sleep(0)
    relay._busy.release()
    await asyncio.gather(revoking, polling)
    assert processed == []
    await relay._poll()  # fetched after the revocation: processed
    assert len(processed) == 1
