"""Returns' pure rules: reasons read from the DUIS body, per-hub and overall codes, due dates, ages."""
from datetime import date, datetime, timedelta, timezone

import pytest

from services.returns import domain
from services.returns.domain import HubOutcome, Reason
from services.returns.handlers import Refused, canonical_request_id
from shared.duis import build
from shared.duis.enums import (CHFConnectionMethod, CHFFaultReason, CHFFaultReturnType,
                               CHFNoFaultReturnType, values)
from shared.duis.models import CHFFaultReturn, CHFNoFaultReturn

HUBS = [build.device_id(n, "00-CC") for n in range(1, 4)]
T0 = datetime(2024, 1, 10, 9, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("reason", values(CHFFaultReason))
@pytest.mark.parametrize("return_type", values(CHFFaultReturnType))
def test_every_fault_enumeration_is_carried_into_the_reason(return_type, reason):
    method = values(CHFConnectionMethod)[len(reason) % 3]
    body = CHFFaultReturn.model_validate(build.fault_return(
        HUBS, CHFFaultReturnType=return_type, CHFFaultReason=reason, CHFConnectionMethod=method,
        OtherDeviceID=[build.device_id(n, "00-EE") for n in range(1, 4)], IncidentReference="INC-7",
        UserRefID="U-1", UserRefDateTime="2024-01-09T08:00:00Z", AdditionalInformation="pallet 4"))
    request = domain.read_request(domain.FAULT, body)
    assert request.hubs == HUBS
    assert request.other_device_ids == [build.device_id(n, "00-EE") for n in range(1, 4)]
    assert request.reason == Reason("fault", return_type, reason, method, "INC-7", "U-1",
                                    datetime(2024, 1, 9, 8, tzinfo=timezone.utc), "pallet 4")


@pytest.mark.parametrize("return_type", values(CHFNoFaultReturnType))
def test_every_no_fault_type_is_carried_into_the_reason(return_type):
    body = CHFNoFaultReturn.model_validate(build.no_fault_return(HUBS[:1], CHFNoFaultReturnType=return_type))
    request = domain.read_request(domain.NO_FAULT, body)
    assert request.reason == Reason("no_fault", return_type)
    assert request.other_device_ids == [None]


def test_reason_survives_its_json_form():
    reason = Reason("fault", "Fault identified post installation", "LED Fault", "ESME", "INC", "U",
                    T0, "info")
    assert Reason.from_json(reason.as_json()) == reason
    assert Reason.from_json(Reason("no_fault", "Lost or Stolen Hub").as_json()) == Reason("no_fault", "Lost or Stolen Hub")


def test_only_hubs_already_under_return_are_refused_here():
    assert domain.own_refusals(HUBS, {HUBS[1], "00-AA-00-00-00-00-00-09"}) == {HUBS[1]: "E081404"}
    assert domain.own_refusals(HUBS, set()) == {}


@pytest.mark.parametrize("codes, overall", [
    (["I0"], "I0"), (["I0"] * 999, "I0"), (["I0", "E081403"], "W1"),
    (["E081401", "I0", "E081404"], "W1"), (["E081401"], "E081400"), (["E081404", "E081405"], "E081400"),
])
def test_overall_code(codes, overall):
    assert domain.overall_code(codes) == overall


def test_due_by_and_overdue_from_the_day_after():
    due = domain.due_by(T0, 90)
    assert due == date(2024, 4, 9)
    assert not domain.is_overdue(due, datetime(2024, 4, 9, 23, 59, tzinfo=timezone.utc))
    assert domain.is_overdue(due, datetime(2024, 4, 10, 0, 0, tzinfo=timezone.utc))
    assert domain.due_by(T0, 7) == date(2024, 1, 17)


@pytest.mark.parametrize("days, bucket", [(0, "0-30d"), (30, "0-30d"), (31, "31-60d"), (90, "61-90d"),
                                          (91, "91-180d"), (181, "over-180d")])
def test_age_buckets(days, bucket):
    assert domain.age_bucket(T0, T0 + timedelta(days=days, hours=3)) == bucket


def test_response_body_lists_each_hub_with_its_record_when_accepted():
    body = domain.response_body([HubOutcome(HUBS[0], "I0", "RRR-0000000001", date(2024, 4, 9)),
                                 HubOutcome(HUBS[1], "E081403")])
    assert body == {"BulkReturnResult": {"HubResult": [
        {"DeviceID": HUBS[0], "ResponseCode": "I0", "ReturnsRemedyRecordReference": "RRR-0000000001",
         "ReturnDueDate": "2024-04-09"},
        {"DeviceID": HUBS[1], "ResponseCode": "E081403", "ReturnsRemedyRecordReference": None,
         "ReturnDueDate": None}]}}


def test_overdue_alert_names_the_hub_record_request_and_due_date():
    alert = domain.overdue_alert(HUBS[0], "RRR-0000000002", "R:1", date(2024, 4, 9))
    assert alert == {"DCCAlertCode": "N900", "DCCAlert": {"CommsHubReturnOverdue": {
        "DeviceID": HUBS[0], "ReturnsRemedyRecordReference": "RRR-0000000002", "RequestID": "R:1",
        "ReturnDueDate": "2024-04-09"}}}


def test_request_ids_are_compared_in_canonical_form():
    assert canonical_request_id("90-b3-d5-1f-30-01-00-00:90-B3-D5-1F-30-00-00-02:007") == \
        "90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:7"
    with pytest.raises(Refused):
        canonical_request_id("not-a-request-id")
