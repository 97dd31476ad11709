"""Housekeeping against a real broker and database, with inventory's part played by the test."""
from datetime import UTC, datetime

import asyncio
import socket

import aiohttp
import orjson
import pytest
from lxml import etree

from shared.duis import codec
from tests.integration.test_housekeeping_support import (
    FakeInventory, changed, device_id, housekeeping, pending, wait_tracked, write_policy,
)
from tests.support import CSP_NORTH, SUPPLIER, SUPPLIER_2

pytestmark = pytest.mark.integration
NS = {"sr": codec.NS}
AS_OF = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def alerted(records) -> dict[str, str]:
    """DeviceID -> party key of each N8 alert."""
    found = {}
    for record in records:
        document = etree.fromstring(record.value)
        assert etree.QName(document).localname == "Response"
        assert document.findtext("sr:Header/sr:ResponseCode", namespaces=NS) == "I0"
        message = document.find("sr:Body/sr:DCCAlertMessage", namespaces=NS)
        assert message.findtext("sr:DCCAlertCode", namespaces=NS) == "N8"
        event = message.find("sr:DCCAlert/sr:DeviceStatusChangeEvent", namespaces=NS)
        assert event.find("sr:DeviceStatusChange/sr:DeviceRemovedFromInventory", namespaces=NS) is not None
        found[event.findtext("sr:DeviceID", namespaces=NS)] = record.key.decode()
    return found


async def run(bus, settings, as_of: datetime) -> None:
    await bus.send(settings.topics.housekeeping_runs, orjson.dumps({"as_of": as_of.isoformat()}))
    await bus.flush()


async def test_due_meter_removed_with_n8_and_hubs_kept(settings, bus, tmp_path):
    esme, chf, gpf, young = device_id(1), device_id(2), device_id(3), device_id(4)
    async with housekeeping(settings, tmp_path) as service, FakeInventory(settings, bus) as inventory:
        await inventory.publish(
            pending(esme, "ESME", at("2024-02-29T12:00:00")),   # 12 months and a day
            pending(chf, "CHF", at("2024-02-01T00:00:00")),     # 13 months
            pending(gpf, "GPF", at("2024-02-01T00:00:00")),
            pending(young, "GSME", at("2024-03-02T00:00:00")))  # not yet 12 months
        await wait_tracked(service, 4)
        await run(bus, settings, AS_OF)
        alerts = await bus.read(settings.topics.alerts, count=1, settle=3)
        assert alerted(alerts) == {esme: SUPPLIER}
        assert [c.device_id for c in inventory.commands] == [esme]
        assert inventory.devices[chf].status == inventory.devices[gpf].status == "Pending"
        await wait_tracked(service, 3)
        report = await service.queries.retention(service.policy.current, AS_OF)
    assert report["total"] == 2
    assert report["by_type"] == {"CHF": 1, "GPF": 1}
    assert report["by_notifying_party"] == {CSP_NORTH: 2}
    assert report["by_age_months"] == {"13": 2}


async def test_per_type_durations_are_honoured(settings, bus, tmp_path):
    gsme_35, gsme_36, esme_12 = device_id(11), device_id(12), device_id(13)
    policy = write_policy(tmp_path / "policy.yaml", version="gas-36", months="{GSME: 36}")
    async with housekeeping(settings, tmp_path, policy) as service, FakeInventory(settings, bus) as inventory:
        await inventory.publish(
            pending(gsme_35, "GSME", at("2022-04-01T00:00:00")),   # 35 months
            pending(gsme_36, "GSME", at("2022-03-01T12:00:00")),   # exactly 36 months
            pending(esme_12, "ESME", at("2024-03-01T12:00:00")))   # exactly 12 months
        await wait_tracked(service, 3)
        await run(bus, settings, AS_OF)
        alerts = await bus.read(settings.topics.alerts, count=2, settle=3)
    assert alerted(alerts) == {gsme_36: SUPPLIER, esme_12: SUPPLIER}
    assert {c.policy_version for c in inventory.commands} == {"gas-36"}
    assert inventory.devices[gsme_35].status == "Pending"


async def test_previously_active_only_keeps_devices_that_never_left_pending(settings, bus, tmp_path):
    never_left, returned, returned_recently = device_id(21), device_id(22), device_id(23)
    policy = write_policy(tmp_path / "policy.yaml", version="active-1", rule="previously-active-only")
    async with housekeeping(settings, tmp_path, policy) as service, FakeInventory(settings, bus) as inventory:
        first = pending(returned, "ESME", at("2022-01-10T00:00:00"), party=SUPPLIER_2)
        recent = pending(returned_recently, "ESME", at("2022-01-10T00:00:00"))
        await inventory.publish(
            pending(never_left, "ESME", at("2022-01-10T00:00:00")),  # over three years, never left
            first, changed(first, "Commissioned", at("2022-06-01T00:00:00")),
            changed(changed(first, "Decommissioned", at("2023-01-01T00:00:00")), "Pending",
                    at("2024-01-05T00:00:00")),                     # back in Pending 14 months ago
            recent, changed(recent, "Withdrawn", at("2024-05-01T00:00:00")))
        await inventory.publish(changed(inventory.devices[returned_recently], "Pending",
                                        at("2024-06-01T00:00:00")))  # back 9 months ago
        await wait_tracked(service, 3)
        await run(bus, settings, AS_OF)
        alerts = await bus.read(settings.topics.alerts, count=1, settle=3)
        async with service.work.pool.acquire() as conn:
            summary = await conn.fetch("select retained_by_rule, policy_version from housekeeping.runs")
    assert alerted(alerts) == {returned: SUPPLIER_2}
    assert [c.device_id for c in inventory.commands] == [returned]
    assert sum(r["retained_by_rule"] for r in summary) == 1
    assert {r["policy_version"] for r in summary} == {"active-1"}


async def test_device_commissioned_after_the_decision_is_kept_without_n8(settings, bus, tmp_path):
    late, due = device_id(31), device_id(32)
    async with housekeeping(settings, tmp_path) as service, FakeInventory(settings, bus) as inventory:
        await inventory.publish(pending(late, "ESME", at("2023-01-01T00:00:00")),
                                pending(due, "GSME", at("2023-01-01T00:00:00")))
        await wait_tracked(service, 2)
        inventory.answering.clear()  # the run decides; inventory has not acted yet
        await run(bus, settings, AS_OF)
        commands = await bus.read(settings.topics.inventory_commands, count=2)
        assert sorted(orjson.loads(c.value)["device_id"] for c in commands) == [late, due]
        await inventory.publish(changed(inventory.devices[late], "Commissioned", at("2025-03-01T12:30:00")))
        inventory.answering.set()
        alerts = await bus.read(settings.topics.alerts, count=1, settle=3)
    assert alerted(alerts) == {due: SUPPLIER}
    assert inventory.devices[late].status == "Commissioned"


async def test_same_as_of_twice_removes_and_alerts_once(settings, bus, tmp_path):
    devices = [device_id(40 + n) for n in range(5)]
    async with housekeeping(settings, tmp_path) as service, FakeInventory(settings, bus) as inventory:
        await inventory.publish(*(pending(d, "ESME", at("2023-06-01T00:00:00")) for d in devices))
        await wait_tracked(service, 5)
        await run(bus, settings, AS_OF)
        await bus.read(settings.topics.alerts, count=5)
        await run(bus, settings, AS_OF)
        await run(bus, settings, AS_OF)
        alerts = await bus.read(settings.topics.alerts, count=5, settle=4)
        commands = await bus.read(settings.topics.inventory_commands, count=5, settle=1)
        runs = await service.queries.pool.fetch("select count(*) as n from housekeeping.runs")
    assert sorted(alerted(alerts)) == sorted(devices)
    assert len(alerts) == 5
    assert len(commands) == 5
    assert runs[0]["n"] == settings.partitions


async def test_forecast_equals_the_removals_of_a_later_run(settings, bus, tmp_path):
    meters = [pending(device_id(60 + n), "ESME" if n % 2 else "GSME", at(f"2024-0{1 + n % 3}-15T00:00:00"),
                      party=SUPPLIER if n % 3 else SUPPLIER_2) for n in range(9)]
    hubs = [pending(device_id(80 + n), "CHF", at("2023-01-01T00:00:00")) for n in range(2)]
    async with housekeeping(settings, tmp_path) as service, FakeInventory(settings, bus) as inventory:
        await inventory.publish(*meters, *hubs)
        await wait_tracked(service, 11)
        policy = service.policy.current
        forecast = await service.queries.forecast(policy, at("2025-01-01T00:00:00"), at("2025-03-31T00:00:00"))
        as_of_forecast = await service.queries.forecast(policy, AS_OF, AS_OF)
        await run(bus, settings, AS_OF)
        expected = as_of_forecast["removed"]["total"]
        alerts = await bus.read(settings.topics.alerts, count=expected, settle=3)
    assert forecast["removed"]["by_month"] == {"2025-01": 3, "2025-02": 3, "2025-03": 3}
    assert forecast["removed"]["by_type"] == {"ESME": 4, "GSME": 5}
    assert forecast["removed"]["by_notifying_party"] == {SUPPLIER: 6, SUPPLIER_2: 3}
    assert forecast["retained"]["by_type"] == {"CHF": 2}
    assert forecast["retained"]["by_month"] == {"2025-01": 2}
    assert expected == 6  # due by 1 March: the January and February cohorts
    assert len(alerts) == expected
    assert len(inventory.commands) == expected
    assert sorted(alerted(alerts)) == sorted(
        m.device_id for m in meters if m.status_since < at("2024-03-01T12:00:00"))


async def test_malformed_run_goes_to_dead_letters_and_bad_policy_is_refused(settings, bus, tmp_path):
    policy_file = write_policy(tmp_path / "policy.yaml", version="good-1")
    async with housekeeping(settings, tmp_path, policy_file) as service:
        await bus.send(settings.topics.housekeeping_runs, b'{"as_of": "yesterday"}')
        await bus.send(settings.topics.housekeeping_runs, b'{"as_of": "2025-03-01T00:00:00"}')
        dead = await bus.read(settings.topics.dead_letters, count=2, settle=1)
        policy_file.write_text('version: "bad-2"\ndefault_months: 0\nexcluded_types: [CHF]\n')
        await asyncio.sleep(1)
        running_version = service.policy.current.version
    reasons = {d.value: dict(d.headers)["dlq-reason"].decode() for d in dead}
    assert sorted(reasons) == [b'{"as_of": "2025-03-01T00:00:00"}', b'{"as_of": "yesterday"}']
    assert "valid datetime" in reasons[b'{"as_of": "yesterday"}']
    assert "must carry a UTC offset" in reasons[b'{"as_of": "2025-03-01T00:00:00"}']
    assert running_version == "good-1"


async def test_http_forecast_for_a_policy_file_and_reload_refusal(settings, bus, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings.model_copy(update={"http_port": port})
    policy_file = write_policy(tmp_path / "policy.yaml", version="http-1")
    url = f"http://127.0.0.1:{port}"
    async with housekeeping(settings, tmp_path, policy_file) as service, FakeInventory(settings, bus) as inventory:
        await inventory.publish(pending(device_id(90), "ESME", at("2023-01-01T00:00:00")),
                                pending(device_id(91), "CHF", at("2023-01-01T00:00:00")))
        await wait_tracked(service, 2)
        async with aiohttp.ClientSession() as http:
            no_exclusion = 'version: "draft-2"\nexcluded_types: []\n'
            instant = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-01T00:00:00Z"}
            async with http.post(f"{url}/forecasts", json={"policy": no_exclusion, **instant}) as r:
                assert r.status == 200
                forecast = await r.json()
            invalid = "version: 1\ndefault_months: 0\n"
            async with http.post(f"{url}/forecasts", json={"policy": invalid, **instant}) as r:
                assert r.status == 422
                refused = await r.json()
            policy_file.write_text("version: ''\n")
            async with http.post(f"{url}/policy/reload") as r:
                assert r.status == 422
                reload_refused = await r.json()
            async with http.get(f"{url}/policy") as r:
                running = await r.json()
    assert forecast["policy_version"] == "draft-2"
    assert forecast["removed"]["by_type"] == {"CHF": 1, "ESME": 1}
    assert forecast["retained"]["total"] == 0
    assert "default_months: Input should be greater than or equal to 1" in refused["error"]
    assert "version: String should have at least 1 character" in reload_refused["error"]
    assert "version http-1 stays in force" in reload_refused["error"]
    assert running["version"] == "http-1"
    assert inventory.commands == []


async def test_scheduled_run_uses_the_clock(settings, bus, tmp_path):
    due = device_id(95)
    clock_now = at("2025-03-01T06:00:00")
    async with housekeeping(settings, tmp_path, clock=lambda: clock_now, run_interval_seconds=1.0) as service, \
            FakeInventory(settings, bus) as inventory:
        await inventory.publish(pending(due, "ESME", at("2024-02-01T00:00:00")))
        await wait_tracked(service, 1)
        alerts = await bus.read(settings.topics.alerts, count=1, timeout=30, settle=2)
    assert alerted(alerts) == {due: SUPPLIER}
    assert len(alerts) == 1  # a run every second, all as of the same instant: one removal
    assert {c.as_of for c in inventory.commands} == {clock_now}


async def test_asking_again_removes_what_was_missed_and_alerts_nothing_twice(settings, bus, tmp_path):
    first = [device_id(100 + n) for n in range(5)]
    late = [device_id(120 + n) for n in range(3)]
    async with housekeeping(settings, tmp_path) as service, FakeInventory(settings, bus) as inventory:
        await inventory.publish(*(pending(d, "ESME", at("2023-06-01T00:00:00")) for d in first))
        await wait_tracked(service, 5)
        inventory.answering.clear()  # the first run's removals are still on their way
        await run(bus, settings, AS_OF)
        await bus.read(settings.topics.inventory_commands, count=5)
        # Due as of the same instant, but committed only after the first run was asked for.
        await inventory.publish(*(pending(d, "GSME", at("2023-06-01T00:00:00")) for d in late))
        await wait_tracked(service, 8)
        await run(bus, settings, AS_OF)
        commands = await bus.read(settings.topics.inventory_commands, count=13)
        inventory.answering.set()
        alerts = await bus.read(settings.topics.alerts, count=8, settle=4)
        await wait_tracked(service, 0)  # the refusals of repeated commands bring nothing back
        await run(bus, settings, AS_OF)
        await asyncio.sleep(3)
        async with service.work.pool.acquire() as conn:
            runs = await conn.fetch("select attempts, events_covered from housekeeping.runs")
    assert sorted(orjson.loads(c.value)["device_id"] for c in commands) == sorted(first * 2 + late)
    assert sorted(alerted(alerts)) == sorted(first + late)
    assert len(alerts) == 8
    assert len(inventory.commands) == 13  # the third run found nothing left to remove
    assert [r["attempts"] for r in runs] == [3] * settings.partitions
    assert all(r["events_covered"] is not None for r in runs)
