"""Returns' pure rules: reasons read from the DUIS body, per-hub and overall codes, due dates, ages."""
from datetime import date, datetime, timedelta, timezone

import pytest

from services.returns import domain
from services.returns.domain import HubOutcome, Reason
from services.returns.handlers import Unusable, canonical_request_id
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
    assert domain.own_refusals(HUBS, {HUBS[1], "00-AA-00-00-00-00-00-09"}) == {HUBS[1]: "E081405"}
    assert domain.own_refusals(HUBS, set()) == {}


@pytest.mark.parametrize("codes, overall", [
    (["I0"], "I0"), (["I0"] * 999, "I0"), (["I0", "E51"], "W081401"),
    (["E081401", "I0", "E081405"], "W081401"), (["E081405", "E55"], "E54"),
    # A single hub's return is pure DUIS 5.4: its code is the hub's own.
    (["E081401"], "E081401"), (["E51"], "E51"),
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


def test_a_bulk_answer_lists_each_hub_with_its_record_when_accepted():
    payload = domain.response_payload([HubOutcome(HUBS[0], "I0", "RRR-0000000001", date(2024, 4, 9)),
                                       HubOutcome(HUBS[1], "E51")])
    assert payload == {"CHFReturnResults": {"HubResult": [
        {"DeviceID": HUBS[0], "ResponseCode": "I0", "ReturnsRemedyRecordReference": "RRR-0000000001",
         "ReturnDueDate": "2024-04-09"},
        {"DeviceID": HUBS[1], "ResponseCode": "E51", "ReturnsRemedyRecordReference": None,
         "ReturnDueDate": None}]}}


def test_a_single_hub_answer_has_no_payload():
    assert domain.response_payload([HubOutcome(HUBS[0], "I0", "RRR-0000000001", date(2024, 4, 9))]) is None
    assert domain.response_payload([HubOutcome(HUBS[0], "E081401")]) is None


def test_an_overdue_alert_is_a_comms_hub_alert_stamped_with_the_due_date():
    payload = domain.overdue_payload(HUBS[0], date(2024, 4, 9))
    assert payload == {"CommsHubAlert": {"CommsHubDeviceID": HUBS[0], "AlertCode": "0814",
                                         "TimeStamp": datetime(2024, 4, 9, tzinfo=timezone.utc)}}


def test_request_ids_are_compared_in_canonical_form():
    assert canonical_request_id("90-b3-d5-1f-30-01-00-00:90-B3-D5-1F-30-00-00-02:007") == \
        "90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:7"
    with pytest.raises(Unusable):
        canonical_request_id("not-a-request-id")
