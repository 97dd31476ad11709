"""Read Inventory by Device ID answered by intake itself, given / when / then, over PostgreSQL
alone (`chain`)."""
import orjson
from prometheus_client import REGISTRY

from services.intake.inventory_api import InventoryApi
from shared.duis import build
from shared.duis.build import device_id
from tests.handlers.chain import Chain

METER, ELSEWHERE = device_id(1), device_id(2)


def _routed(reason: str) -> float:
    return REGISTRY.get_sample_value("smi_intake_reads_routed_total", {"reason": reason}) or 0.0


def _reads_timed() -> float:
    return REGISTRY.get_sample_value("smi_stage_duration_seconds_count",
                                     {"service": "intake", "stage": "inventory_read"}) or 0.0


async def test_a_read_of_a_device_with_no_change_on_its_way_is_answered_as_inventory_answers_it(chain):
    await chain.completed_by_inventory(chain.routed(await chain.intake.given(
        chain.request("12.2", build.prenotification(METER)))))
    timed = _reads_timed()
    answered_here = await chain.intake.when(chain.request("8.2", {"DeviceID": METER}))
    assert answered_here.codes == ["I0"] and chain.routed(answered_here) == []
    assert _reads_timed() == timed + 1, "the call to inventory's read API is timed"
    [device] = answered_here.answers[0]["Body"]["ResponseMessage"]["DSPInventory"]["Device"]
    assert (device["DeviceID"], device["DeviceStatus"]) == (METER, "Pending")

    without_reads = Chain(chain.intake.settings, chain.intake.conn, None)
    routed = await without_reads.intake.feed(without_reads.request("8.2", {"DeviceID": METER}, counter=50))
    by_inventory = await without_reads.completed_by_inventory(without_reads.routed(routed))
    assert by_inventory.answers[0]["Body"] == answered_here.answers[0]["Body"]


async def test_a_read_behind_an_unanswered_change_waits_for_it_on_inventorys_topic(chain, routing):
    change = await routing.intake.given(routing.request("12.2", build.prenotification(METER), counter=90))
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
    assert [orjson.loads(o.value)["variant"] for o in chain.routed(when)] == ["8.2"]
    assert when.codes == ["I0", "E30"], "the change applied here, the other device's read answered here"
    done = await chain.completed_by_inventory(chain.routed(when))
    assert done.codes == ["I0"], "the read routed behind the change sees the device it added"


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
    silent = InventoryApi("http://127.0.0.1:9", 1.0, 1.0)  # the discard port: nothing listens
    before, timed = _routed("no_answer"), _reads_timed()
    try:
        chain = Chain(handler_settings, conn, silent)
        when = await chain.intake.when(chain.request("8.2", {"DeviceID": METER}))
    finally:
        await silent.close()
    assert when.codes == [] and len(chain.routed(when)) == 1
    assert _routed("no_answer") == before + 1
    assert _reads_timed() == timed + 1, "a call that found no answer is timed too"
