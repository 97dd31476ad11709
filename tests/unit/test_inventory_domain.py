"""Inventory's pure rules: what a pre-notification, a delivery or an enrolment adds, when a
removal is refused, what Read Inventory shows, how stock is aged."""
from datetime import datetime, timezone

import pytest

from services.inventory import domain, reports
from services.inventory import transitions as t
from shared.duis.models import DevicePrenotification
from shared.feeds import CommsHubDelivered
from shared.messages import DeviceEvent, EnrolSMETS1Device, encode_event

AT = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
SUPPLIER, OTHER, CSP = "90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-01-00-01", "90-B3-D5-1F-30-00-00-C1"


def body(device_type="ESME", **extra):
    return DevicePrenotification.model_validate(
        {"DeviceID": "00-db-00-00-00-00-00-01", "DeviceManufacturer": "1234", "DeviceModel": "M1",
         "DeviceType": device_type, **extra})


def test_prenotified_device_is_pending_from_the_event_time_with_the_sender_as_notifying_party():
    device = domain.prenotified(body(FirmwareVersion="F1"), SUPPLIER, ["GS", "IS"], AT)
    assert (device.device_id, device.status, device.status_since) == ("00-DB-00-00-00-00-00-01", "Pending", AT)
    assert device.notifying_party == device.responsible_supplier == SUPPLIER
    assert device.notifying_party_kind == "service_user" and device.firmware_version == "F1"


def test_a_non_supplier_pre_notifies_without_becoming_responsible_supplier():
    device = domain.prenotified(body(), OTHER, ["ED"], AT)
    assert device.notifying_party == OTHER and device.responsible_supplier is None
    assert device.relations(OTHER) == {t.USER, t.NP}


def test_type_2_devices_enter_without_status():
    device = domain.prenotified(body("IHD"), SUPPLIER, ["IS"], AT)
    assert device.status is None and device.status_since is None


@pytest.mark.parametrize("device_type, exists, code", [
    ("CHF", False, "E120203"), ("GPF", False, "E120203"), ("ESME", True, "E120201"),
])
def test_prenotification_refusals(device_type, exists, code):
    assert domain.prenotification_refusal(body(device_type), exists).code == code
    assert domain.prenotification_refusal(body("GSME"), False) is None


def hub():
    event = CommsHubDelivered(
        type="CommsHubDelivered", chf_id="00-DB-00-00-00-00-10-01", gpf_id="00-DB-00-00-00-00-10-02",
        csp_id=CSP, ordering_party=SUPPLIER, csp_region="North", manufacturer="CH1", model="H1")
    return domain.delivered_hub(event, AT)


def test_a_delivered_hub_is_a_linked_pending_chf_and_gpf_notified_by_the_csp():
    chf, gpf = hub()
    assert (chf.device_type, gpf.device_type) == ("CHF", "GPF")
    assert chf.linked_device_id == gpf.device_id and gpf.linked_device_id == chf.device_id
    assert {chf.status, gpf.status} == {"Pending"} and chf.notifying_party == CSP
    assert chf.notifying_party_kind == "csp" and chf.ordering_party == SUPPLIER
    assert chf.relations(SUPPLIER) == {t.USER, t.OP}


def test_moving_keeps_track_of_leaving_pending_and_commissioning():
    chf, _ = hub()
    later = datetime(2024, 4, 1, tzinfo=timezone.utc)
    moved = chf.moved("Commissioned", later)
    assert moved.ever_left_pending and moved.commissioned_at == later and moved.status_since == later
    assert moved.moved("Pending", AT).ever_left_pending


@pytest.mark.parametrize("kind", ["DeviceAdded", "DeviceStatusChanged", "DeviceRemoved", "RemovalRefused"])
def test_events_encode_as_the_device_event_model_would(kind):
    chf, _ = hub()
    later = datetime(2024, 4, 1, 9, 30, 0, 250000, tzinfo=timezone.utc)
    for device in (chf, chf.moved("Commissioned", later)):
        fields = domain.event(kind, device, later, "8.14.1", "t:0:1:" + device.device_id,
                              previous="Pending", reference=SUPPLIER + ":X:1", reason="r",
                              policy_version=None, command_id=None)
        assert encode_event(fields) == DeviceEvent(**fields).to_bytes()
        assert DeviceEvent.model_validate_json(encode_event(fields)).model_dump() == DeviceEvent(**fields).model_dump()


def test_removal_is_refused_unless_pending_since_the_same_instant():
    chf, _ = hub()
    assert domain.removal_refusal(chf, AT) is None
    assert "not" in domain.removal_refusal(chf, datetime(2024, 3, 2, tzinfo=timezone.utc))
    assert "Commissioned" in domain.removal_refusal(chf.moved("Commissioned", AT), AT)
    ihd = domain.prenotified(body("IHD"), SUPPLIER, ["IS"], AT)
    assert "Type 2" in domain.removal_refusal(ihd, AT)


def test_read_inventory_shows_s1sp_only_for_smets1_devices():
    smets1 = domain.enrolled(EnrolSMETS1Device(
        command_id="m-1", device_id="00-DB-00-00-00-00-20-01", device_type="ESME", manufacturer="S1M",
        model="S1", s1sp="S1SP-North", responsible_supplier=SUPPLIER, mpxn="1234567", event_time=AT))
    entry = domain.inventory_entry(smets1)
    assert entry["S1SP"] == "S1SP-North" and entry["CSPRegion"] == "SMETS1"
    assert entry["DeviceStatus"] == "Commissioned" and entry["DateCommissioned"] == "2024-03-01"
    chf, _ = hub()
    assert domain.inventory_entry(chf)["S1SP"] is None
    assert domain.inventory_entry(chf)["CSPRegion"] == "North"


def test_read_inventory_answers_at_most_17_devices():
    many = [domain.prenotified(body(), SUPPLIER, ["IS"], AT) for _ in range(20)]
    many = [domain.Device(**{**m.__dict__, "device_id": f"00-DB-00-00-00-00-30-{n:02X}"})
            for n, m in enumerate(many)]
    shown = domain.read_inventory_payload(many)["DSPInventory"]["Device"]
    assert len(shown) == 17 and shown[0]["DeviceID"] == "00-DB-00-00-00-00-30-00"


@pytest.mark.parametrize("months, bucket", [
    (0, "0-3"), (2, "0-3"), (3, "3-6"), (5, "3-6"), (6, "6-12"), (11, "6-12"), (12, "12-24"),
    (23, "12-24"), (24, "24-36"), (35, "24-36"), (36, "36+"), (120, "36+"),
])
def test_age_buckets(months, bucket):
    assert reports.age_bucket(months) == bucket


def test_the_csp_feed_holds_duis_limits_so_every_device_can_be_answered_in_valid_duis():
    from pydantic import ValidationError

    event = {"type": "CommsHubDelivered", "chf_id": "00-CC-00-00-00-00-00-01", "gpf_id": "00-CD-00-00-00-00-00-01",
             "csp_id": "90-B3-D5-1F-30-00-00-C1", "ordering_party": "90-B3-D5-1F-30-01-00-00",
             "csp_region": "North", "manufacturer": "ACME", "model": "CH-1", "firmware_version": "00020130"}
    CommsHubDelivered.model_validate(event)
    for field, value in [("firmware_version", "123456789"), ("manufacturer", "M" * 31), ("model", "M" * 31)]:
        with pytest.raises(ValidationError):
            CommsHubDelivered.model_validate({**event, field: value})
