"""Returns' handler table, given / when / then, over PostgreSQL alone: SR 8.14.3 and 8.14.4,
inventory's HubsReturned, the CSP's ReturnReceived, the overdue check, and an unknown type."""
from functools import partial

import pytest

from services.returns import handlers
from shared.duis import build
from shared.duis.build import device_id
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.messages import HandleServiceRequest, HubResult, HubsReturned, ReplyTo
from tests.handlers.harness import Harness, at, context

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
HUB, OTHER_HUB = device_id(1), device_id(2)


@pytest.fixture
def returns(handler_settings, conn):
    handle = partial(handlers.handle, context(handler_settings), handlers.table(handler_settings))
    return Returns(Harness(handler_settings, conn, handle))


class Returns:
    def __init__(self, harness: Harness) -> None:
        self.h, self.topics, self.counter = harness, harness.settings.topics, 0

    def request(self, variant: str, body: dict, when: str = "2024-01-01T00:00:00"):
        self.counter += 1
        request_id = build.request_id(SUPPLIER, self.counter)
        command = HandleServiceRequest(
            reply=ReplyTo(request_id=request_id, originator=SUPPLIER, format="json", schema_version="5.4",
                          variant=variant),
            variant=variant, roles=["GS", "IS"], event_time=at(when),
            body={SERVICE_REQUESTS[variant].element: body})
        return self.h.record(self.topics.returns_commands, command, key=request_id)

    def asked(self, outcome) -> list[dict]:
        """The ReturnHubs commands sent to inventory."""
        return outcome.json_on(self.topics.inventory_commands)

    def hubs_returned(self, ask: dict, codes: dict[str, str]):
        reply = HubsReturned(command_id=ask["command_id"], request_id=ask["request_id"],
                             results=[HubResult(device_id=hub, code=codes[hub]) for hub in ask["hubs"]])
        return self.h.record(self.topics.inventory_replies, reply, key=ask["request_id"])

    async def record_status(self, hub: str) -> str | None:
        return await self.h.conn.fetchval("select status from returns.records where device_id = $1", hub)


async def test_8_14_3_fault_return_asks_inventory_for_its_hubs_and_answers_nothing_yet(returns):
    when = await returns.h.when(returns.request("8.14.3", build.fault_return([HUB, OTHER_HUB])))
    [ask] = returns.asked(when)
    assert ask["type"] == "ReturnHubs" and ask["hubs"] == [HUB, OTHER_HUB]
    assert when.codes == []


async def test_8_14_4_no_fault_return_answered_when_inventory_replies_opens_a_record_per_accepted_hub(returns):
    given = await returns.h.given(returns.request("8.14.4", build.no_fault_return([HUB, OTHER_HUB])))
    [ask] = returns.asked(given)
    when = await returns.h.when(returns.hubs_returned(ask, {HUB: "I0", OTHER_HUB: "E51"}))
    assert when.codes == ["W081401"]
    assert await returns.record_status(HUB) == "open"
    assert await returns.record_status(OTHER_HUB) is None


async def test_a_hub_already_under_return_is_refused_by_returns_itself(returns):
    given = await returns.h.given(returns.request("8.14.4", build.no_fault_return([HUB])))
    await returns.h.given(returns.hubs_returned(returns.asked(given)[0], {HUB: "I0"}))
    when = await returns.h.when(returns.request("8.14.4", build.no_fault_return([HUB])))
    assert when.codes == ["E081405"] and returns.asked(when) == []


async def test_a_request_known_before_is_answered_with_its_saved_response(returns):
    request = returns.request("8.14.4", build.no_fault_return([HUB]))
    given = await returns.h.given(request)
    await returns.h.given(returns.hubs_returned(returns.asked(given)[0], {HUB: "I0"}))
    when = await returns.h.when(request)
    assert when.codes == ["I0"] and returns.asked(when) == []


async def test_a_variant_returns_does_not_serve_is_answered_e42(returns):
    when = await returns.h.when(returns.request("8.3", {"DeviceID": HUB}))
    assert when.codes == ["E42"]


async def test_hubs_returned_for_no_request_is_a_dead_letter(returns):
    ask = {"command_id": "returns:nobody", "request_id": "nobody", "hubs": [HUB]}
    when = await returns.h.when(returns.hubs_returned(ask, {HUB: "I0"}))
    assert when.dead_letters == ["no return request nobody asked inventory with returns:nobody"]


async def test_return_received_closes_the_hubs_record(returns):
    given = await returns.h.given(returns.request("8.14.4", build.no_fault_return([HUB])))
    await returns.h.given(returns.hubs_returned(returns.asked(given)[0], {HUB: "I0"}))
    when = await returns.h.when(returns.h.record(returns.topics.csp_events, {
        "type": "ReturnReceived", "device_id": HUB, "outcome": "no_fault_found"}))
    assert when.outputs == []
    assert await returns.record_status(HUB) == "closed"


async def test_return_received_for_a_hub_without_a_record_is_a_dead_letter(returns):
    when = await returns.h.when(returns.h.record(returns.topics.csp_events, {
        "type": "ReturnReceived", "device_id": HUB, "outcome": "no_fault_found"}))
    assert when.dead_letters == [f"hub {HUB} has no open Returns Remedy Record"]


async def test_check_overdue_alerts_the_returning_party_once(returns):
    given = await returns.h.given(returns.request("8.14.4", build.no_fault_return([HUB]), "2024-01-01T00:00:00"))
    await returns.h.given(returns.hubs_returned(returns.asked(given)[0], {HUB: "I0"}))
    check = {"type": "CheckOverdue", "as_of": "2025-01-01T00:00:00Z"}
    when = await returns.h.when(returns.h.record(returns.topics.returns_commands, check),
                                returns.h.record(returns.topics.returns_commands, check))
    [alert] = when.on(returns.topics.alerts)
    assert alert.key.decode() == SUPPLIER and dict(alert.headers)["request-id"] == build.request_id(SUPPLIER, 1)
    assert await returns.record_status(HUB) == "overdue"


async def test_an_unknown_type_is_dead_lettered_and_inventorys_events_are_left_alone(returns):
    when = await returns.h.when(
        returns.h.record(returns.topics.returns_commands, {"type": "ReturnEverything"}),
        returns.h.record(returns.topics.csp_events, {"type": "CommsHubDelivered"}),
        returns.h.record(returns.topics.inventory_replies, b"not json"))
    assert when.dead_letters == ["returns takes HandleServiceRequest or CheckOverdue commands, not 'ReturnEverything'",
                                 "not a JSON message with a type"]
    assert when.per_record[1] == []
