"""Every kind of answer and alert the platform emits, built by the functions the services use:
valid against the DUIS 5.4 XSD (the MP117-amended one for bulk returns), signed so that DCC
Boxed's own tool validates the signature, and parsed by SmartDCC's parser. XML and JSON alike.
"""
from datetime import UTC, date, datetime

import pytest
from signxml import SignatureConfiguration, XMLVerifier
from signxml.algorithms import SignatureMethod

from deploy import duis_check
from services.housekeeping.domain import n8_payload
from services.inventory.domain import Device, read_inventory_payload
from services.returns.domain import HubOutcome, overall_code, overdue_payload, response_payload
from shared import codes, responses
from shared.duis import codec
from shared.messages import ReplyTo
from shared.settings import Settings

SETTINGS = Settings()
NOW = datetime(2026, 12, 1, 12, 0, 0, 123000, tzinfo=UTC)
USER = "90-B3-D5-1F-30-01-00-00"
REQUEST_ID = f"{USER}:90-B3-D5-1F-30-00-00-02:1000"


def reply(variant: str | None, fmt: str = "xml", request_id: str = REQUEST_ID) -> ReplyTo:
    return ReplyTo.model_construct(request_id=request_id, originator=USER, format=fmt,
                                   schema_version="5.2", variant=variant)


def device(n: int, **fields) -> Device:
    base = dict(device_id=f"00-DB-00-00-00-00-00-{n:02X}", device_type="ESME", status="Pending",
                status_since=NOW, manufacturer="ACME", model="M1", notifying_party=USER,
                notifying_party_kind="service_user", added_at=NOW, firmware_version="00020130",
                smets_chts_version="SMETS2", csp_region="North", mpxn="1000999888")
    return Device(**{**base, **fields})


def hubs(outcomes: list[tuple[str, str]]) -> list[HubOutcome]:
    return [HubOutcome(f"00-CC-00-00-00-00-{n // 256:02X}-{n % 256:02X}", code,
                       f"RRR-{n:010d}" if code == "I0" else None, date(2027, 3, 1) if code == "I0" else None)
            for n, (_, code) in enumerate(outcomes)]


def answers(fmt: str) -> dict[str, tuple[bytes, bool]]:
    """name -> (document, bulk): one of each kind the platform emits."""
    built: dict[str, tuple[bytes, bool]] = {}
    for code in codes.CODES:
        variant = "8.14.3" if code in ("W081401", "E54") else "12.2"
        built[f"{code} ({variant})"] = (responses.response(SETTINGS, reply(variant, fmt), code, NOW).value, False)
    built["not a DUIS variant"] = (responses.response(SETTINGS, reply(None, fmt), "E42", NOW).value, False)
    built["unusable RequestID"] = (responses.response(
        SETTINGS, reply("8.2", fmt, "not-a-request-id"), "E3", NOW).value, False)
    for name, devices in [("8.2, 1 device", [device(1)]),
                          ("8.2, 17 devices", [device(n) for n in range(17)]),
                          ("8.2, SMETS1 with S1SP", [device(1, csp_region="SMETS1", s1sp="S1SP-ALPHA")]),
                          ("8.2, commissioned hub and a type 2 device", [
                              device(1, device_type="CHF", status="Commissioned", commissioned_at=NOW),
                              device(2, device_type="IHD", status=None, firmware_version=None)])]:
        built[name] = (responses.response(SETTINGS, reply("8.2", fmt), "I0", NOW,
                                          payload=read_inventory_payload(devices)).value, False)
    for name, outcome in [("bulk, all accepted", [("a", "I0")] * 3),
                          ("bulk, partly", [("a", "I0"), ("b", "E081401"), ("c", "E51"), ("d", "E081405")]),
                          ("bulk, none", [("a", "E081402"), ("b", "E55")]),
                          ("bulk, 999 hubs", [("a", "I0")] * 999),
                          ("single hub, accepted", [("a", "I0")]),
                          ("single hub, refused", [("a", "E081401")])]:
        results = hubs(outcome)
        payload = response_payload(results)
        built[name] = (responses.response(SETTINGS, reply("8.14.3", fmt), overall_code([h.code for h in results]),
                                          NOW, payload=payload).value, payload is not None)
    built["N8"] = (responses.alert(SETTINGS, USER, fmt, codes.DEVICE_REMOVED,
                                   n8_payload("00-DB-00-00-00-00-00-01"), NOW).value, False)
    built["overdue return"] = (responses.alert(SETTINGS, USER, fmt, codes.RETURN_OVERDUE,
                                               overdue_payload("00-CC-00-00-00-00-00-01", date(2027, 3, 1)),
                                               NOW).value, False)
    return built


XML, JSON = answers("xml"), answers("json")
_ECDSA = SignatureConfiguration(require_x509=False, location="./", expect_references=1,
                                signature_methods=frozenset({SignatureMethod.ECDSA_SHA256}))


@pytest.fixture(scope="module", autouse=True)
def tools_present():
    duis_check.require_tools()


@pytest.mark.parametrize("name", list(XML))
def test_every_xml_answer_is_valid_duis(name):
    document, bulk = XML[name]
    assert duis_check.validate_xsd(document, bulk=bulk) == []
    if not bulk:
        assert duis_check.validate_xsd(document, bulk=True) == [], "the amendment takes pure DUIS too"


def test_bulk_answers_need_the_amendment_and_single_hubs_do_not():
    assert duis_check.validate_xsd(XML["bulk, partly"][0]) != []
    assert duis_check.validate_xsd(XML["single hub, refused"][0]) == []


def test_dcc_boxed_validates_every_pure_duis_answer_and_its_signature():
    pure = [name for name, (_, bulk) in XML.items() if not bulk]
    verdicts = duis_check.boxed_validate_many([XML[n][0] for n in pure])
    refused = {n: said for n, (ok, said) in zip(pure, verdicts)
               if not ok or "passed signature check" not in said}
    assert refused == {}


def test_bulk_answers_carry_the_dcc_signature():
    """DCC Boxed's tool holds the unamended (5.1) schema; the signature is checked with signxml."""
    certificate = SETTINGS.dcc_signing_certificate.read_text()
    for name, (document, bulk) in XML.items():
        if bulk:
            verified = XMLVerifier().verify(document, x509_cert=certificate, expect_config=_ECDSA)
            assert verified.signed_xml is not None, name


def test_smartdcc_parser_reads_every_answer_in_both_formats():
    documents = [d for d, _ in XML.values()] + [d for d, _ in JSON.values()]
    assert all(duis_check.parse_many(documents))


def test_json_answers_have_the_xml_structure():
    for name in XML:
        xml, json = codec.read(XML[name][0]), codec.read(JSON[name][0])
        xml.pop("Signature")
        assert xml == _texts(json), name


def test_answers_keep_the_reason_out_of_the_document():
    output = responses.response(SETTINGS, reply("8.2"), "E30", NOW, reason="no device 00-DB-...")
    assert b"no device" not in output.value
    assert ("response-reason", "no device 00-DB-...") in output.headers


def _texts(value):
    """JSON keeps numbers and booleans typed and a repeatable element as a list even of one;
    the XML reading has every leaf as text and one element as itself."""
    if value == {}:
        return ""  # an empty element
    if isinstance(value, dict):
        return {k: _texts(v) for k, v in value.items() if k != "schemaVersion"}
    if isinstance(value, list):
        return _texts(value[0]) if len(value) == 1 else [_texts(v) for v in value]
    return str(value)
