"""Changes applied in intake's own hop through inventory's API, given / when / then, over
PostgreSQL alone (`chain`): what each produced published by intake, once, whichever path
completes it."""
from datetime import datetime, timedelta, timezone

import orjson
from prometheus_client import REGISTRY

from services.intake.inventory_api import InventoryApi
from services.inventory import applied
from shared.duis import build
from shared.duis.build import device_id
from tests.handlers.chain import Chain, OneConnection

METER = device_id(11)
TO_INC = {"DeviceID": METER, "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"}
TO_PENDING = {"DeviceID": METER, "UpdateDeviceStatusExceptCH": "Pending"}


def _changes_routed(reason: str) -> float:
    return REGISTRY.get_sample_value("smi_intake_changes_routed_total", {"reason": reason}) or 0.0


def _applies_timed() -> float:
    return REGISTRY.get_sample_value("smi_stage_duration_seconds_count",
                                     {"service": "intake", "stage": "inventory_apply"}) or 0.0


async def _history(conn) -> list[tuple]:
    rows = await conn.fetch("select from_status, to_status from inventory.status_history where device_id = $1"
                            " order by seq", METER)
    return [tuple(r) for r in rows]


async def _outcome(conn, request_id: str) -> tuple:
    row = await conn.fetchrow("select outcome, response is not null as answered from intake.requests"
                              " where request_id = $1", request_id)
    return tuple(row)


def _request_id(outcome) -> str:
    return dict(outcome.on(outcome.settings.topics.responses)[0].headers)["request-id"]


async def test_a_change_nothing_is_on_its_way_about_is_applied_and_answered_in_intakes_hop(chain, conn):
    timed = _applies_timed()
    when = await chain.intake.when(chain.request("12.2", build.prenotification(METER)))
    assert when.codes == ["I0"] and chain.routed(when) == []
    [event] = when.events
    assert (event["type"], event["device_id"], event["status"]) == ("DeviceAdded", METER, "Pending")
    assert event["event_id"].startswith(f"{chain.topics.requests}:"), "named by the request's place"
    assert _applies_timed() == timed + 1, "the call to inventory's API is timed"
    assert await _outcome(conn, _request_id(when)) == ("answered", True)
    assert await _history(conn) == [(None, "Pending")]

    read = await chain.intake.when(chain.request("8.2", {"DeviceID": METER}))
    assert read.codes == ["I0"] and chain.routed(read) == [], "nothing about the device is on its way"


async def test_the_same_change_applied_here_and_on_inventorys_topic_answers_alike(chain, routing, conn):
    here = await chain.intake.when(chain.request("12.2", build.prenotification(METER)))
    routed = await routing.intake.when(routing.request("12.2", build.prenotification(device_id(12)), counter=90))
    there = await routing.completed_by_inventory(routing.routed(routed))
    assert [a["Header"]["ResponseCode"] for a in here.answers + there.answers] == ["I0", "I0"]
    strip = ("event_id", "device_id", "request_id", "occurred_at", "status_since")
    assert [{k: v for k, v in e.items() if k not in strip} for e in here.events] == \
        [{k: v for k, v in e.items() if k not in strip} for e in there.events]


async def test_a_change_behind_one_on_inventorys_topic_is_routed_behind_it(chain, routing, conn):
    first = await routing.intake.given(routing.request("12.2", build.prenotification(METER), counter=90))
    behind = _changes_routed("behind")
    when = await chain.intake.when(chain.request("8.4", TO_INC))
    assert when.codes == [] and len(chain.routed(when)) == 1
    assert _changes_routed("behind") == behind + 1
    done = await chain.completed_by_inventory([*chain.routed(first), *chain.routed(when)])
    assert done.codes == ["I0", "I0"]
    assert await _history(conn) == [(None, "Pending"), ("Pending", "InstalledNotCommissioned")]


async def test_a_batch_keeps_each_devices_order_across_both_paths(chain, conn):
    await chain.intake.given(chain.request("12.2", build.prenotification(METER)))
    when = await chain.intake.when(chain.request("8.2", {"DeviceID": METER}),
                                   chain.request("8.4", TO_INC),
                                   chain.request("8.2", {"DeviceID": METER}),
                                   chain.request("8.4", TO_PENDING))
    assert when.codes == ["I0", "I0"], "the first read answered here, then the change applied here"
    [device] = when.answers[0]["Body"]["ResponseMessage"]["DSPInventory"]["Device"]
    assert device["DeviceStatus"] == "Pending", "the read before the change does not see it"
    assert [orjson.loads(o.value)["variant"] for o in chain.routed(when)] == ["8.2", "8.4"]
    done = await chain.completed_by_inventory(chain.routed(when))
    assert done.codes == ["I0", "I0"]
    [device] = done.answers[0]["Body"]["ResponseMessage"]["DSPInventory"]["Device"]
    assert device["DeviceStatus"] == "InstalledNotCommissioned", "the routed read sees the change before it only"
    assert await _history(conn) == [(None, "Pending"), ("Pending", "InstalledNotCommissioned"),
                                    ("InstalledNotCommissioned", "Pending")]


async def test_an_applied_change_replayed_gets_its_response_again_and_changes_nothing(chain, conn):
    change = chain.request("12.2", build.prenotification(METER))
    first = await chain.intake.given(change)
    replay = await chain.intake.when(change)
    assert [o.value for o in replay.outputs] == [o.value for o in first.on(chain.topics.responses)]
    assert replay.events == [] and chain.routed(replay) == []
    assert await _history(conn) == [(None, "Pending")]


async def test_a_change_replayed_in_its_own_batch_gets_the_response_it_got(chain, conn):
    change = chain.request("12.2", build.prenotification(METER))
    when = await chain.intake.when(change, change)
    [answer, again] = when.on(chain.topics.responses)
    assert again.value == answer.value and len(when.events) == 1
    assert await _history(conn) == [(None, "Pending")]


async def test_a_change_inventory_does_not_answer_is_routed(handler_settings, conn):
    silent = InventoryApi("http://127.0.0.1:9", 1.0, 1.0)  # the discard port: nothing listens
    before, timed = _changes_routed("no_answer"), _applies_timed()
    try:
        chain = Chain(handler_settings, conn, silent)
        when = await chain.intake.when(chain.request("12.2", build.prenotification(METER)))
    finally:
        await silent.close()
    assert when.codes == [] and when.events == [] and len(chain.routed(when)) == 1
    assert _changes_routed("no_answer") == before + 1
    assert _applies_timed() == timed + 1, "a call that found no answer is timed too"
    done = await chain.completed_by_inventory(chain.routed(when))
    assert done.codes == ["I0"] and len(done.events) == 1


async def test_a_batch_of_more_changes_than_the_limit_is_routed_whole(handler_settings, conn, inventory):
    chain = Chain(handler_settings.model_copy(update={"inventory_apply_max_changes": 1}), conn, inventory)
    busy = _changes_routed("busy")
    when = await chain.intake.when(chain.request("12.2", build.prenotification(METER)),
                                   chain.request("12.2", build.prenotification(device_id(12))))
    assert when.codes == [] and len(chain.routed(when)) == 2
    assert _changes_routed("busy") == busy + 2


async def test_a_change_applied_after_intake_gave_up_on_the_call_is_published_once_from_the_topic(
        routing, inventory, conn):
    """Inventory applied it, intake did not hear so and routed it: the topic path publishes what
    the call produced, and applies nothing again."""
    request = routing.request("12.2", build.prenotification(METER), counter=90)
    routed = await routing.intake.when(request)
    [command] = routing.routed(routed)
    produced = await inventory.apply([(request, command)])
    done = await routing.completed_by_inventory([command])
    assert [(o.topic, o.value) for o in done.outputs] == [(o.topic, o.value) for o in produced[0]]
    assert await inventory.apply([(request, command)]) == produced, "a call again answers the same"
    assert await _history(conn) == [(None, "Pending")]


async def test_a_call_for_a_change_taken_from_the_topic_produces_nothing(routing, inventory, conn):
    request = routing.request("12.2", build.prenotification(METER), counter=90)
    [command] = routing.routed(await routing.intake.when(request))
    done = await routing.completed_by_inventory([command])
    assert done.codes == ["I0"]
    assert await inventory.apply([(request, command)]) == [[]]
    assert await _history(conn) == [(None, "Pending")]


async def test_inventory_refuses_a_call_that_is_not_a_list_of_changes(inventory):
    async with inventory.http.post(f"{inventory.url}/service-requests", data=b'{"requests": [{}]}') as answer:
        assert answer.status == 400 and (await answer.json())["code"] == "E13"


async def test_what_a_change_produced_is_kept_for_its_days_then_pruned(chain, conn):
    await chain.intake.given(chain.request("12.2", build.prenotification(METER)))
    kept = await conn.fetchval("select count(*) from inventory.applied_outputs")
    assert kept == 2, "its response and its event"
    now = datetime.now(timezone.utc)
    assert await applied.prune(OneConnection(conn), now - timedelta(days=7)) == 0
    assert await applied.prune(OneConnection(conn), now + timedelta(seconds=1)) == 2
    assert await conn.fetchval("select count(*) from inventory.applied_outputs") == 0
