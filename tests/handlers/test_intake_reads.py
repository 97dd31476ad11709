"""Read Inventory by Device ID answered by intake itself, given / when / then, over PostgreSQL
alone: inventory's real read API is served over the test's connection, and records are carried
by hand from intake to inventory and back, as the topics would carry them."""
import asyncio
from contextlib import asynccontextmanager
from functools import partial

import orjson
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from services.intake.handlers import Intake, handle_requests, handle_responses
from services.intake.reads import InventoryReads
from services.inventory import api, executor, handlers
from shared.duis import build
from shared.duis.build import device_id
from shared.kafka import Output
from tests.handlers.harness import Harness, Outcome, RegistryFile, context

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
JSON = (("content-type", "application/json"),)
METER, ELSEWHERE = device_id(1), device_id(2)


class _OneConnection:
    """The test's connection where inventory's API takes a pool: its rows are the test's own."""

    def __init__(self, conn) -> None:
        self.conn, self.lock = conn, asyncio.Lock()

    @asynccontextmanager
    async def acquire(self):
        async with self.lock:
            yield self.conn


class Chain:
    """Intake, inventory and intake's response consumer, each fed what the one before produced."""

    def __init__(self, settings, conn, reads: InventoryReads | None) -> None:
        ctx = Intake(settings, RegistryFile(settings), reads=reads)
        self.topics, self.counter = settings.topics, 0
        self.intake = Harness(settings, conn, partial(handle_requests, ctx))
        self.responses = Harness(settings, conn, partial(handle_responses, ctx))
        self.inventory = Harness(settings, conn, partial(executor.handle, context(settings),
                                                         handlers.table(settings)))

    def request(self, variant: str, body: dict, counter: int | None = None):
        if counter is None:
            self.counter += 1
        return self.intake.record(self.topics.requests,
                                  build.request(SUPPLIER, counter or self.counter, variant, body, "json"),
                                  headers=JSON)

    def routed(self, outcome: Outcome) -> list[Output]:
        return outcome.on(self.topics.inventory_commands)

    async def completed_by_inventory(self, commands: list[Output]) -> Outcome:
        """Inventory takes the commands; intake's response consumer sees what it answered."""
        done = await self.inventory.feed(*[self.inventory.record(o.topic, o.value, o.key.decode(), o.headers)
                                           for o in commands])
        await self.responses.feed(*[self.responses.record(o.topic, o.value, o.key.decode(), o.headers)
                                    for o in done.on(self.topics.responses)])
        return done


def _routed(reason: str) -> float:
    return REGISTRY.get_sample_value("smi_intake_reads_routed_total", {"reason": reason}) or 0.0


def _reads_timed() -> float:
    return REGISTRY.get_sample_value("smi_stage_duration_seconds_count",
                                     {"service": "intake", "stage": "inventory_read"}) or 0.0


@pytest.fixture
async def inventory_api(handler_settings, conn):
    server = TestServer(api.build(_OneConnection(conn), lambda: None))
    await server.start_server()
    reads = InventoryReads(str(server.make_url("")), 5.0)
    try:
        yield reads
    finally:
        await reads.close()
        await server.close()


@pytest.fixture
def chain(handler_settings, conn, inventory_api):
    return Chain(handler_settings, conn, inventory_api)


async def test_a_read_of_a_device_with_no_change_on_its_way_is_answered_as_inventory_answers_it(chain):
    await chain.completed_by_inventory(chain.routed(await chain.intake.given(
        chain.request("12.2", build.prenotification(METER)))))
    timed = _reads_timed()
    answered_here = await chain.intake.when(chain.request("8.2", {"DeviceID": METER}))
    assert answered_here.codes == ["I0"] and chain.routed(answered_here) == []
    assert _reads_timed() == timed + 1, "the call to inventory's read API is timed"
    [device] = answered_here.answers[0]["Body"]["ResponseMessage"]["DSPInventory"]["Device"]
    assert (device["DeviceID"], device["DeviceStatus"]) == (METER, "Pending")

    without_reads = Chain(chain.intake.settings, chain.intake.conn, reads=None)
    routed = await without_reads.intake.feed(without_reads.request("8.2", {"DeviceID": METER}, counter=50))
    by_inventory = await without_reads.completed_by_inventory(without_reads.routed(routed))
    assert by_inventory.answers[0]["Body"] == answered_here.answers[0]["Body"]


async def test_a_read_behind_an_unanswered_change_waits_for_it_on_inventorys_topic(chain):
    change = await chain.intake.given(chain.request("12.2", build.prenotification(METER)))
    behind = await chain.intake.when(chain.request("8.2", {"DeviceID": METER}))
    elsewhere = await chain.intake.when(chain.request("8.2", {"DeviceID": ELSEWHERE}))
    assert behind.codes == [] and len(chain.routed(behind)) == 1
    assert elsewhere.codes == ["E30"] and chain.routed(elsewhere) == []

    done = await chain.completed_by_inventory([*chain.routed(change), *chain.routed(behind)])
    assert done.codes == ["I0", "I0"], "the read sees the device its pre-notification added"
    after = await chain.intake.when(chain.request("8.2", {"DeviceID": METER}))
    assert after.codes == ["I0"] and chain.routed(after) == []


async def test_a_read_after_a_change_in_the_same_batch_is_routed_behind_it(chain):
    when = await chain.intake.when(chain.request("12.2", build.prenotification(METER)),
                                   chain.request("8.2", {"DeviceID": METER}),
                                   chain.request("8.2", {"DeviceID": ELSEWHERE}))
    assert [orjson.loads(o.value)["variant"] for o in chain.routed(when)] == ["12.2", "8.2"]
    assert when.codes == ["E30"]


async def test_a_read_answered_here_is_replayed_with_the_same_answer(chain):
    read = chain.request("8.2", {"DeviceID": METER})
    first = await chain.intake.given(read)
    replay = await chain.intake.when(read)
    assert [o.value for o in replay.outputs] == [o.value for o in first.outputs]
    assert first.codes == ["E30"]


async def test_a_read_by_mpxn_is_routed(chain):
    when = await chain.intake.when(chain.request("8.2", {"MPxN": "1000999888"}))
    assert when.codes == [] and len(chain.routed(when)) == 1


async def test_a_read_inventory_does_not_answer_is_routed(handler_settings, conn):
    silent = InventoryReads("http://127.0.0.1:9", 1.0)  # the discard port: nothing listens
    before, timed = _routed("no_answer"), _reads_timed()
    try:
        chain = Chain(handler_settings, conn, silent)
        when = await chain.intake.when(chain.request("8.2", {"DeviceID": METER}))
    finally:
        await silent.close()
    assert when.codes == [] and len(chain.routed(when)) == 1
    assert _routed("no_answer") == before + 1
    assert _reads_timed() == timed + 1, "a call that found no answer is timed too"
