"""Runs, forecasts and retention reports over table entries: a forecast counts what a run removes."""
from datetime import UTC, datetime

from hypothesis import given, strategies as st

from services.housekeeping.domain import Policy, TrackedDevice
from services.housekeeping.entries import pack, parse_event, unpack
from services.housekeeping.planning import (
    forecast, forecast_summary, plan_run, retention, retention_summary,
)
from services.housekeeping.domain import n8_payload
from shared import codes
from shared.duis import codec
from shared.responses import alert_document

SUPPLIER, CSP = "90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-00-00-C1"


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def entry(n, device_type, since, partition=0, party=SUPPLIER, ever=False):
    device_id = f"00-DB-00-00-00-00-{n:02X}-A2"
    device = TrackedDevice(device_id, device_type, since, party, party == SUPPLIER, ever)
    return device_id.encode(), pack(partition, device)


def test_entries_round_trip_and_events_parse():
    key, packed = entry(1, "ESME", utc(2024, 2, 29, 12, 0, 0, 123456), partition=5, ever=True)
    device = unpack(key.decode(), packed)
    assert device.pending_since == utc(2024, 2, 29, 12, 0, 0, 123456)
    assert (device.device_type, device.notifying_party, device.ever_left_pending) == ("ESME", SUPPLIER, True)
    event = (b'{"type":"DeviceAdded","event_id":"e","device_id":"00-db-00-00-00-00-01-a2","device_type":"ESME",'
             b'"status":"Pending","status_since":"2024-02-29T12:00:00.123456+00:00","occurred_at":'
             b'"2024-02-29T12:00:00+00:00","notifying_party":"' + SUPPLIER.encode() + b'",'
             b'"notifying_party_kind":"service_user","ever_left_pending":true,"cause":"12.2"}')
    assert parse_event(5, event) == (key, packed)
    assert parse_event(5, event.replace(b'"status":"Pending"', b'"status":"Commissioned"')) == (key, None)
    refused = event.replace(b'"type":"DeviceAdded"', b'"type":"RemovalRefused"')
    assert parse_event(5, refused) is None  # a refusal changes no device, even one archived Pending
    gone = refused.replace(b'"cause":"12.2"', b'"cause":"RemoveDevice","reason":"no longer in the SMI"')
    assert parse_event(5, gone) == (key, None), "a device no longer in the SMI is tracked no more"


def test_a_broken_event_is_refused_with_the_reason():
    try:
        parse_event(0, b'{"type":"DeviceAdded","device_id":"nope"}')
    except ValueError as error:
        assert "validation error" in str(error)
    else:
        raise AssertionError("accepted")


def test_a_run_scans_only_its_partition_and_counts_retained_hubs_by_type_and_age():
    entries = [entry(1, "ESME", utc(2024, 1, 1)), entry(2, "CHF", utc(2024, 1, 1), party=CSP),
               entry(3, "GPF", utc(2024, 1, 1), party=CSP), entry(4, "ESME", utc(2024, 1, 1), partition=1),
               entry(5, "GSME", utc(2025, 1, 1))]
    run = plan_run(entries, 0, Policy(version="v"), utc(2025, 3, 1))
    assert [d.device_id for d in run.removals] == ["00-DB-00-00-00-00-01-A2"]
    assert run.retained == {"retain-excluded|CHF|14": 1, "retain-excluded|GPF|14": 1}


def test_retention_report_counts_hubs_kept_only_by_the_exclusion():
    entries = [entry(1, "CHF", utc(2023, 1, 1), party=CSP), entry(2, "GPF", utc(2023, 1, 1), party=CSP),
               entry(3, "CHF", utc(2024, 12, 1), party=CSP), entry(4, "ESME", utc(2020, 1, 1))]
    part = retention(entries, 0, Policy(version="v"), utc(2025, 3, 1))
    assert retention_summary([part]) == {
        "total": 2, "by_type": {"CHF": 1, "GPF": 1}, "by_notifying_party": {CSP: 2},
        "by_age_months": {"26": 2}, "oldest_pending_since": "2023-01-01T00:00:00+00:00"}


sinces = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC))
tables = st.lists(st.tuples(st.sampled_from(["ESME", "GSME", "CHF", "GPF", "PPMID"]), sinces,
                            st.integers(0, 2), st.booleans()), max_size=40)


@given(tables, st.sampled_from(["all-pending", "previously-active-only"]), sinces, sinces)
def test_forecast_removals_equal_the_runs_removals(rows, rule, start, as_of):
    start = min(start, as_of)
    policy = Policy(version="f", rule=rule, months_by_type={"GSME": 24})
    entries = [entry(n, t, s, partition=p, ever=e) for n, (t, s, p, e) in enumerate(rows)]
    parts = [forecast(entries, p, policy, start, as_of) for p in range(3)]
    removed = sum(len(plan_run(entries, p, policy, as_of).removals) for p in range(3))
    assert forecast_summary(parts)["removed"]["total"] == removed


def test_an_n8_alert_is_a_response_whose_body_is_a_dcc_alert_message():
    at = utc(2025, 3, 1, 2)
    document = alert_document(codes.DEVICE_REMOVED, n8_payload("00-DB-00-00-00-00-01-A2"), at)
    assert codec.read(codec.encode(document, "xml", "Response")) == {
        "Header": {"ResponseCode": "I0", "ResponseDateTime": at.isoformat()},
        "Body": {"DCCAlertMessage": {"DCCAlertCode": "N8", "DCCAlert": {"DeviceStatusChangeEvent": {
            "DeviceID": "00-DB-00-00-00-00-01-A2",
            "DeviceStatusChange": {"DeviceRemovedFromInventory": ""}}}}}}
