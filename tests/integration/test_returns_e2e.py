"""A bulk return through intake, inventory and returns together: hubs delivered by their CSP,
returned in one request, withdrawn in the inventory, tracked, and closed on receipt."""
import orjson
import pytest

from services.intake.app import serve as intake
from services.inventory.app import serve as inventory
from services.returns import tracking
from services.returns.app import serve as returns
from shared.duis import build
from tests.integration.test_returns_flow import connect, gpf_of, hub
from tests.support import CSP_NORTH, SUPPLIER, SUPPLIER_2, running

pytestmark = pytest.mark.integration


def delivered(chf: str, ordering_party: str) -> bytes:
    return orjson.dumps({"type": "CommsHubDelivered", "chf_id": chf, "gpf_id": gpf_of(chf),
                         "csp_id": CSP_NORTH, "ordering_party": ordering_party, "csp_region": "North",
                         "manufacturer": "ACME", "model": "CH-1"})


async def test_bulk_return_through_every_service(settings, bus):
    settings = settings.model_copy(update={"returns_overdue_check_seconds": 0})
    topics = settings.topics
    own, theirs, unknown, already = [hub(1), hub(2)], hub(3), hub(4), hub(5)
    async with running(intake, settings), running(inventory, settings), running(returns, settings):
        for chf, party in [(hub(1), SUPPLIER), (hub(2), SUPPLIER), (theirs, SUPPLIER_2), (already, SUPPLIER)]:
            await bus.send(topics.csp_events, delivered(chf, party))
        await bus.read(topics.device_events, count=8)
        await bus.send(topics.requests, build.request(SUPPLIER, 1, "8.14.4", build.no_fault_return([already]), "json"),
                       headers={"content-type": "application/json"})
        await bus.read(topics.responses, count=1, timeout=30)
        mixed = [*own, theirs, unknown, already]
        await bus.send(topics.requests, build.request(SUPPLIER, 2, "8.14.3", build.fault_return(mixed), "json"),
                       headers={"content-type": "application/json"})
        responses = await bus.read(topics.responses, count=2, timeout=30)
        await bus.send(topics.csp_events, orjson.dumps({"type": "ReturnReceived", "device_id": hub(1),
                                                        "outcome": "fault_confirmed"}))
        events = await bus.read(topics.device_events, count=14, settle=1.0)
        letters = await bus.read(topics.dead_letters, timeout=1.0)
        conn = await connect(settings)
        try:
            view = await tracking.by_request(conn, build.request_id(SUPPLIER, 2))
            received = await tracking.by_hub(conn, hub(1))
        finally:
            await conn.close()

    answers = {orjson.loads(r.value)["Header"]["RequestID"]: orjson.loads(r.value) for r in responses}
    answer = answers[build.request_id(SUPPLIER, 2)]
    assert answer["Header"]["ResponseCode"] == "W081401"
    results = answer["Body"]["ResponseMessage"]["CHFReturnResults"]["HubResult"]
    assert {r["DeviceID"]: r["ResponseCode"] for r in results} == {
        hub(1): "I0", hub(2): "I0", theirs: "E51", unknown: "E081401", already: "E081405"}
    withdrawn = {e["device_id"] for e in map(lambda r: orjson.loads(r.value), events)
                 if e["type"] == "DeviceStatusChanged" and e["status"] == "Withdrawn"}
    assert withdrawn == {hub(1), gpf_of(hub(1)), hub(2), gpf_of(hub(2)), already, gpf_of(already)}
    assert [h["status"] for h in view["hubs"]] == ["closed", "open", "refused", "refused", "refused"]
    assert received["records"][0]["gpf_id"] == gpf_of(hub(1))
    assert received["records"][0]["outcome"] == "fault_confirmed"
    assert letters == [], "the ReturnReceived is returns' alone: inventory leaves it"
