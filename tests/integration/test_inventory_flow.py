"""Inventory over the real broker and database: requests, hub deliveries and returns, removal
guard, redelivery, ordering per device, dead letters, the HTTP API."""
import signal
import socket
from datetime import datetime, timezone

import aiohttp
import asyncpg
import orjson
import pytest

from services.inventory import store
from services.inventory.app import serve
from shared.duis import build
from shared.duis.build import device_id
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.messages import EnrolSMETS1Device, HandleServiceRequest, RemoveDevice, ReplyTo, ReturnHubs
from tests.support import CSP_NORTH, SUPPLIER, SUPPLIER_2, running, start_process, wait_ready

pytestmark = pytest.mark.integration


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def ms(text: str) -> int:
    return int(at(text).timestamp() * 1000)


class Inputs:
    """Commands and CSP events for one test, numbered so every RequestID is new."""

    def __init__(self, settings, bus) -> None:
        self.settings, self.bus, self.counter = settings, bus, 0

    async def request(self, variant: str, body: dict, when: str = "2024-01-01T00:00:00",
                      party: str = SUPPLIER, roles=("GS", "IS"), counter: int | None = None) -> str:
        if counter is None:
            self.counter += 1
            counter = self.counter
        request_id = build.request_id(party, counter)
        command = HandleServiceRequest(
            reply=ReplyTo(request_id=request_id, originator=party, format="json", schema_version="5.4"),
            variant=variant, roles=list(roles), event_time=at(when),
            body={SERVICE_REQUESTS[variant].element: body})
        key = body.get("DeviceID") or body.get("MPxN") or request_id
        await self.bus.send(self.settings.topics.inventory_commands, command.to_bytes(), key=key.encode())
        return request_id

    async def command(self, message, key: str) -> None:
        await self.bus.send(self.settings.topics.inventory_commands,
                            message.model_dump_json(exclude_none=True).encode(), key=key.encode())

    async def hub(self, chf: str, gpf: str, when: str, ordering_party: str = SUPPLIER) -> None:
        event = {"type": "CommsHubDelivered", "chf_id": chf, "gpf_id": gpf, "csp_id": CSP_NORTH,
                 "ordering_party": ordering_party, "csp_region": "North", "manufacturer": "CH1",
                 "model": "H1", "firmware_version": "1.0"}
        await self.bus.send(self.settings.topics.csp_events, orjson.dumps(event), key=chf.encode(),
                            timestamp_ms=ms(when))

    async def responses(self, count: int, settle: float = 0.5) -> dict[str, dict]:
        records = await self.bus.read(self.settings.topics.responses, count=count, settle=settle)
        assert len(records) == count, [orjson.loads(r.value)["Header"] for r in records]
        return {orjson.loads(r.value)["Header"]["RequestID"]: orjson.loads(r.value) for r in records}

    async def events(self, count: int, settle: float = 0.5) -> list[dict]:
        records = await self.bus.read(self.settings.topics.device_events, count=count, settle=settle)
        assert len(records) == count, [orjson.loads(r.value) for r in records]
        for record in records:
            assert record.key.decode() == orjson.loads(record.value)["device_id"]
        return [orjson.loads(r.value) for r in sorted(records, key=lambda r: (r.partition, r.offset))]


def code(answer: dict) -> str:
    return answer["Header"]["ResponseCode"]


async def history(settings, device: str, archived: bool = False) -> list[tuple]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await (store.archived_history if archived else store.history)(conn, device)
        return [(r["from_status"], r["to_status"], r["cause"]) for r in rows]
    finally:
        await conn.close()


async def status_of(settings, device: str) -> str | None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval("select status from inventory.devices where device_id = $1", device)
    finally:
        await conn.close()


def statuses(events: list[dict], device: str) -> list[tuple]:
    return [(e["type"], e["previous_status"] if "previous_status" in e else None, e.get("status"))
            for e in events if e["device_id"] == device]


async def test_a_device_moves_through_its_statuses_in_order_and_a_forbidden_move_changes_nothing(settings, bus):
    meter, inputs = device_id(1), Inputs(settings, bus)
    async with running(serve, settings):
        added = await inputs.request("12.2", build.prenotification(meter), "2024-01-01T10:00:00")
        again = await inputs.request("12.2", build.prenotification(meter), "2024-01-01T11:00:00")
        too_early = await inputs.request("8.3", {"DeviceID": meter}, "2024-01-02T00:00:00")
        not_theirs = await inputs.request("8.4", {"DeviceID": meter, "UpdateDeviceStatusExceptCH":
            "InstalledNotCommissioned"}, "2024-01-02T12:00:00", party=SUPPLIER_2)
        installed = await inputs.request("8.4", {"DeviceID": meter, "UpdateDeviceStatusExceptCH":
            "InstalledNotCommissioned"}, "2024-01-03T00:00:00")
        decommissioned = await inputs.request("8.3", {"DeviceID": meter}, "2024-01-04T00:00:00")
        back = await inputs.request("8.4", {"DeviceID": meter, "UpdateDeviceStatusExceptCH":
            "Pending"}, "2024-01-05T00:00:00")
        unknown = await inputs.request("8.3", {"DeviceID": device_id(2)})
        answers = await inputs.responses(8)
        events = await inputs.events(4)

    assert {rid: code(a) for rid, a in answers.items()} == {
        added: "I0", again: "E120201", too_early: "E31", not_theirs: "E51", installed: "I0",
        decommissioned: "I0", back: "I0", unknown: "E30"}
    assert statuses(events, meter) == [
        ("DeviceAdded", None, "Pending"),
        ("DeviceStatusChanged", "Pending", "InstalledNotCommissioned"),
        ("DeviceStatusChanged", "InstalledNotCommissioned", "Decommissioned"),
        ("DeviceStatusChanged", "Decommissioned", "Pending")]
    assert events[-1]["reason"] == "return to Pending, AC 7.1" and events[-1]["ever_left_pending"] is True
    assert events[-1]["status_since"].startswith("2024-01-05T00:00:00")
    assert await history(settings, meter) == [
        (None, "Pending", "12.2"),
        ("Pending", "InstalledNotCommissioned", "8.4 UpdateDeviceStatusExceptCH"),
        ("InstalledNotCommissioned", "Decommissioned", "8.3"),
        ("Decommissioned", "Pending", "8.4 UpdateDeviceStatusExceptCH (return to Pending, AC 7.1)")]
    conn = await asyncpg.connect(settings.database_url)
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("update inventory.status_history set cause = 'x'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("delete from inventory.status_history")
    finally:
        await conn.close()


async def test_redelivered_messages_change_nothing_and_emit_nothing(settings, bus):
    meter, other, inputs = device_id(10), device_id(11), Inputs(settings, bus)
    removal = RemoveDevice(command_id="hk-1", device_id=other, pending_since=at("2024-01-01T00:00:00"),
                           as_of=at("2025-02-01T00:00:00"), policy_version="v1", reason="pending 12 months")
    async with running(serve, settings):
        await inputs.request("12.2", build.prenotification(meter), counter=1)
        await inputs.request("12.2", build.prenotification(other), counter=2)
        await inputs.request("12.2", build.prenotification(meter), counter=1)  # the same RequestID again
        await inputs.events(2, settle=0)
        await inputs.command(removal, other)
        await inputs.command(removal, other)
        await inputs.request("8.4", {"DeviceID": meter, "UpdateMPxN": {"ImportMPxN": "1234567"}}, counter=3)
        await inputs.request("8.4", {"DeviceID": meter, "UpdateMPxN": {"ImportMPxN": "7654321"}}, counter=3)
        answers = await bus.read(settings.topics.responses, count=3, settle=1.5)
        events = await inputs.events(4, settle=1.0)

    assert len(answers) == 3, "one response per RequestID"
    assert [e["type"] for e in events if e["device_id"] == other] == ["DeviceAdded", "DeviceRemoved"]
    assert [e["type"] for e in events if e["device_id"] == meter] == ["DeviceAdded", "DeviceDetailsChanged"]
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("select mpxn from inventory.devices where device_id = $1", meter) == "1234567"
        assert await conn.fetchval("select count(*) from inventory.archived_devices") == 1
    finally:
        await conn.close()


async def test_removal_guard_keeps_a_device_that_moved_after_housekeeping_decided(settings, bus):
    moved, idle, inputs = device_id(20), device_id(21), Inputs(settings, bus)
    since = "2023-01-01T00:00:00"
    async with running(serve, settings):
        await inputs.request("12.2", build.prenotification(moved), since)
        await inputs.request("12.2", build.prenotification(idle), since)
        # housekeeping decides from what it saw at since; meanwhile the meter is installed
        await inputs.request("8.4", {"DeviceID": moved, "UpdateDeviceStatusExceptCH":
            "InstalledNotCommissioned"}, "2024-01-10T00:00:00")
        await inputs.responses(3, settle=0)
        for n, device in enumerate((moved, idle)):
            await inputs.command(RemoveDevice(
                command_id=f"hk-{n}", device_id=device, pending_since=at(since), as_of=at("2024-01-15T00:00:00"),
                policy_version="2024-01", reason="Pending for 12 months"), device)
        events = await inputs.events(5)

    refused = next(e for e in events if e["type"] == "RemovalRefused")
    assert refused["device_id"] == moved and refused["command_id"] == "hk-0"
    assert refused["reason"].startswith("status is InstalledNotCommissioned since 2024-01-10")
    removed = next(e for e in events if e["type"] == "DeviceRemoved")
    assert (removed["device_id"], removed["reason"], removed["policy_version"]) == (
        idle, "Pending for 12 months", "2024-01")
    assert removed["notifying_party"] == SUPPLIER and removed["previous_status"] == "Pending"
    assert await status_of(settings, moved) == "InstalledNotCommissioned"
    assert await status_of(settings, idle) is None
    assert await history(settings, idle) == []
    assert await history(settings, idle, archived=True) == [(None, "Pending", "12.2"),
                                                            ("Pending", None, "RemoveDevice")]


async def test_bulk_hub_return_answers_each_hub_by_ownership_and_status(settings, bus):
    inputs = Inputs(settings, bus)
    own, installed, theirs, returned = (device_id(n, "00-CC") for n in (1, 2, 3, 4))
    gpf = {hub: device_id(int(hub[-2:], 16) + 100, "00-CC") for hub in (own, installed, theirs, returned)}
    meter, missing = device_id(30), device_id(31)
    async with running(serve, settings):
        for hub in (own, installed, returned):
            await inputs.hub(hub, gpf[hub], "2024-01-01T00:00:00")
        await inputs.hub(theirs, gpf[theirs], "2024-01-01T00:00:00", ordering_party=SUPPLIER_2)
        await inputs.request("12.2", build.prenotification(meter))
        await inputs.events(9, settle=0)
        await inputs.request("8.14.1", build.install_success(installed), "2024-02-01T00:00:00")
        await inputs.command(ReturnHubs(command_id="r-1", request_id="R1", originator=SUPPLIER,
                                        event_time=at("2024-02-10T00:00:00"), hubs=[returned]), "R1")
        await inputs.events(13, settle=0)
        await inputs.command(ReturnHubs(
            command_id="r-2", request_id="R2", originator=SUPPLIER, event_time=at("2024-03-01T00:00:00"),
            hubs=[own, installed, theirs, returned, missing, meter, gpf[own]]), "R2")
        replies = await bus.read(settings.topics.inventory_replies, count=2, settle=0.5)
        events = await inputs.events(17)

    second = orjson.loads(replies[-1].value)
    assert second["request_id"] == "R2" and replies[-1].key == b"R2"
    assert {r["device_id"]: r["code"] for r in second["results"]} == {
        own: "I0", installed: "I0", theirs: "E51", returned: "E55", missing: "E081401",
        meter: "E081402", gpf[own]: "E081402"}
    assert {r["device_id"]: r.get("gpf_id") for r in second["results"]}[own] == gpf[own]
    last = [e for e in events if e.get("command_id") == "r-2"]
    assert sorted((e["device_id"], e["previous_status"], e["status"]) for e in last) == sorted([
        (own, "Pending", "Withdrawn"), (gpf[own], "Pending", "Withdrawn"),
        (installed, "Commissioned", "Withdrawn"), (gpf[installed], "Commissioned", "Withdrawn")])
    assert await status_of(settings, theirs) == "Pending"
    assert await history(settings, installed) == [
        (None, "Pending", "CommsHubDelivered"), ("Pending", "Commissioned", "8.14.1"),
        ("Commissioned", "Withdrawn", "ReturnHubs")]


async def test_read_inventory_shows_s1sp_for_smets1_and_refuses_what_it_cannot_answer(settings, bus):
    inputs, smets1, smets2 = Inputs(settings, bus), device_id(40), device_id(41)
    async with running(serve, settings):
        await inputs.command(EnrolSMETS1Device(
            command_id="mig-1", device_id=smets1, device_type="ESME", manufacturer="S1M", model="S1",
            firmware_version="9", s1sp="S1SP-A", responsible_supplier=SUPPLIER, mpxn="1900000001",
            event_time=at("2023-05-01T00:00:00")), smets1)
        await inputs.request("12.2", build.prenotification(smets2, "GSME"))
        await inputs.events(2, settle=0)
        by_id = await inputs.request("8.2", {"DeviceID": smets1})
        by_mpxn = await inputs.request("8.2", {"MPxN": "1900000001"})
        smets2_read = await inputs.request("8.2", {"DeviceID": smets2})
        missing = await inputs.request("8.2", {"DeviceID": device_id(42)})
        by_uprn = await inputs.request("8.2", {"UPRN": "123"})
        answers = await inputs.responses(6)

    message = answers[by_id]["Body"]["ResponseMessage"]
    assert (message["ServiceReference"], message["ServiceReferenceVariant"]) == ("8.2", "8.2")
    device = message["DSPInventory"]["Device"]
    assert device == [{"DeviceID": smets1, "DeviceType": "ESME", "DeviceStatus": "Commissioned",
                      "DeviceManufacturer": "S1M", "DeviceModel": "S1", "DeviceFirmwareVersion": "9",
                      "DateCommissioned": "2023-05-01", "ImportMPxN": "1900000001", "CSPRegion": "SMETS1",
                      "S1SP": "S1SP-A"}]
    assert list(device[0]) == ["DeviceID", "DeviceType", "DeviceStatus", "DeviceManufacturer", "DeviceModel",
                               "DeviceFirmwareVersion", "DateCommissioned", "ImportMPxN", "CSPRegion", "S1SP"]
    assert answers[by_mpxn]["Body"] == answers[by_id]["Body"]
    [other] = answers[smets2_read]["Body"]["ResponseMessage"]["DSPInventory"]["Device"]
    assert "S1SP" not in other and other["DeviceStatus"] == "Pending" and other["CSPRegion"] == "Unknown"
    assert (code(answers[missing]), code(answers[by_uprn])) == ("E30", "E080201")


async def test_unusable_input_goes_to_the_dead_letters_and_return_received_is_left_to_returns(settings, bus):
    topics = settings.topics
    async with running(serve, settings):
        await bus.send(topics.inventory_commands, b'{"type": "Teleport"}', key=b"x")
        await bus.send(topics.inventory_commands, b"not json", key=b"x")
        await bus.send(topics.csp_events, b'{"type": "CommsHubDelivered", "chf_id": "nope"}')
        await bus.send(topics.csp_events, orjson.dumps({"type": "ReturnReceived", "device_id": device_id(1),
                                                        "outcome": "no_fault_found"}))
        refused = await Inputs(settings, bus).request("12.2", {**build.prenotification(device_id(2)),
                                                              "DeviceType": "Toaster"})
        letters = await bus.read(topics.dead_letters, count=3, settle=1.0)
        events = await bus.read(topics.device_events, timeout=1.0)
        [answer] = await bus.read(topics.responses, count=1)

    reasons = [dict((k, v.decode()) for k, v in r.headers)["dlq-reason"] for r in letters]
    assert len(letters) == 3 and events == []
    assert sum("not 'Teleport'" in r for r in reasons) == 1
    assert sum("not None" in r for r in reasons) == 1
    assert sum("chf_id" in r for r in reasons) == 1
    headers = dict((k, v.decode()) for k, v in answer.headers)
    assert (headers["request-id"], headers["response-code"]) == (refused, "E12"), "a body inventory refuses is answered"
    assert "DeviceType" in headers["response-reason"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_http_api_answers_reads_and_reports(settings, bus):
    settings = settings.model_copy(update={"http_port": _free_port()})
    inputs, meter = Inputs(settings, bus), device_id(50)
    base = f"http://127.0.0.1:{settings.http_port}"
    async with running(serve, settings), aiohttp.ClientSession() as http:
        await inputs.request("12.2", build.prenotification(meter), "2024-01-01T00:00:00")
        await inputs.hub(device_id(51), device_id(52), "2024-01-01T00:00:00")
        await inputs.events(3, settle=0)
        await inputs.request("8.4", {"DeviceID": meter, "UpdateMPxN": {"ImportMPxN": "1000999888"}})
        await inputs.responses(2, settle=0)
        async with http.get(f"{base}/devices?mpxn=1000999888") as at_mpxn:
            assert at_mpxn.status == 200
            [shown] = (await at_mpxn.json())["DSPInventory"]["Device"]
            assert (shown["DeviceID"], shown["ImportMPxN"]) == (meter, "1000999888")
        async with http.get(f"{base}/devices/{meter.lower()}") as found:
            assert found.status == 200
            assert (await found.json())["Device"]["DeviceStatus"] == "Pending"
        async with http.get(f"{base}/devices/{device_id(59)}") as missing:
            assert missing.status == 404 and (await missing.json())["code"] == "E30"
        async with http.get(f"{base}/devices/not-an-eui") as bad:
            assert bad.status == 400 and (await bad.json())["code"] == "E11"
        async with http.post(f"{base}/read-inventory",
                             json={"DeviceID": [meter.lower(), device_id(59)]}) as read:
            answers = await read.json()
            assert answers[device_id(59)] == {"code": "E30", "reason": f"no device in the SMI for {device_id(59)}"}
            assert answers[meter]["code"] == "I0"
            assert answers[meter]["payload"]["DSPInventory"]["Device"][0]["ImportMPxN"] == "1000999888"
        async with http.post(f"{base}/read-inventory", json={"DeviceID": ["not-an-eui"]}) as bad_read:
            assert bad_read.status == 400 and (await bad_read.json())["code"] == "E13"
        async with http.get(f"{base}/reports/ch-stock-level?date=2024-01-31") as stock:
            assert (await stock.json())["parties"] == [{"ordering_party": SUPPLIER, "hubs": 1}]
        async with http.get(f"{base}/reports/stock-ageing?as_of=2024-05-01T00:00:00Z") as ageing:
            assert (await ageing.json())["total"] == 3
        async with http.get(f"{base}/reports/stock-ageing?as_of=yesterday") as wrong:
            assert wrong.status == 400


async def test_killed_mid_load_every_device_is_added_once_and_answered_once(settings, bus, tmp_path):
    inputs, count = Inputs(settings, bus), 5000
    for n in range(count):
        await inputs.request("12.2", build.prenotification(device_id(100_000 + n)), counter=n + 1)
    await bus.flush()
    process = start_process("inventory", settings, tmp_path / "inventory.log")
    try:
        await wait_ready(process.metrics_port, process=process)
        await bus.read(settings.topics.device_events, count=200, timeout=60)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        process = start_process("inventory", settings, tmp_path / "inventory.log")
        answers = await bus.read(settings.topics.responses, count=count, timeout=120, settle=2.0)
        events = await bus.read(settings.topics.device_events, count=count, timeout=30, settle=1.0)
    finally:
        process.kill()
        process.wait(10)

    assert len(answers) == count
    assert len({dict(r.headers)["request-id"] for r in answers}) == count
    assert {dict(r.headers)["response-code"] for r in answers} == {b"I0"}
    assert len(events) == count and len({orjson.loads(e.value)["event_id"] for e in events}) == count
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("select count(*) from inventory.devices") == count
        assert await conn.fetchval("select count(*) from inventory.status_history") == count
    finally:
        await conn.close()
