"""The kernel's contract with a handler, without a broker or a database: one output list per
record, or the service stops; a record whose handling fails on its own goes to the dead letters."""
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from aiokafka.structs import ConsumerRecord

from shared.kafka import Output
from shared.processor import HandlerContractError, Processor, _Rebalance
from shared.settings import Settings
from tests.bench.echo import NoDatabase

SETTINGS = Settings(kafka_bootstrap_servers="127.0.0.1:1")  # never connected to


def _record(offset: int, value: bytes = b"x") -> ConsumerRecord:
    return ConsumerRecord("in", 0, offset, 0, 0, b"k", value, None, 1, len(value), [])


def _processor(handler) -> Processor:
    return Processor(service="contract-test", group_id="g", topics=["in"], handler=handler,
                     pool=NoDatabase(), settings=SETTINGS, schema="test")


async def test_a_handler_returning_too_few_output_lists_stops_the_service():
    async def forgets_one(conn, records):
        return [[Output("out", r.value)] for r in records[1:]]
    with pytest.raises(HandlerContractError, match="returned 1 output lists for 2 records"):
        await _processor(forgets_one)._apply([_record(0), _record(1)])


async def test_a_record_whose_handling_fails_on_its_own_is_dead_lettered():
    async def fails_on_boom(conn, records):
        if any(r.value == b"boom" for r in records):
            raise ValueError("cannot handle this record")
        return [[Output("out", r.value)] for r in records]
    outputs = await _processor(fails_on_boom)._apply([_record(0), _record(1, b"boom"), _record(2)])
    assert [(o.topic, o.value) for o in outputs] == [
        ("out", b"x"), (SETTINGS.topics.dead_letters, b"boom"), ("out", b"x")]


class _Recorder:
    """Stands in for the consumer's plain commit and the publisher's transaction."""

    def __init__(self) -> None:
        self.commits: list[tuple[str, dict]] = []

    async def commit(self, offsets):
        self.commits.append(("plain", dict(offsets)))

    async def publish(self, outputs, offsets, group_id):
        self.commits.append(("transaction", dict(offsets)))


async def test_quiet_batches_offsets_are_gathered_and_never_committed_backwards(monkeypatch):
    monkeypatch.setattr("shared.processor.PLAIN_COMMIT_EVERY_SECONDS", 3600.0)
    processor, recorder = _processor(None), _Recorder()
    processor.consumer, processor.publisher = recorder, recorder
    p0, p1 = TopicPartition("in", 0), TopicPartition("in", 1)
    assert await processor._publish([], {p0: 5}) == {p0: 5}, "the first quiet batch commits at once"
    assert await processor._publish([], {p0: 8}) is None, "the next one waits"
    assert await processor._publish([], {p1: 3}) is None
    loud = [Output("out", b"x")]
    assert await processor._publish(loud, {p0: 10}) == {p0: 10, p1: 3}, "the transaction takes them along"
    assert await processor._publish([], {p1: 6}) is None
    await processor.finish_batches_in_hand()  # as on a revocation, a quiet fetch or a stop
    assert recorder.commits == [("plain", {p0: 5}), ("transaction", {p0: 10, p1: 3}), ("plain", {p1: 6})]
    await processor.finish_batches_in_hand()
    assert len(recorder.commits) == 3, "nothing left to commit"


async def test_quiet_offsets_of_partitions_no_longer_assigned_are_dropped_not_published():
    processor, recorder = _processor(None), _Recorder()

    async def not_assigned(offsets):
        raise IllegalStateError("Partition TopicPartition(topic='in', partition=0) is not assigned")
    processor.consumer, processor.publisher = recorder, recorder
    recorder.commit = not_assigned
    assert await processor._publish([], {TopicPartition("in", 0): 5}) is None
    assert recorder.commits == [], "another consumer owns the partition now: its offsets are its own"


async def test_records_read_ahead_are_dropped_when_partitions_are_revoked():
    """After a rebalance the consumer fetches again from the committed offsets: records read
    ahead and kept would be applied a second time."""
    processor = _processor(None)
    processor._prefetch._held = {TopicPartition("in", 0): [_record(3)]}
    await _Rebalance(processor).on_partitions_revoked({TopicPartition("in", 0)})
    assert processor._prefetch.take() == {}
