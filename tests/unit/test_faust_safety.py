"""faust acknowledges a message it skipped as if an agent had processed it; the worker's consumer
leaves such a message unacknowledged, so a commit never passes it."""
from types import SimpleNamespace

import faust.transport.consumer
import pytest

from services.housekeeping import faust_safety

GENERATION = 7


class FlowControl:
    def __init__(self, active: bool) -> None:
        self.active = active

    def is_active(self) -> bool:
        return self.active


def consumer(flow_active: bool):
    app = SimpleNamespace(flow_control=FlowControl(flow_active), consumer_generation_id=GENERATION)
    return SimpleNamespace(app=app, _unacked_messages=set(), acked_offsets=[])


class Message:
    def __init__(self, offset: int, generation: int) -> None:
        self.offset, self.generation_id, self.acked = offset, generation, False


def message(offset: int, generation: int = GENERATION) -> Message:
    return Message(offset, generation)


def recording_ack(self, message) -> bool:
    message.acked = True
    self._unacked_messages.discard(message)
    self.acked_offsets.append(message.offset)
    return True


ack = faust_safety._unless_skipped(recording_ack)


def test_a_processed_message_is_acknowledged_as_faust_would():
    given = consumer(flow_active=True)
    processed = message(138)
    given._unacked_messages.add(processed)
    assert ack(given, processed) is True
    assert given.acked_offsets == [138] and not given._unacked_messages


@pytest.mark.parametrize("flow_active, generation", [(False, GENERATION), (True, GENERATION - 1)],
                         ids=["flow stopped", "earlier generation"])
def test_a_skipped_message_is_done_with_but_its_offset_stays_uncommitted(flow_active, generation):
    given = consumer(flow_active)
    skipped = message(138, generation)
    given._unacked_messages.add(skipped)
    assert ack(given, skipped) is False
    assert given.acked_offsets == []            # nothing to commit past it
    assert skipped.acked and not given._unacked_messages  # a stop or rebalance does not wait for it


def test_the_worker_consumer_is_patched_once():
    assert getattr(faust.transport.consumer.Consumer.ack, "unless_skipped", False)
    assert faust_safety._unless_skipped(faust.transport.consumer.Consumer.ack) is faust.transport.consumer.Consumer.ack


async def test_the_seek_to_committed_offsets_goes_to_a_committed_0_too():
    class Fetcher:
        def __init__(self) -> None:
            self.seeks: list[tuple[str, int]] = []

        def seek(self, tp, offset) -> None:
            self.seeks.append((tp, offset))

    async def aiokafka_seek(self, *partitions):  # seeks only where the committed offset is above 0
        committed = {"new": 0, "unknown": None, "old": 42}
        for tp, offset in committed.items():
            if offset and offset > 0:
                self.seek(tp, offset)
        return committed

    fetcher = Fetcher()
    committed = await faust_safety._seek_to_committed_zero_too(aiokafka_seek)(fetcher)
    assert committed == {"new": 0, "unknown": None, "old": 42}
    assert sorted(fetcher.seeks) == [("new", 0), ("old", 42)]
