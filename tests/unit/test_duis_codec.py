"""The DUIS codec: both formats decode to the same dictionary; hostile XML is refused."""
import pytest
from hypothesis import given, strategies as st

from shared.duis import build, codec
from shared.duis.build import device_id
from shared.eui import InvalidEUI, canonical_eui, is_eui

SUPPLIER = "90-B3-D5-1F-30-01-00-00"


def test_xml_and_json_renderings_decode_to_the_same_document():
    body = build.fault_return([device_id(1), device_id(2)], OtherDeviceID=[device_id(3), device_id(4)])
    as_xml = codec.decode(build.request(SUPPLIER, 5, "8.14.3", body, "xml"))
    as_json = codec.decode(build.request(SUPPLIER, 5, "8.14.3", body, "json"))
    assert as_xml.format == "xml" and as_json.format == "json"
    header = dict(as_json.data["Header"], CommandVariant="8")
    assert as_xml.data == {**as_json.data, "Header": header}


def test_content_type_decides_and_first_byte_otherwise():
    raw = build.request(SUPPLIER, 1, "8.2", {"DeviceID": device_id(1)}, "json")
    assert codec.decode(b"  \n" + raw).format == "json"
    assert codec.decode(raw, "application/json; charset=utf-8").format == "json"
    with pytest.raises(codec.Undecodable, match="not well-formed XML"):
        codec.decode(raw, "application/xml")


@pytest.mark.parametrize("text, flagged", [
    ("ACME", False), ("caf\u00e9", False), ("A\x00B", True), ("\x1f", True),
    ("\ufffe", True), ("\uffff", True), ("\ufffd", False),
])
def test_json_holding_characters_xml_cannot_carry_is_flagged(text, flagged):
    """In a value or in a name, escaped or written out in UTF-8."""
    for body in ({"DeviceID": device_id(1), "Note": text}, {"DeviceID": device_id(1), text: "1"}):
        raw = build.request(SUPPLIER, 1, "8.2", body, "json")
        escaped = raw.replace("\ufffe".encode(), rb"\ufffe").replace("\u00e9".encode(), rb"\u00e9")
        assert codec.decode(raw).non_xml_characters is flagged
        assert codec.decode(escaped).non_xml_characters is flagged


@pytest.mark.parametrize("raw", [
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    b'<Request><Header><RequestID>&lol2;</RequestID></Header></Request>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<Request><Header><RequestID>&xxe;</RequestID></Header></Request>',
    b'<Request><Header><RequestID>a:b:1</RequestID></Header>',
    b"\xff\xfe<garbage",
    b"",
    b'{"Header": {"RequestID": 5}}',
    b'{"Header": "x"}',
    b"[1, 2]",
    b"{" * 5000,
])
def test_undecodable_input_is_refused(raw):
    with pytest.raises(codec.Undecodable):
        codec.decode(raw)


def test_signature_is_kept_apart_from_the_document():
    raw = build.request(SUPPLIER, 1, "8.2", {"DeviceID": device_id(1)}).replace(
        b"</sr:Request>",
        b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>'
        b"</sr:Request>")
    document = codec.decode(raw)
    assert document.signature is not None and document.envelope_error is None
    assert "Signature" not in document.data


def test_request_id_is_found_without_parsing_for_oversized_input():
    raw = build.request(SUPPLIER, 9, "8.2", {"DeviceID": device_id(1)})
    assert codec.guess_request_id(raw) == f"{SUPPLIER}:{build.DCC_EUI}:9"
    assert codec.guess_request_id(build.request(SUPPLIER, 9, "8.2", {"DeviceID": device_id(1)}, "json")) \
        == f"{SUPPLIER}:{build.DCC_EUI}:9"


def test_response_encoding_repeats_lists_and_skips_absent_values():
    raw = codec.encode({"Header": {"RequestID": "r", "Skipped": None},
                        "Body": {"Hub": [{"DeviceID": "a"}, {"DeviceID": "b"}]}}, "xml")
    assert codec.decode(raw.replace(b"Response", b"Request")).data == {
        "Header": {"RequestID": "r"}, "Body": {"Hub": [{"DeviceID": "a"}, {"DeviceID": "b"}]}}


hex_pair = st.text("0123456789abcdefABCDEF", min_size=2, max_size=2)


@given(st.lists(hex_pair, min_size=8, max_size=8))
def test_every_eui_has_one_canonical_form(pairs):
    value = "-".join(pairs)
    assert is_eui(value)
    assert canonical_eui(value) == value.upper() == canonical_eui(value.lower())


@given(st.text(max_size=30))
def test_anything_else_is_not_an_eui(value):
    if is_eui(value):
        assert canonical_eui(value) == value.upper()
    else:
        with pytest.raises(InvalidEUI):
            canonical_eui(value)
