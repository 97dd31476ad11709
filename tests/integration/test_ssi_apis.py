"""The owning services' party-scoped reads that the SSI pages use: one return's hubs a page at a
time and by status, a party's own devices, a device's pending age against the policy. What is
another party's answers 404, as what does not exist."""
from datetime import timedelta

import aiohttp
import orjson
import pytest

from services.intake.app import serve as intake
from services.inventory.app import serve as inventory
from services.returns.app import serve as returns
from shared.duis import build
from tests.integration.test_ssi_browser import (RETURNED_AT, free_port, gpf_of, housekeeping_api, hub,
                                                millis, wait_for)
from tests.support import CSP_NORTH, SUPPLIER, SUPPLIER_2, running

pytestmark = pytest.mark.integration


async def get(http: aiohttp.ClientSession, url: str, **params) -> tuple[int, dict]:
    async with http.get(url, params=params) as response:
        return response.status, orjson.loads(await response.read())


async def test_a_return_is_read_a_page_and_a_status_at_a_time_by_its_own_party_only(settings, bus):
    topics = settings.topics
    ports = {"inventory": free_port(), "returns": free_port()}
    own, theirs = [hub(n) for n in range(1, 13)], hub(20)
    async with running(intake, settings), \
            running(inventory, settings.model_copy(update={"http_port": ports["inventory"]})), \
            running(returns, settings.model_copy(update={"http_port": ports["returns"], "returns_overdue_check_seconds": 0})):
        for chf, party in [*[(h, SUPPLIER) for h in own], (theirs, SUPPLIER_2)]:
            await bus.send(topics.csp_events, orjson.dumps({
                "type": "CommsHubDelivered", "chf_id": chf, "gpf_id": gpf_of(chf), "csp_id": CSP_NORTH,
                "ordering_party": party, "csp_region": "North", "manufacturer": "ACME", "model": "CH-1"}),
                key=chf.encode(), timestamp_ms=millis(RETURNED_AT - timedelta(days=10)))
        await bus.read(topics.device_events, count=26)
        await bus.send(topics.requests, build.request(SUPPLIER, 1, "8.14.4", build.no_fault_return([*own, theirs]), "json"),
                       headers={"content-type": "application/json"}, timestamp_ms=millis(RETURNED_AT))
        await bus.read(topics.responses, count=1, timeout=30)
        await bus.send(topics.csp_events, orjson.dumps({"type": "ReturnReceived", "device_id": own[2],
                                                        "outcome": "no_fault_found"}), key=own[2].encode())
        await bus.flush()
        request_id = build.request_id(SUPPLIER, 1)
        ours = f"http://127.0.0.1:{ports['returns']}/returns/parties/{SUPPLIER}/requests/{request_id}"
        other = f"http://127.0.0.1:{ports['returns']}/returns/parties/{SUPPLIER_2}/requests/{request_id}"
        devices = f"http://127.0.0.1:{ports['inventory']}/parties"
        async with aiohttp.ClientSession() as http:
            async def received() -> bool:
                return (await get(http, ours, status="closed"))[1]["total"] == 1
            await wait_for(received)
            second_page = await get(http, ours, limit=5, offset=5)
            closed = await get(http, ours, status="closed")
            refused = await get(http, ours, status="refused")
            not_theirs = await get(http, other)
            bad_status = await get(http, ours, status="lost")
            own_hub = await get(http, f"{devices}/{SUPPLIER}/devices/{own[0]}")
            own_gpf = await get(http, f"{devices}/{SUPPLIER}/devices/{gpf_of(own[0])}")
            their_hub = await get(http, f"{devices}/{SUPPLIER_2}/devices/{own[0]}")
            missing = await get(http, f"{devices}/{SUPPLIER}/devices/{hub(99)}")

    status, page = second_page
    assert status == 200
    assert (page["total"], page["hubs_total"], page["limit"], page["offset"]) == (13, 13, 5, 5)
    assert [h["device_id"] for h in page["hubs"]] == own[5:10]
    assert [h["position"] for h in page["hubs"]] == [5, 6, 7, 8, 9]
    assert {h["code"] for h in page["hubs"]} == {"I0"} and all(h["due_by"] == "2024-04-09" for h in page["hubs"])
    assert page["counts"] == {"open": 11, "overdue": 0, "closed": 1, "refused": 1, "awaiting_inventory": 0}
    assert [(h["device_id"], h["status"]) for h in closed[1]["hubs"]] == [(own[2], "closed")]
    assert [e["event"] for e in closed[1]["hubs"][0]["history"]] == ["opened", "received", "closed"]
    assert [(h["device_id"], h["code"], h["reference"]) for h in refused[1]["hubs"]] == [(theirs, "E51", None)]
    assert not_theirs[0] == 404
    assert bad_status[0] == 400
    assert own_hub[0] == 200 and own_hub[1]["Device"][0]["DeviceStatus"] == "Withdrawn"
    assert own_hub[1]["Device"][0]["StatusSince"] == "2024-01-10T09:30:00+00:00"
    # The entry follows DUIS 5.4's Device, which names no linked device: that the GPF belongs to the
    # hub shows in its being withdrawn with the hub's return.
    [gpf] = own_gpf[1]["Device"]
    assert own_gpf[0] == 200 and (gpf["DeviceID"], gpf["DeviceType"], gpf["DeviceStatus"]) == (
        gpf_of(own[0]), "GPF", "Withdrawn")
    assert "LinkedDeviceID" not in gpf
    assert their_hub == (404, {"code": "E30", "reason": f"{own[0]} is not in the Smart Metering Inventory"})
    assert missing[0] == 404


async def test_housekeeping_answers_a_devices_pending_age_against_the_policy_in_force():
    port = free_port()
    base = f"http://127.0.0.1:{port}/pending-age"
    since = "2024-01-31T00:00:00+00:00"
    async with housekeeping_api(port), aiohttp.ClientSession() as http:
        meter = await get(http, base, device_type="ESME", pending_since=since, as_of="2024-06-01T00:00:00+00:00")
        overdue = await get(http, base, device_type="GSME", pending_since=since, as_of="2025-03-01T00:00:00+00:00")
        hub_ = await get(http, base, device_type="CHF", pending_since=since, as_of="2026-03-01T00:00:00+00:00")
        type_2 = await get(http, base, device_type="IHD", pending_since=since, as_of="2024-06-01T00:00:00+00:00")
        no_offset = await get(http, base, device_type="ESME", pending_since="2024-01-31T00:00:00",
                              as_of="2024-06-01T00:00:00+00:00")

    assert meter == (200, {"policy_version": "2025.1", "rule": "all-pending", "months": 12, "excluded": False,
                           "pending_since": since, "as_of": "2024-06-01T00:00:00+00:00", "age_months": 4,
                           "due_at": "2025-01-31T00:00:00+00:00", "decision": "not-due"})
    assert (overdue[1]["age_months"], overdue[1]["decision"]) == (13, "remove")
    assert (hub_[1]["excluded"], hub_[1]["age_months"], hub_[1]["decision"]) == (True, 25, "retain-excluded")
    assert type_2[0] == 422 and "Type 2" in type_2[1]["error"]
    assert no_offset[0] == 422
