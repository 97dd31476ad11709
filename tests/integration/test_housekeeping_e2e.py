"""Housekeeping with the real inventory: a meter pending over 12 months is removed from the SMI
with an N8 to its supplier; the Comms Hub pending as long is kept and still read as Pending."""
import asyncio

import orjson
import pytest

from services.inventory.app import serve as serve_inventory
from shared.duis import build
from tests.integration.test_housekeeping_flow import alerted
from tests.integration.test_housekeeping_support import device_id, housekeeping
from tests.integration.test_inventory_flow import Inputs
from tests.support import SUPPLIER, running

pytestmark = pytest.mark.integration


async def test_real_inventory_removes_the_meter_and_keeps_the_hub(settings, bus, tmp_path):
    meter, chf, gpf = device_id(1, "00-E1"), device_id(2, "00-E1"), device_id(3, "00-E1")
    inputs = Inputs(settings, bus)
    async with running(serve_inventory, settings), housekeeping(settings, tmp_path):
        await inputs.request("12.2", build.prenotification(meter), "2024-01-10T09:00:00")
        await inputs.hub(chf, gpf, "2024-01-10T09:00:00")
        await inputs.responses(1)
        await inputs.events(3)
        await asyncio.sleep(1)  # the events reach the faust table
        await bus.send(settings.topics.housekeeping_runs, orjson.dumps({"as_of": "2025-02-11T00:00:00Z"}))
        alerts = await bus.read(settings.topics.alerts, count=1, settle=3)
        read = await inputs.request("8.2", {"DeviceID": chf}, "2025-02-12T00:00:00")
        removed_read = await inputs.request("8.2", {"DeviceID": meter}, "2025-02-12T00:00:00")
        responses = await inputs.responses(3)
        events = await inputs.events(4)
    assert alerted(alerts) == {meter: SUPPLIER}
    assert [e["type"] for e in events if e["device_id"] == meter] == ["DeviceAdded", "DeviceRemoved"]
    answer = responses[read]
    assert answer["Header"]["ResponseCode"] == "I0"
    [hub] = answer["Body"]["ResponseMessage"]["DSPInventory"]["Device"]
    assert (hub["DeviceID"], hub["DeviceType"], hub["DeviceStatus"]) == (chf, "CHF", "Pending")
    assert responses[removed_read]["Header"]["ResponseCode"] == "E30"  # no such device any more
