"""Requests on the same devices inside one batch: each is decided against the state the ones
before it left, exactly as if they had come one at a time."""
import pytest

from services.inventory.app import serve
from shared.duis import build
from shared.duis.build import device_id
from tests.integration.test_inventory_flow import Inputs, code, history, status_of
from tests.support import running

pytestmark = pytest.mark.integration


def shown(answer: dict) -> list[tuple]:
    devices = answer["Body"]["ResponseMessage"]["DSPInventory"]["Device"]
    devices = devices if isinstance(devices, list) else [devices]
    return [(d["DeviceID"], d["DeviceStatus"], d.get("ImportMPxN")) for d in devices]


async def test_one_batch_reads_its_own_changes_and_deletions(settings, bus):
    meter, other, inputs = device_id(40), device_id(41), Inputs(settings, bus)
    # Everything is on the topic before inventory starts, so its first batch holds it all.
    ids = {
        "add": await inputs.request("12.2", build.prenotification(meter), "2024-01-01T00:00:00"),
        "add other": await inputs.request("12.2", build.prenotification(other), "2024-01-01T00:00:01"),
        "install": await inputs.request("8.4", {"DeviceID": meter, "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"},
                                        "2024-01-02T00:00:00"),
        "read installed": await inputs.request("8.2", {"DeviceID": meter}),
        "decommission": await inputs.request("8.3", {"DeviceID": meter}, "2024-01-03T00:00:00"),
        "decommission again": await inputs.request("8.3", {"DeviceID": meter}, "2024-01-03T00:00:01"),
        "move other": await inputs.request("8.4", {"DeviceID": other, "UpdateMPxN": {"ImportMPxN": "1900000041"}}),
        "read by MPxN": await inputs.request("8.2", {"MPxN": "1900000041"}),
        "delete other": await inputs.request("8.4", {"DeviceID": other, "DeleteDevice": True}),
        "read deleted": await inputs.request("8.2", {"DeviceID": other}),
        "add other again": await inputs.request("12.2", build.prenotification(other), "2024-01-04T00:00:00"),
        "read re-added": await inputs.request("8.2", {"DeviceID": other}),
    }
    async with running(serve, settings):
        answers = await inputs.responses(len(ids))
    by_step = {step: answers[request_id] for step, request_id in ids.items()}

    assert {step: code(a) for step, a in by_step.items()} == {
        "add": "I0", "add other": "I0", "install": "I0", "read installed": "I0", "decommission": "I0",
        "decommission again": "E31", "move other": "I0", "read by MPxN": "I0", "delete other": "I0",
        "read deleted": "E30", "add other again": "I0", "read re-added": "I0"}
    assert shown(by_step["read installed"]) == [(meter, "InstalledNotCommissioned", None)]
    assert shown(by_step["read by MPxN"]) == [(other, "Pending", "1900000041")]
    assert shown(by_step["read re-added"]) == [(other, "Pending", None)]
    assert await status_of(settings, meter) == "Decommissioned"
    assert await history(settings, meter) == [
        (None, "Pending", "12.2"),
        ("Pending", "InstalledNotCommissioned", "8.4 UpdateDeviceStatusExceptCH"),
        ("InstalledNotCommissioned", "Decommissioned", "8.3")]
    assert await history(settings, other) == [(None, "Pending", "12.2")]
    assert await history(settings, other, archived=True) == [(None, "Pending", "12.2"), ("Pending", None, "8.4 DeleteDevice")]
