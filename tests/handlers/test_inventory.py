"""Inventory's handler table, given / when / then, over PostgreSQL alone: one test at least per
Service Request variant and per command and event it serves, and an unknown type."""
from functools import partial

import pytest

from services.inventory import executor, handlers, store
from shared.messages import EnrolSMETS1Device
from shared.dispatch import HandlerTable, MissingHandler, Row
from shared.duis import build
from shared.duis.build import device_id
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.messages import HandleServiceRequest, RemoveDevice, ReplyTo, ReturnHubs
from tests.handlers.harness import Harness, at, context

SUPPLIER, OTHER_SUPPLIER, CSP = "90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-01-00-01", "90-B3-D5-1F-30-00-00-C1"
METER, CHF, GPF = device_id(1), device_id(2), device_id(3)


@pytest.fixture
def inventory(handler_settings, conn):
    handle = partial(executor.handle, context(handler_settings), handlers.table(handler_settings))
    return Inventory(Harness(handler_settings, conn, handle))


class Inventory:
    """Records for inventory's topics, each Service Request with a RequestID of its own."""

    def __init__(self, harness: Harness) -> None:
        self.h, self.topics, self.counter = harness, harness.settings.topics, 0

    def request(self, variant: str, body: dict, when: str = "2024-01-01T00:00:00", party: str = SUPPLIER):
        self.counter += 1
        command = HandleServiceRequest(
            reply=ReplyTo(request_id=build.request_id(party, self.counter), originator=party, format="json",
                          schema_version="5.4", variant=variant),
            variant=variant, roles=["GS", "IS"], event_time=at(when),
            body={SERVICE_REQUESTS[variant].element: body})
        return self.h.record(self.topics.inventory_commands, command, key=body.get("DeviceID"))

    def command(self, message):
        return self.h.record(self.topics.inventory_commands, message)

    def hub_delivered(self, when: str = "2024-01-01T00:00:00"):
        return self.h.record(self.topics.csp_events, {
            "type": "CommsHubDelivered", "chf_id": CHF, "gpf_id": GPF, "csp_id": CSP,
            "ordering_party": SUPPLIER, "csp_region": "North", "manufacturer": "CH1", "model": "H1"},
            key=CHF, at_ms=int(at(when).timestamp() * 1000))

    async def status(self, device: str) -> str | None:
        return await self.h.conn.fetchval("select status from inventory.devices where device_id = $1", device)


def moves(events: list[dict]) -> list[tuple]:
    return [(e["type"], e["device_id"], e.get("previous_status"), e.get("status")) for e in events]


async def test_12_2_prenotification_adds_a_pending_device(inventory):
    when = await inventory.h.when(inventory.request("12.2", build.prenotification(METER)))
    assert when.codes == ["I0"]
    assert moves(when.events) == [("DeviceAdded", METER, None, "Pending")]
    assert await inventory.status(METER) == "Pending"


async def test_12_2_of_a_device_already_in_the_smi_is_refused(inventory):
    await inventory.h.given(inventory.request("12.2", build.prenotification(METER)))
    when = await inventory.h.when(inventory.request("12.2", build.prenotification(METER)))
    assert when.codes == ["E120201"] and when.events == []


async def test_a_run_of_additions_in_one_batch_sees_its_own_devices(inventory):
    when = await inventory.h.when(inventory.request("12.2", build.prenotification(METER)),
                                  inventory.request("12.2", build.prenotification(METER)),
                                  inventory.request("8.4", {"DeviceID": METER, "UpdateDeviceStatusExceptCH":
                                                            "InstalledNotCommissioned"}))
    assert when.codes == ["I0", "E120201", "I0"]
    assert await inventory.status(METER) == "InstalledNotCommissioned"


async def test_additions_between_changes_to_other_devices_are_written_together(inventory, monkeypatch):
    other, third = device_id(4), device_id(5)
    await inventory.h.given(inventory.request("12.2", build.prenotification(other)))
    writes = []
    for name in ("insert", "append_history"):
        def counted(conn, rows, _name=name, _write=getattr(store, name)):
            writes.append((_name, len(rows)))
            return _write(conn, rows)
        monkeypatch.setattr(store, name, counted)
    when = await inventory.h.when(
        inventory.request("12.2", build.prenotification(METER)),
        inventory.request("8.4", {"DeviceID": other, "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"}),
        inventory.request("12.2", build.prenotification(third)))
    assert when.codes == ["I0", "I0", "I0"]
    assert writes == [("insert", 2), ("append_history", 3)], "one write per table per batch"


async def test_additions_named_up_front_are_looked_up_with_the_batch_s_devices(inventory, monkeypatch):
    other = device_id(4)
    await inventory.h.given(inventory.request("12.2", build.prenotification(other)))
    reads = []
    for name in ("devices", "existing_ids"):
        def counted(conn, ids, *args, _name=name, _read=getattr(store, name)):
            reads.append((_name, sorted(ids)))
            return _read(conn, ids, *args)
        monkeypatch.setattr(store, name, counted)
    when = await inventory.h.when(
        inventory.request("12.2", build.prenotification(METER)),
        inventory.request("8.4", {"DeviceID": other, "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"}),
        inventory.hub_delivered(),
        inventory.request("12.2", build.prenotification(other)))
    assert when.codes == ["I0", "I0", "E120201"]
    assert moves(when.events) == [("DeviceAdded", METER, None, "Pending"),
                                  ("DeviceStatusChanged", other, "Pending", "InstalledNotCommissioned"),
                                  ("DeviceAdded", CHF, None, "Pending"), ("DeviceAdded", GPF, None, "Pending")]
    assert reads == [("devices", sorted([METER, other, CHF, GPF]))], "one look-up per batch"


async def test_a_message_handled_before_or_earlier_in_the_batch_changes_nothing(inventory):
    add = inventory.request("12.2", build.prenotification(METER))
    change = inventory.request("8.4", {"DeviceID": METER, "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"})
    first = await inventory.h.when(add, add, change, change)
    assert [len(outputs) for outputs in first.per_record] == [2, 0, 2, 0]
    again = await inventory.h.when(change, add)
    assert again.per_record == [[], []]
    assert [(r["from_status"], r["to_status"]) for r in await store.history(inventory.h.conn, METER)] == [
        (None, "Pending"), ("Pending", "InstalledNotCommissioned")]


async def test_a_device_added_in_the_batch_is_in_the_smi_for_the_batch_s_later_additions(inventory):
    when = await inventory.h.when(
        inventory.request("12.2", build.prenotification(METER)),
        inventory.request("8.2", {"DeviceID": METER}),
        inventory.request("12.2", build.prenotification(METER)),
        inventory.request("8.4", {"DeviceID": METER, "DeleteDevice": True}),
        inventory.request("12.2", build.prenotification(METER)))
    assert when.codes == ["I0", "I0", "E120201", "I0", "I0"]
    assert moves(when.events) == [("DeviceAdded", METER, None, "Pending"), ("DeviceDeleted", METER, "Pending", None),
                                  ("DeviceAdded", METER, None, "Pending")]


async def test_a_change_or_a_read_of_a_device_added_earlier_in_the_batch_sees_it_added(inventory):
    other = device_id(4)
    await inventory.h.given(inventory.request("12.2", build.prenotification(other)))
    when = await inventory.h.when(
        inventory.request("12.2", build.prenotification(METER)),
        inventory.request("8.4", {"DeviceID": other, "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"}),
        inventory.request("8.4", {"DeviceID": METER, "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"}),
        inventory.request("8.2", {"DeviceID": METER}),
        inventory.request("12.2", build.prenotification(device_id(6))),
        inventory.command(RemoveDevice(command_id="housekeeping:1", device_id=device_id(6),
                                       pending_since=at("2024-01-01T00:00:00"), as_of=at("2025-02-01T00:00:00"),
                                       policy_version="v1", reason="Pending 12 months")))
    assert when.codes == ["I0", "I0", "I0", "I0", "I0"]
    [read] = when.answers[3]["Body"]["ResponseMessage"]["DSPInventory"]["Device"]
    assert (read["DeviceID"], read["DeviceStatus"]) == (METER, "InstalledNotCommissioned")
    assert moves(when.events)[-1] == ("DeviceRemoved", device_id(6), "Pending", None)
    assert [(r["from_status"], r["to_status"]) for r in await store.history(inventory.h.conn, METER)] == [
        (None, "Pending"), ("Pending", "InstalledNotCommissioned")]


async def test_8_2_read_inventory_answers_with_the_device(inventory):
    await inventory.h.given(inventory.request("12.2", build.prenotification(METER)))
    when = await inventory.h.when(inventory.request("8.2", {"DeviceID": METER}))
    assert when.codes == ["I0"]
    [entry] = when.answers[0]["Body"]["ResponseMessage"]["DSPInventory"]["Device"]
    assert entry["DeviceID"] == METER and entry["DeviceStatus"] == "Pending"


async def test_8_3_decommissions_an_installed_device(inventory):
    await inventory.h.given(inventory.request("12.2", build.prenotification(METER)),
                            inventory.request("8.4", {"DeviceID": METER, "UpdateDeviceStatusExceptCH":
                                                      "InstalledNotCommissioned"}))
    when = await inventory.h.when(inventory.request("8.3", {"DeviceID": METER}, "2024-02-01T00:00:00"))
    assert when.codes == ["I0"]
    assert moves(when.events) == [("DeviceStatusChanged", METER, "InstalledNotCommissioned", "Decommissioned")]
    assert await inventory.status(METER) == "Decommissioned"


async def test_8_3_of_a_device_not_in_the_smi_is_e30(inventory):
    when = await inventory.h.when(inventory.request("8.3", {"DeviceID": METER}))
    assert when.codes == ["E30"] and when.events == []


async def test_8_4_status_update_by_another_supplier_is_refused_and_changes_nothing(inventory):
    await inventory.h.given(inventory.request("12.2", build.prenotification(METER)))
    when = await inventory.h.when(inventory.request("8.4", {"DeviceID": METER, "UpdateDeviceStatusExceptCH":
                                                            "InstalledNotCommissioned"}, party=OTHER_SUPPLIER))
    assert when.codes == ["E51"] and when.events == []
    assert await inventory.status(METER) == "Pending"


async def test_8_4_delete_device_archives_it(inventory):
    await inventory.h.given(inventory.request("12.2", build.prenotification(METER)))
    when = await inventory.h.when(inventory.request("8.4", {"DeviceID": METER, "DeleteDevice": True}),
                                  inventory.request("8.2", {"DeviceID": METER}))
    assert when.codes == ["I0", "E30"], "the deleted device is gone for the next request of the batch"
    assert [e["type"] for e in when.events] == ["DeviceDeleted"]
    assert await inventory.status(METER) is None
    assert await store.last_archived(inventory.h.conn, METER) is not None


async def test_8_14_2_installs_the_hub_and_its_gpf_moves_with_it(inventory):
    await inventory.h.given(inventory.hub_delivered())
    when = await inventory.h.when(inventory.request("8.14.2", build.install_no_sm_wan(CHF)))
    assert when.codes == ["I0"]
    assert moves(when.events) == [("DeviceStatusChanged", CHF, "Pending", "InstalledNotCommissioned"),
                                  ("DeviceStatusChanged", GPF, "Pending", "InstalledNotCommissioned")]
    assert [await inventory.status(d) for d in (CHF, GPF)] == ["InstalledNotCommissioned"] * 2


async def test_8_14_1_commissions_the_hub_and_its_gpf(inventory):
    await inventory.h.given(inventory.hub_delivered())
    when = await inventory.h.when(inventory.request("8.14.1", build.install_success(CHF)))
    assert when.codes == ["I0"]
    assert [await inventory.status(d) for d in (CHF, GPF)] == ["Commissioned"] * 2


async def test_8_14_1_moves_neither_part_of_a_hub_when_its_gpf_may_not_move(inventory, conn):
    await inventory.h.given(inventory.hub_delivered())
    await conn.execute("update inventory.devices set status = 'Withdrawn' where device_id = $1", GPF)
    when = await inventory.h.when(inventory.request("8.14.1", build.install_success(CHF)))
    assert when.codes == ["E31"] and when.events == []
    assert await inventory.status(CHF) == "Pending"


async def test_remove_device_removes_a_device_still_pending_since_the_instant_seen(inventory):
    await inventory.h.given(inventory.request("12.2", build.prenotification(METER), "2023-01-01T00:00:00"))
    when = await inventory.h.when(inventory.command(RemoveDevice(
        command_id="housekeeping:1", device_id=METER, pending_since=at("2023-01-01T00:00:00"),
        as_of=at("2024-02-01T00:00:00"), policy_version="v1", reason="Pending 12 months")))
    assert moves(when.events) == [("DeviceRemoved", METER, "Pending", None)]
    assert await inventory.status(METER) is None


async def test_remove_device_refuses_a_device_that_moved_and_never_in_the_smi_is_a_dead_letter(inventory):
    await inventory.h.given(inventory.request("12.2", build.prenotification(METER), "2023-01-01T00:00:00"),
                            inventory.request("8.4", {"DeviceID": METER, "UpdateDeviceStatusExceptCH":
                                                      "InstalledNotCommissioned"}, "2023-06-01T00:00:00"))
    removal = dict(pending_since=at("2023-01-01T00:00:00"), as_of=at("2024-02-01T00:00:00"),
                   policy_version="v1", reason="Pending 12 months")
    when = await inventory.h.when(
        inventory.command(RemoveDevice(command_id="housekeeping:1", device_id=METER, **removal)),
        inventory.command(RemoveDevice(command_id="housekeeping:2", device_id=device_id(99), **removal)))
    assert [e["type"] for e in when.events] == ["RemovalRefused"]
    assert when.dead_letters == [f"{device_id(99)} was never in the SMI"]
    assert await inventory.status(METER) == "InstalledNotCommissioned"


async def test_return_hubs_withdraws_the_hub_and_answers_per_hub(inventory):
    await inventory.h.given(inventory.hub_delivered())
    when = await inventory.h.when(inventory.command(ReturnHubs(
        command_id="returns:1", request_id="r-1", originator=SUPPLIER, event_time=at("2024-03-01T00:00:00"),
        hubs=[CHF, device_id(98), CHF])))
    [reply] = when.json_on(inventory.topics.inventory_replies)
    assert [(r["device_id"], r["code"]) for r in reply["results"]] == [
        (CHF, "I0"), (device_id(98), "E081401"), (CHF, "E55")]
    assert moves(when.events) == [("DeviceStatusChanged", CHF, "Pending", "Withdrawn"),
                                  ("DeviceStatusChanged", GPF, "Pending", "Withdrawn")]


async def test_return_hubs_of_another_suppliers_hub_is_answered_e51(inventory):
    await inventory.h.given(inventory.hub_delivered())
    when = await inventory.h.when(inventory.command(ReturnHubs(
        command_id="returns:2", request_id="r-2", originator=OTHER_SUPPLIER,
        event_time=at("2024-03-01T00:00:00"), hubs=[CHF])))
    [reply] = when.json_on(inventory.topics.inventory_replies)
    assert [r["code"] for r in reply["results"]] == ["E51"] and when.events == []


async def test_enrol_smets1_device_adds_it_installed(inventory):
    when = await inventory.h.when(inventory.command(EnrolSMETS1Device(
        command_id="s1-1", device_id=METER, device_type="ESME", manufacturer="1234", model="M1", s1sp="S1SP-A",
        responsible_supplier=SUPPLIER, event_time=at("2024-01-01T00:00:00"))))
    assert moves(when.events) == [("DeviceAdded", METER, None, "Commissioned")]
    assert await inventory.status(METER) == "Commissioned"


async def test_comms_hub_delivered_adds_chf_and_gpf_and_a_second_delivery_is_a_dead_letter(inventory):
    when = await inventory.h.when(inventory.hub_delivered(), inventory.hub_delivered())
    assert moves(when.events) == [("DeviceAdded", CHF, None, "Pending"), ("DeviceAdded", GPF, None, "Pending")]
    assert when.dead_letters == [f"already in the SMI: {', '.join(sorted((CHF, GPF)))}"]


async def test_a_request_handled_before_changes_nothing_and_answers_nothing(inventory):
    first = inventory.request("12.2", build.prenotification(METER))
    await inventory.h.given(first)
    when = await inventory.h.when(first)
    assert when.outputs == []


async def test_an_unknown_type_is_dead_lettered_and_another_services_event_is_left_alone(inventory):
    when = await inventory.h.when(
        inventory.h.record(inventory.topics.inventory_commands, {"type": "DeleteEverything"}),
        inventory.h.record(inventory.topics.csp_events, {"type": "ReturnReceived", "device_id": CHF}))
    assert when.dead_letters == ["inventory takes HandleServiceRequest, RemoveDevice, ReturnHubs, "
                                 "EnrolSMETS1Device, not 'DeleteEverything'"]
    assert when.per_record[1] == []


def test_a_table_missing_a_served_type_refuses_to_be_built(handler_settings):
    with pytest.raises(MissingHandler, match="RemoveDevice"):
        HandlerTable("inventory", {handler_settings.topics.inventory_commands: {
            "HandleServiceRequest": Row(HandleServiceRequest, handlers.route_request)}}, serves=handlers.SERVES)
