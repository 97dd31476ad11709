"""Every intake rule and the code it answers with."""
import pytest

from services.intake import domain
from services.intake.domain import Refused
from shared.duis import build, codec, enums
from shared.duis.build import device_id
from shared.parties import Party

DCC = build.DCC_EUI
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
PARTIES = {
    SUPPLIER: Party(eui=SUPPLIER, name="supplier", kind="service_user", roles={"IS", "GS"}),
    "90-B3-D5-1F-30-01-00-10": Party(eui="90-B3-D5-1F-30-01-00-10", name="dno", kind="service_user",
                                     roles={"ED"}),
    "90-B3-D5-1F-30-00-00-C1": Party(eui="90-B3-D5-1F-30-00-00-C1", name="csp", kind="csp"),
}


def outcome(raw: bytes) -> str:
    """The code intake gives this input: I0 for accepted, the E code, or 'dead letter'."""
    try:
        document = codec.decode(raw)
    except codec.Undecodable:
        return "dead letter"
    try:
        request_id = domain.check_envelope(document, DCC)
        domain.evaluate(document, request_id, PARTIES.get(request_id.originator))
    except Refused as rejection:
        return rejection.code
    return "I0"


def xml(body: dict, variant: str = "12.2", originator: str = SUPPLIER, counter: int = 1, **header) -> bytes:
    raw = build.request(originator, counter, variant, body)
    for name, value in header.items():
        old = raw.split(f"<sr:{name}>".encode())[1].split(f"</sr:{name}>".encode())[0]
        raw = raw.replace(f"<sr:{name}>".encode() + old, f"<sr:{name}>{value}".encode(), 1)
    return raw


PRENOTIFY = build.prenotification(device_id(1))


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_every_served_request_is_accepted_in_both_formats(fmt):
    bodies = {
        "12.2": PRENOTIFY,
        "8.2": {"DeviceID": device_id(1)},
        "8.3": {"DeviceID": device_id(1)},
        "8.4": {"DeviceID": device_id(1), "UpdateDeviceStatusExceptCH": "Pending"},
        "8.14.1": build.install_success(device_id(1)),
        "8.14.2": build.install_no_sm_wan(device_id(1)),
        "8.14.3": build.fault_return([device_id(1)]),
        "8.14.4": build.no_fault_return([device_id(1)]),
    }
    for variant, body in bodies.items():
        assert outcome(build.request(SUPPLIER, 1, variant, body, fmt)) == "I0", variant


def test_any_namespace_prefix_is_accepted():
    raw = xml(PRENOTIFY).replace(b"sr:", b"duis:").replace(b"xmlns:sr=", b"xmlns:duis=")
    assert outcome(raw) == "I0"
    default_ns = xml(PRENOTIFY).replace(b"sr:", b"").replace(b"xmlns:sr=", b"xmlns=")
    assert outcome(default_ns) == "I0"


@pytest.mark.parametrize("raw, code", [
    (xml(PRENOTIFY).replace(b"ServiceUserGateway", b"OtherGateway"), "E2"),
    (xml(PRENOTIFY).replace(b' schemaVersion="5.4"', b""), "E2"),
    (xml(PRENOTIFY).replace(b"<sr:Request ", b"<sr:Reply ").replace(b"</sr:Request>", b"</sr:Reply>"), "E2"),
])
def test_envelope(raw, code):
    assert outcome(raw) == code


@pytest.mark.parametrize("request_id, code", [
    ("not-a-request-id", "E3"),
    (f"{SUPPLIER}:{DCC}", "E3"),
    (f"{SUPPLIER}:{DCC}:12:3", "E3"),
    (f"90-B3-D5-1F-30-01-00:{DCC}:1", "E3"),
    (f"{SUPPLIER}:{DCC}:0x10", "E3"),
    (f"{SUPPLIER}:{DCC}:１２", "E3"),  # full-width digits
    (f"{SUPPLIER}:{DCC}:{2**64}", "E4"),
    (f"{SUPPLIER}:{DCC}:-1", "E4"),
    (f"{SUPPLIER}:90-B3-D5-1F-30-00-00-03:1", "E5"),
    (f"{SUPPLIER}:{DCC}:{2**64 - 1}", "I0"),
    (f"{SUPPLIER}:{DCC}:0", "I0"),
    (f"{SUPPLIER.lower()}:{DCC.lower()}:7", "I0"),
])
def test_request_id(request_id, code):
    raw = xml(PRENOTIFY, counter=1).replace(f"{SUPPLIER}:{DCC}:1".encode(), request_id.encode())
    assert outcome(raw) == code


def test_lower_case_request_id_is_canonicalised():
    request_id = domain.parse_request_id(f"{SUPPLIER.lower()}:{DCC}:007", DCC)
    assert request_id.canonical == f"{SUPPLIER}:{DCC}:7"


@pytest.mark.parametrize("originator, code", [
    ("90-B3-D5-1F-30-01-00-99", "E20"),      # unknown
    ("90-B3-D5-1F-30-00-00-C1", "E20"),      # a CSP is not a DCC User sending requests
])
def test_originator_must_be_a_known_user(originator, code):
    assert outcome(xml(PRENOTIFY, originator=originator)) == code


@pytest.mark.parametrize("header, code", [
    ({"CommandVariant": "3"}, "E40"),
    ({"CommandVariant": "eight"}, "E40"),
    ({"ServiceReferenceVariant": "8.1.1"}, "E42"),
    ({"ServiceReferenceVariant": "99.9"}, "E42"),
    ({"ServiceReference": "8.4"}, "E41"),
])
def test_header_values(header, code):
    assert outcome(xml(PRENOTIFY, **header)) == code


@pytest.mark.parametrize("field", ["CommandVariant", "ServiceReference", "ServiceReferenceVariant"])
def test_missing_header_field(field):
    raw = xml(PRENOTIFY)
    start, end = raw.index(f"<sr:{field}>".encode()), raw.index(f"</sr:{field}>".encode())
    assert outcome(raw[:start] + raw[end + len(f"</sr:{field}>"):]) == "E44"


def test_missing_request_id_is_a_dead_letter():
    raw = xml(PRENOTIFY)
    start, end = raw.index(b"<sr:RequestID>"), raw.index(b"</sr:RequestID>") + len(b"</sr:RequestID>")
    assert outcome(raw[:start] + raw[end:]) == "dead letter"


def test_unknown_header_element():
    raw = xml(PRENOTIFY).replace(b"</sr:Header>", b"<sr:Priority>1</sr:Priority></sr:Header>")
    assert outcome(raw) == "E48"


def with_header_element(name: str, value: str) -> bytes:
    """The pre-notification with one more header element, in its DUIS place after RequestID."""
    return xml(PRENOTIFY).replace(b"</sr:RequestID>", f"</sr:RequestID><sr:{name}>{value}</sr:{name}>".encode())


@pytest.mark.parametrize("first, code", [("true", "I0"), ("0", "I0"), ("yes", "E13"), ("", "E13")])
def test_first_in_sequence_is_an_xs_boolean_accepted_and_not_acted_on(first, code):
    assert outcome(with_header_element("FirstInSequence", first)) == code


@pytest.mark.parametrize("preceding, code", [
    (f"{SUPPLIER}:{DCC}:{2**64 - 1}", "I0"), (f"{SUPPLIER}:{DCC}:{2**64}", "E13"),
    (f"{SUPPLIER}:{DCC}:01", "E13"), (SUPPLIER, "E13"),
])
def test_preceding_service_request_id_is_a_request_id(preceding, code):
    assert outcome(with_header_element("PrecedingServiceRequestID", preceding)) == code


def test_header_elements_out_of_their_duis_order_are_refused_in_xml_only():
    raw = xml(PRENOTIFY).replace(b"<sr:CommandVariant>8</sr:CommandVariant>", b"").replace(
        b"</sr:Header>", b"<sr:CommandVariant>8</sr:CommandVariant></sr:Header>")
    assert outcome(raw) == "E48"
    as_json = build.request(SUPPLIER, 1, "12.2", PRENOTIFY, "json").replace(b'"CommandVariant":8,', b"").replace(
        b'"ServiceReferenceVariant":"12.2"', b'"ServiceReferenceVariant":"12.2","CommandVariant":8')
    assert outcome(as_json) == "I0"


def test_a_body_before_the_header_is_refused_in_xml():
    raw = xml(PRENOTIFY)
    header = raw[raw.index(b"<sr:Header>"):raw.index(b"</sr:Header>") + len(b"</sr:Header>")]
    assert outcome(raw.replace(header, b"").replace(b"</sr:Body>", b"</sr:Body>" + header)) == "E48"


def test_body_elements_out_of_their_duis_order_are_refused_in_xml_only():
    swapped = xml(PRENOTIFY).replace(b"<sr:DeviceModel>M1</sr:DeviceModel>", b"").replace(
        b"</sr:DeviceType>", b"</sr:DeviceType><sr:DeviceModel>M1</sr:DeviceModel>")
    assert outcome(swapped) == "E48"
    in_json = build.request(SUPPLIER, 1, "12.2", PRENOTIFY, "json").replace(
        b'"DeviceModel":"M1","DeviceType":"ESME"', b'"DeviceType":"ESME","DeviceModel":"M1"')
    assert list(codec.decode(in_json).data["Body"]["DevicePrenotification"])[2:4] == ["DeviceType", "DeviceModel"]
    assert outcome(in_json) == "I0"


def test_requests_are_built_in_duis_order_whatever_the_order_of_the_body_given():
    body = {"DeviceType": "ESME", **PRENOTIFY}
    decoded = codec.decode(build.request(SUPPLIER, 1, "12.2", body)).data["Body"]["DevicePrenotification"]
    assert list(decoded) == list(PRENOTIFY)


def test_role_not_allowed():
    body = {"DeviceID": device_id(1)}
    assert outcome(xml(body, "8.3", originator="90-B3-D5-1F-30-01-00-10")) == "E21"
    assert outcome(xml(body, "8.2", originator="90-B3-D5-1F-30-01-00-10")) == "I0"


@pytest.mark.parametrize("body, variant, code", [
    ({**PRENOTIFY, "DeviceType": "TOASTER"}, "12.2", "E12"),
    ({k: v for k, v in PRENOTIFY.items() if k != "DeviceModel"}, "12.2", "E44"),
    ({**PRENOTIFY, "DeviceID": "00-DB-12-34-56-78-90"}, "12.2", "E11"),
    ({**PRENOTIFY, "DeviceID": "00:DB:12:34:56:78:90:A2"}, "12.2", "E11"),
    ({**PRENOTIFY, "DeviceID": "00-DB-12-34-56-78-90-AG"}, "12.2", "E11"),
    ({**PRENOTIFY, "DeviceID": "00-DB-12-34-56-78-90-Α2"}, "12.2", "E11"),  # Greek capital alpha
    ({**PRENOTIFY, "DeviceModel": "x" * 31}, "12.2", "E13"),
    ({**PRENOTIFY, "DeviceModel": "x" * 30}, "12.2", "I0"),
    ({**PRENOTIFY, "Colour": "red"}, "12.2", "E48"),
    ({"DeviceID": device_id(1), "MPxN": "1234567"}, "8.2", "E19"),
    ({"MPxN": "12AB"}, "8.2", "I0"),  # the XSD's ImportMPxN is text
    ({"MPxN": "1" * 14}, "8.2", "E13"),
    ({"DeviceID": device_id(1)}, "8.4", "E19"),
    ({"DeviceID": device_id(1), "UpdateDeviceStatusCH": "Pending"}, "8.4", "E12"),
    ({"DeviceID": device_id(1), "UpdateDeviceStatusExceptCH": "Commissioned"}, "8.4", "E12"),
    ({"DeviceID": device_id(1), "UpdateDeviceStatusExceptCH": {"DeviceStatus": "Pending"}}, "8.4", "E12"),
    ({"DeviceID": device_id(1), "UpdateDeviceDetails": {}}, "8.4", "E44"),
    ({"DeviceID": device_id(1), "DeleteDevice": ""}, "8.4", "I0"),
    ({"DeviceID": device_id(1), "UpdateMPxN": {"ImportMPxN": "1234567890123"}}, "8.4", "I0"),
    ({"DeviceID": device_id(1), "UpdateMPxN": {"ExportMPAN": "1234567890123"}}, "8.4", "I0"),
    ({"DeviceID": device_id(1), "UpdateMPxN": {"ExportMPAN": "123456789012"}}, "8.4", "E13"),
    ({"DeviceID": device_id(1), "UpdateMPxN": {"MPxN": "1234567890123"}}, "8.4", "E48"),
    (build.install_success(device_id(1), CHFLocation="Loft"), "8.14.1", "E12"),
    (build.install_success(device_id(1), CHFConnectionMethod="ESME"), "8.14.1", "E48"),
    (build.install_no_sm_wan(device_id(1), SharedObstructionCheck="yes"), "8.14.2", "E13"),
])
def test_body_rules(body, variant, code):
    assert outcome(xml(body, variant)) == code


def test_body_element_must_match_the_variant():
    assert outcome(build.request(SUPPLIER, 1, "12.2", PRENOTIFY).replace(
        b"DevicePrenotification", b"DecommissionDevice")) == "E43"
    assert outcome(xml(PRENOTIFY).replace(b"</sr:Body>", b"<sr:ReadInventory/></sr:Body>")) == "E43"


def _bulk(hubs: list[str], **extra) -> bytes:
    return xml(build.fault_return(hubs, **extra), "8.14.3")


def test_a_repeated_element_split_by_another_is_out_of_order_in_xml():
    hubs = [device_id(1), device_id(2)]
    raw = _bulk(hubs)
    second = f"<sr:DeviceID>{hubs[1]}</sr:DeviceID>".encode()
    split = raw.replace(second, b"").replace(b"</sr:CHFFaultReturnType>", b"</sr:CHFFaultReturnType>" + second)
    assert outcome(raw) == "I0"
    assert outcome(split) == "E48"
    header = b"<sr:CommandVariant>8</sr:CommandVariant>"
    assert outcome(raw.replace(b"</sr:ServiceReference>", b"</sr:ServiceReference>" + header)) == "E48"


def test_bulk_return_takes_999_hubs_and_refuses_1000():
    assert outcome(_bulk([device_id(n) for n in range(999)])) == "I0"
    assert outcome(_bulk([device_id(n) for n in range(1000)])) == "E45"


def test_bulk_return_refuses_the_same_hub_twice_whatever_its_case():
    hub = device_id(7)
    assert outcome(_bulk([hub, device_id(8), hub.lower()])) == "E46"


def test_other_device_ids_pair_by_position():
    hubs = [device_id(1), device_id(2)]
    assert outcome(_bulk(hubs, OtherDeviceID=[device_id(11), device_id(12)])) == "I0"
    assert outcome(_bulk(hubs, OtherDeviceID=[device_id(11)])) == "E47"


def test_bulk_return_with_a_bad_eui_names_it():
    document = codec.decode(_bulk([device_id(1), "nope"]))
    with pytest.raises(Refused) as raised:
        domain.evaluate(document, domain.check_envelope(document, DCC), PARTIES[SUPPLIER])
    assert raised.value.code == "E11" and "DeviceID/1" in raised.value.reason


@pytest.mark.parametrize("value", enums.values(enums.CHFFaultReason))
def test_every_fault_reason(value):
    assert outcome(_bulk([device_id(1)], CHFFaultReason=value)) == "I0"


@pytest.mark.parametrize("value", enums.values(enums.CHFFaultReturnType))
def test_every_fault_return_type(value):
    assert outcome(_bulk([device_id(1)], CHFFaultReturnType=value)) == "I0"


@pytest.mark.parametrize("value", enums.values(enums.CHFConnectionMethod))
def test_every_connection_method(value):
    assert outcome(_bulk([device_id(1)], CHFConnectionMethod=value)) == "I0"


@pytest.mark.parametrize("value", enums.values(enums.CHFNoFaultReturnType))
def test_every_no_fault_return_type(value):
    body = build.no_fault_return([device_id(1)], CHFNoFaultReturnType=value)
    assert outcome(xml(body, "8.14.4")) == "I0"
    assert outcome(xml({**body, "CHFNoFaultReturnType": value + "!"}, "8.14.4")) == "E12"


@pytest.mark.parametrize("value", enums.values(enums.DeviceType))
def test_every_device_type_can_be_named(value):
    assert outcome(xml({**PRENOTIFY, "DeviceType": value})) == "I0"
