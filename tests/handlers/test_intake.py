"""Intake's checks and routes, given / when / then, over PostgreSQL alone: a request of each
served variant goes to the service that owns it, a request failing a check is answered with its
code, a replay gets the recorded response, and what cannot be read is dead-lettered."""
from functools import partial

import orjson
import pytest

from services.intake.handlers import ROUTES, Intake, handle_requests, handle_responses
from shared.dispatch import MissingHandler, owner_table
from shared.duis import build
from shared.duis.build import device_id
from shared.duis.catalogue import SERVICE_REQUESTS
from tests.handlers.harness import Harness, RegistryFile

SUPPLIER, UNKNOWN_PARTY = "90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-01-0F-FF"
JSON = (("content-type", "application/json"),)
BODIES = {
    "12.2": build.prenotification(device_id(1)), "8.2": {"DeviceID": device_id(1)},
    "8.3": {"DeviceID": device_id(1)},
    "8.4": {"DeviceID": device_id(1), "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"},
    "8.14.1": build.install_success(device_id(2)), "8.14.2": build.install_no_sm_wan(device_id(2)),
    "8.14.3": build.fault_return([device_id(2)]), "8.14.4": build.no_fault_return([device_id(2)]),
}


@pytest.fixture
def intake(handler_settings, conn):
    ctx = Intake(handler_settings, RegistryFile(handler_settings))  # no read API: every 8.2 is routed
    return (Harness(handler_settings, conn, partial(handle_requests, ctx)),
            Harness(handler_settings, conn, partial(handle_responses, ctx)))


def request(h: Harness, counter: int, variant: str, body: dict, party: str = SUPPLIER):
    return h.record(h.settings.topics.requests, build.request(party, counter, variant, body, "json"), headers=JSON)


def test_every_served_variant_has_a_test_here():
    assert set(BODIES) == set(SERVICE_REQUESTS)


@pytest.mark.parametrize("variant", sorted(BODIES))
async def test_an_accepted_request_goes_to_the_service_that_owns_its_variant(intake, variant):
    requests, _ = intake
    when = await requests.when(request(requests, 1, variant, BODIES[variant]))
    owner = SERVICE_REQUESTS[variant].owner
    topic = {"inventory": requests.settings.topics.inventory_commands,
             "returns": requests.settings.topics.returns_commands}[owner]
    [command] = when.json_on(topic)
    assert (command["type"], command["variant"], command["reply"]["originator"]) == (
        "HandleServiceRequest", variant, SUPPLIER)
    assert when.codes == []


async def test_a_body_failing_its_schema_is_answered_with_its_code(intake):
    requests, _ = intake
    when = await requests.when(request(requests, 1, "12.2", build.prenotification(device_id(1), DeviceType="TOASTER")))
    assert when.codes == ["E12"] and when.on(requests.settings.topics.inventory_commands) == []


async def test_a_request_from_an_unknown_party_is_refused_and_not_recorded(intake, conn):
    requests, _ = intake
    when = await requests.when(request(requests, 1, "8.2", BODIES["8.2"], party=UNKNOWN_PARTY))
    assert len(when.codes) == 1 and when.codes[0] != "I0"
    assert await conn.fetchval("select count(*) from intake.requests") == 0


async def test_a_replay_gets_the_recorded_response_once_the_owner_answered(intake):
    requests, responses = intake
    routed = request(requests, 7, "8.2", BODIES["8.2"])
    await requests.given(routed)
    owner_answer = b'{"owner": "answer"}'
    await responses.given(responses.record(responses.settings.topics.responses, owner_answer, key=SUPPLIER,
                                           headers=[("request-id", build.request_id(SUPPLIER, 7))]))
    when = await requests.when(routed)
    assert [o.value for o in when.on(requests.settings.topics.responses)] == [owner_answer]
    assert when.on(requests.settings.topics.inventory_commands) == []


async def test_a_rejected_request_replayed_gets_the_same_response(intake):
    requests, _ = intake
    rejected = request(requests, 3, "12.2", build.prenotification(device_id(1), DeviceType="TOASTER"))
    first = await requests.given(rejected)
    when = await requests.when(rejected)
    assert [o.value for o in when.outputs] == [o.value for o in first.outputs]


async def test_what_cannot_be_read_is_dead_lettered(intake):
    requests, _ = intake
    when = await requests.when(requests.record(requests.settings.topics.requests, b"\x00 not a request",
                                               headers=JSON))
    assert len(when.dead_letters) == 1 and when.codes == []


async def test_a_request_too_large_is_answered_e17(intake):
    requests, _ = intake
    too_large = build.request(SUPPLIER, 4, "8.2", {"DeviceID": device_id(1)}, "json")
    too_large += b" " * requests.settings.max_request_bytes
    when = await requests.when(requests.record(requests.settings.topics.requests, too_large, headers=JSON))
    assert when.codes == ["E17"]
    assert orjson.loads(when.on(requests.settings.topics.responses)[0].value)["Header"]["RequestID"] == \
        build.request_id(SUPPLIER, 4)


def test_every_service_owning_service_requests_has_a_route():
    assert set(ROUTES) == {spec.owner for spec in SERVICE_REQUESTS.values()}
    with pytest.raises(MissingHandler, match="returns"):
        owner_table({"inventory": ROUTES["inventory"]})
