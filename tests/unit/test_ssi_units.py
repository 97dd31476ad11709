"""The SSI's pure parts: credentials, signed sessions, the CSV, pending ages, alerts read."""
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest

from services.housekeeping.domain import n8_payload
from services.returns.domain import overdue_payload
from services.ssi import credentials, screens, sessions, views
from services.ssi.handlers import read_alert
from shared.duis import codec
from shared.responses import alert_document
from shared.parties import load_file
from shared.settings import REPO_ROOT

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
NOW = 1_700_000_000.0


def test_a_credential_verifies_only_its_own_secret():
    stored = credentials.hash_secret("correct horse")
    assert credentials.verify("correct horse", stored)
    assert not credentials.verify("correct hors", stored)
    assert stored != credentials.hash_secret("correct horse"), "each hash has its own salt"
    assert not credentials.verify("anything", None)
    assert not credentials.verify("anything", "md5$abc")
    assert not credentials.verify("anything", "scrypt$x$8$1$AA==$AA==")


def test_every_development_service_user_signs_in_with_its_documented_secret():
    parties = [p for p in load_file(REPO_ROOT / "deploy" / "parties.yaml") if p.kind == "service_user"]
    assert len(parties) == 5
    for party in parties:
        assert credentials.verify('smi-dev-' + ''.join(party.eui.split('-')[-2:]), party.credential), party.eui


def test_a_session_names_its_party_until_it_expires():
    cookie = sessions.issue("secret", SUPPLIER, NOW, hours=1)
    assert sessions.party_of("secret", cookie, NOW + 3599) == SUPPLIER
    assert sessions.party_of("secret", cookie, NOW + 3600) is None


def test_a_forged_or_altered_session_names_nobody():
    cookie = sessions.issue("secret", SUPPLIER, NOW, hours=1)
    party, expires, mac = cookie.split("|")
    assert sessions.party_of("other secret", cookie, NOW) is None
    assert sessions.party_of("secret", f"90-B3-D5-1F-30-01-00-01|{expires}|{mac}", NOW) is None
    assert sessions.party_of("secret", f"{party}|{int(expires) + 9999}|{mac}", NOW) is None
    assert sessions.party_of("secret", "garbage", NOW) is None
    assert sessions.party_of("secret", None, NOW) is None


def test_the_csv_lists_every_hub_in_request_order():
    hubs = [{"position": 0, "device_id": "00-CC-00-00-00-00-00-01", "code": "I0", "reference": "RRR-0000000001",
             "due_by": "2024-04-09", "status": "open"},
            {"position": 1, "device_id": "00-CC-00-00-00-00-00-02", "code": "E081401", "reference": None,
             "due_by": None, "status": "refused"}]
    assert screens.hubs_csv(hubs) == (
        "position,device_id,code,reference,due_by,status\r\n"
        "1,00-CC-00-00-00-00-00-01,I0,RRR-0000000001,2024-04-09,open\r\n"
        "2,00-CC-00-00-00-00-00-02,E081401,,,refused\r\n")


@pytest.mark.parametrize("age, shown", [
    ({"excluded": True, "decision": "retain-excluded", "age_months": 14, "months": 12,
      "due_at": "2025-01-01T00:00:00+00:00", "policy_version": "2025.1"},
     "Pending 14 months; retained: its type is excluded from housekeeping (policy 2025.1)"),
    ({"excluded": False, "decision": "not-due", "age_months": 1, "months": 12,
      "due_at": "2025-01-01T00:00:00+00:00", "policy_version": "2025.1"},
     "Pending 1 month; removed if still Pending on 2025-01-01 (policy 2025.1, 12 months)"),
    ({"excluded": False, "decision": "remove", "age_months": 13, "months": 12,
      "due_at": "2025-01-01T00:00:00+00:00", "policy_version": "2025.1"},
     "Pending 13 months; due since 2025-01-01: removed at the next housekeeping run (policy 2025.1)"),
])
def test_pending_age_says_when_a_device_falls_due_or_why_it_is_kept(age, shown):
    assert screens.pending_age(age) == shown


def test_pages_escape_what_they_show():
    html = views.page("<script>x</script>", "", SUPPLIER, "A & B")
    assert "<script>x" not in html and "&lt;script&gt;x" in html and "A &amp; B" in html


def record(value: bytes, key: bytes | None = SUPPLIER.encode()):
    return SimpleNamespace(topic="smi.alerts", partition=0, offset=7, key=key, value=value,
                           timestamp=1_700_000_000_000)


def alert_value(code: str, payload: dict, fmt: str = "xml") -> bytes:
    return codec.encode(alert_document(code, payload, datetime(2024, 4, 10, tzinfo=timezone.utc)), fmt, "Response")


def test_an_n8_alert_in_xml_is_kept_for_the_party_its_key_names():
    payload = n8_payload("00-DB-00-00-00-00-00-01")
    kept = read_alert(record(alert_value("N8", payload), SUPPLIER.lower().encode()))
    assert kept[3:4] + kept[5:7] == (SUPPLIER, "N8", "00-DB-00-00-00-00-00-01")
    # XML decodes the empty DeviceRemovedFromInventory to "", JSON keeps it as {}.
    assert kept[7] == {"DeviceStatusChangeEvent": {"DeviceID": "00-DB-00-00-00-00-00-01",
                                                   "DeviceStatusChange": {"DeviceRemovedFromInventory": ""}}}


def test_an_overdue_alert_in_json_is_kept_with_its_comms_hub():
    kept = read_alert(record(alert_value("N999", overdue_payload("00-CE-00-00-00-00-00-07", date(2024, 4, 9)),
                                         "json")))
    assert kept[3:4] + kept[5:7] == (SUPPLIER, "N999", "00-CE-00-00-00-00-00-07")
    assert kept[7] == {"CommsHubAlert": {"CommsHubDeviceID": "00-CE-00-00-00-00-00-07", "AlertCode": "0814",
                                         "TimeStamp": "2024-04-09T00:00:00+00:00"}}


def test_the_alerts_page_names_each_alert_and_shows_its_detail_but_the_device():
    listing = [{"sent_at": "2024-04-10T00:00:00+00:00", "code": "N999", "device_id": "00-CE-00-00-00-00-00-07",
                "payload": {"CommsHubAlert": {"CommsHubDeviceID": "00-CE-00-00-00-00-00-07", "AlertCode": "0814",
                                              "TimeStamp": "2024-04-09T00:00:00+00:00"}}},
               {"sent_at": "2024-04-10T00:00:00+00:00", "code": "N8", "device_id": "00-DB-00-00-00-00-00-01",
                "payload": n8_payload("00-DB-00-00-00-00-00-01")}]
    html = screens.alerts(listing, 2, 20, 0)
    assert "N999: Comms Hub return overdue" in html and "N8: device removed from the inventory" in html
    assert "AlertCode: 0814; TimeStamp: 2024-04-09T00:00:00+00:00" in html
    assert "DeviceStatusChange: DeviceRemovedFromInventory" in html
    assert "CommsHubDeviceID" not in html


def test_an_alert_that_cannot_be_read_is_refused():
    with pytest.raises(ValueError):  # a DCCAlertMessage outside a Response
        read_alert(record(codec.encode({"DCCAlertCode": "N8", "DCCAlert": n8_payload("00-DB-00-00-00-00-00-01")},
                                       "xml", "DCCAlertMessage")))
    with pytest.raises(ValueError):
        read_alert(record(b'{"Body": {"DCCAlertMessage": {"DCCAlertCode": "N8"}}}'))
    with pytest.raises(ValueError):
        read_alert(record(alert_value("N8", n8_payload("00-DB-00-00-00-00-00-01"), "json"), key=None))
