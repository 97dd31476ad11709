"""`send_batched` hands the producer complete batches, which its sender drains at once: an open
batch would wait out the producer's `linger_ms` inside every transaction."""
from aiokafka.producer.message_accumulator import BatchBuilder, MessageBatch
from aiokafka.structs import TopicPartition

from shared import kafka
from shared.kafka import Output

LINGER = 0.5


class _Producer:
    """What `send_batched` asks of a producer, keeping the batches it is handed."""

    def __init__(self, batch_size: int = 1024 * 1024) -> None:
        self.batch_size, self.sent = batch_size, []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0, is_transactional=True)

    async def send_batch(self, builder: BatchBuilder, topic: str, partition: int) -> None:
        self.sent.append((builder, TopicPartition(topic, partition)))


def _waits(builder: BatchBuilder, tp: TopicPartition):
    """How long aiokafka's accumulator would hold this batch back (None: not at all)."""
    return MessageBatch(tp, builder, 30, LINGER).remaining_linger()


async def test_every_batch_is_handed_over_complete():
    producer = _Producer()
    await kafka.send_batched(producer, [Output("t", b"v%d" % n, b"k%d" % n) for n in range(30)])
    assert len(producer.sent) == 3
    assert [_waits(builder, tp) for builder, tp in producer.sent] == [None, None, None]


async def test_a_batch_that_filled_up_is_handed_over_complete_too():
    producer = _Producer(batch_size=200)
    await kafka.send_batched(producer, [Output("t", b"x" * 60, b"same") for _ in range(10)])
    assert len(producer.sent) > 1
    assert all(_waits(builder, tp) is None for builder, tp in producer.sent)


async def test_an_open_batch_would_wait():
    assert _waits(BatchBuilder(1024, 0), TopicPartition("t", 0)) > 0
