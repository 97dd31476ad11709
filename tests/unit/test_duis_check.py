"""The DUIS checking harness: the 5.4 XSD and its MP117 amendment, DCC Boxed's signing tool,
SmartDCC's parser, on the real DCC Boxed answers and the public reference templates."""
from pathlib import Path

import pytest
from lxml import etree

from deploy import duis_check
from deploy.duis_tools import SIGNING_JAR, TEMPLATES, unpack_keys
from shared.duis import build
from shared.duis.build import device_id
from shared.settings import REPO_ROOT
from tests.conftest import unavailable

RESPONSES = REPO_ROOT.parent / "shared" / "duis" / "responses"
NS = {"sr": duis_check.SR, "ds": "http://www.w3.org/2000/09/xmldsig#"}


def template(variant: str) -> bytes:
    found = sorted(TEMPLATES.glob(f"{variant}_*.XML"))
    if not found:
        unavailable(f"no reference template {variant} in {TEMPLATES}: run `make duis-tools`")
    return found[0].read_bytes()


def unsigned(document: bytes) -> bytes:
    root = etree.fromstring(document)
    for signature in root.findall("ds:Signature", NS):
        root.remove(signature)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.fixture(scope="module")
def java():
    duis_check.require_tools("java")


@pytest.fixture(scope="module")
def node():
    duis_check.require_tools("node")


@pytest.fixture(scope="module", autouse=True)
def schema():
    duis_check.require_tools("xsd")


# --- the XML Schema ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["read-inventory-response-5.4.xml", "read-inventory-response-4g.xml",
                                  "acknowledgement-error.xml"])
def test_the_real_dcc_boxed_answers_are_valid_duis_5_4(name):
    assert duis_check.validate_xsd((RESPONSES / name).read_bytes()) == []


@pytest.mark.parametrize("variant", ["12.2", "8.2", "8.3", "8.4", "8.14.1", "8.14.2", "8.14.3", "8.14.4"])
def test_the_reference_templates_of_the_served_requests_are_valid(variant):
    assert duis_check.validate_xsd(template(variant)) == []
    assert duis_check.validate_xsd(template(variant), bulk=True) == []


def test_a_json_rendering_is_checked_as_its_xml():
    request = build.request("90-B3-D5-1F-30-01-00-00", 7, "8.2", {"DeviceID": device_id(1)}, "json")
    assert duis_check.validate_xsd(request) == []
    assert duis_check.validate_xsd(request.replace(b'"DeviceID"', b'"DeviceId"')) != []


def test_a_broken_document_is_an_error_not_an_exception():
    assert duis_check.validate_xsd(b"<not-closed")[0].startswith("not a DUIS document")


def bulk_fault_return(hubs: int, others: int | None = None) -> bytes:
    root = etree.fromstring(unsigned(template("8.14.3")))
    body = root.find("sr:Body/sr:CHFFaultReturn", NS)
    for name, count in (("DeviceID", hubs), ("OtherDeviceID", hubs if others is None else others)):
        first = body.find(f"sr:{name}", NS)
        for n in range(1, count):
            copy = etree.Element(first.tag)
            copy.text = device_id(n, "00-DC" if name == "DeviceID" else "00-DD")
            first.addnext(copy)
    return etree.tostring(root)


def bulk_no_fault_return(hubs: int) -> bytes:
    root = etree.fromstring(unsigned(template("8.14.4")))
    first = root.find("sr:Body/sr:CHFNoFaultReturn/sr:DeviceID", NS)
    for n in range(1, hubs):
        copy = etree.Element(first.tag)
        copy.text = device_id(n, "00-DC")
        first.addnext(copy)
    return etree.tostring(root)


def test_the_amended_schema_takes_up_to_999_hubs_a_request():
    assert duis_check.validate_xsd(bulk_fault_return(999), bulk=True) == []
    assert duis_check.validate_xsd(bulk_no_fault_return(999), bulk=True) == []
    assert duis_check.validate_xsd(bulk_fault_return(1000), bulk=True) != []
    assert duis_check.validate_xsd(bulk_no_fault_return(1000), bulk=True) != []


def test_plain_duis_5_4_takes_one_hub_a_request():
    assert any("DeviceID" in error for error in duis_check.validate_xsd(bulk_fault_return(2)))
    assert duis_check.validate_xsd(bulk_no_fault_return(2)) != []
    assert duis_check.validate_xsd(bulk_fault_return(1)) == []


def bulk_answer(hubs: int) -> bytes:
    results = "".join(
        f"<sr:HubResult><sr:DeviceID>{device_id(n)}</sr:DeviceID><sr:ResponseCode>I0</sr:ResponseCode>"
        f"<sr:ReturnsRemedyRecordReference>RRR-{n}</sr:ReturnsRemedyRecordReference>"
        "<sr:ReturnDueDate>2024-04-09</sr:ReturnDueDate></sr:HubResult>" for n in range(hubs))
    return (f'<sr:Response xmlns:sr="{duis_check.SR}" schemaVersion="5.4"><sr:Header>'
            "<sr:RequestID>90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1000</sr:RequestID>"
            "<sr:ResponseCode>I0</sr:ResponseCode><sr:ResponseDateTime>2024-01-10T10:00:00Z</sr:ResponseDateTime>"
            "</sr:Header><sr:Body><sr:ResponseMessage><sr:ServiceReference>8.14</sr:ServiceReference>"
            "<sr:ServiceReferenceVariant>8.14.3</sr:ServiceReferenceVariant>"
            f"<sr:CHFReturnResults>{results}</sr:CHFReturnResults>"
            "</sr:ResponseMessage></sr:Body></sr:Response>").encode()


def test_the_amended_schema_answers_with_one_result_per_hub():
    assert duis_check.validate_xsd(bulk_answer(999), bulk=True) == []
    assert duis_check.validate_xsd(bulk_answer(1000), bulk=True) != []
    assert duis_check.validate_xsd(bulk_answer(0), bulk=True) != []
    assert duis_check.validate_xsd(bulk_answer(1)) != [], "CHFReturnResults is not DUIS 5.4"


def test_the_published_amendment_is_the_applied_one():
    text = duis_check.amendment_text()
    assert text.count('maxOccurs="999"') == 4  # DeviceID twice, OtherDeviceID, HubResult
    assert 'name="CHFReturnResults"' in text
    doc = (REPO_ROOT / "docs" / "duis-amendment-mp117.md").read_text()
    assert text.strip() in doc, "docs/duis-amendment-mp117.md quotes `python -m deploy.duis_check amendment`"


def test_the_schema_directory_can_be_configured(monkeypatch, tmp_path):
    assert '<xs:simpleType name="ResponseCode">' in duis_check.xsd_text()
    monkeypatch.setenv("SMI_DUIS_XSD_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="SMI_DUIS_XSD_DIR"):
        duis_check.xsd()
    assert duis_check.missing_tools("xsd") != []


def test_missing_tools_fail_on_ci_and_skip_elsewhere(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert any("java is not installed" in p for p in duis_check.missing_tools("java"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="java is not installed"):
        duis_check.require_tools("java")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="node is not installed"):
        duis_check.require_tools("node")


# --- the DCC Boxed signing tool -----------------------------------------------------------------

def test_the_test_keys_are_unpacked_once(tmp_path):
    if not SIGNING_JAR.is_file():
        unavailable(f"{SIGNING_JAR} is missing: run `make duis-tools`")
    unpacked = unpack_keys(into=tmp_path)
    assert {"xml-sign-90B3D51F30010000-ds.pem", "dsp-xml-sign-90B3D51F30000002-ds.key",
            "dsp-xml-sign-90B3D51F30000002-ds.pem"} <= set(unpacked)
    assert all(name.endswith((".pem", ".key")) for name in unpacked)
    assert unpack_keys(into=tmp_path) == []
    (tmp_path / unpacked[0]).unlink()
    assert unpack_keys(into=tmp_path) == unpacked, "a lost file is unpacked again"


@pytest.fixture(scope="module")
def signed(java) -> bytes:
    return duis_check.boxed_sign(template("8.2"))


def altered(document: bytes) -> bytes:
    """One character of the Body's DeviceID changed: still well formed and XSD-valid."""
    assert document.count(b"90-A2</sr:DeviceID>") == 1
    return document.replace(b"90-A2</sr:DeviceID>", b"90-A3</sr:DeviceID>")


@pytest.fixture(scope="module")
def verdicts(signed) -> dict[str, tuple[bool, str]]:
    documents = {
        "signed": signed,
        "altered": altered(signed),
        "unsigned request": unsigned(template("8.2")),
        "placeholder signature": template("8.2"),
        "5.4 answer": (RESPONSES / "read-inventory-response-5.4.xml").read_bytes(),
        "unsigned answer": (RESPONSES / "acknowledgement-error.xml").read_bytes(),
        "not xml": b"garbage",
    }
    return dict(zip(documents, duis_check.boxed_validate_many(list(documents.values()))))


def test_a_request_signed_by_dcc_boxed_passes_its_signature_check(signed, verdicts):
    assert b"<ds:SignatureValue>" in signed
    assert b":1000</sr:RequestID>" in signed, "the counter is preserved"
    ok, said = verdicts["signed"]
    assert ok and "[I] passed xsd validation" in said and "[I] passed signature check" in said


def test_a_byte_altered_after_signing_fails_the_signature_check(verdicts):
    ok, said = verdicts["altered"]
    assert not ok and "[I] passed xsd validation" in said and "[I] failed signature check" in said


def test_dcc_boxed_wants_requests_signed_but_not_responses(verdicts):
    ok, said = verdicts["unsigned request"]
    assert not ok and "signature missing, validation check skipped" in said
    ok, said = verdicts["unsigned answer"]
    assert ok and "response without signature, validation check skipped" in said


def test_the_templates_placeholder_signature_names_no_known_certificate(verdicts):
    ok, said = verdicts["placeholder signature"]
    assert not ok and "could not locate certificate for: 1234567890" in said


def test_dcc_boxed_checks_its_own_older_schema(verdicts):
    # DCC Boxed's tool validates against its DUIS 5.1 schema, which lacks the 4G CSP regions (and
    # the 5.4 Connectivity element): it refuses this real 5.4 answer before reaching its signature,
    # though the 5.4 XSD accepts it (test_the_real_dcc_boxed_answers_are_valid_duis_5_4).
    ok, said = verdicts["5.4 answer"]
    assert not ok and "'4G Central' is not facet-valid" in said and "[I] failed xsd validation" in said
    assert "signature check" not in said


def test_input_that_is_not_xml_is_refused(verdicts):
    ok, said = verdicts["not xml"]
    assert not ok and "could not parse" in said


def test_signing_without_preserving_the_counter_gives_a_fresh_one(java):
    fresh = duis_check.boxed_sign(template("8.2"), preserve_counter=False)
    request_id = etree.fromstring(fresh).findtext("sr:Header/sr:RequestID", namespaces=NS)
    assert request_id.startswith("90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:")
    assert not request_id.endswith(":1000")


def test_signing_for_an_originator_without_a_dcc_boxed_key_is_an_error(java):
    stranger = template("8.2").replace(b"90-B3-D5-1F-30-01-00-00:", b"90-B3-D5-1F-30-0F-0F-0F:")
    with pytest.raises(duis_check.BoxedToolError, match="exited 3"):
        duis_check.boxed_sign(stranger)


# --- SmartDCC's DUIS parser ----------------------------------------------------------------------

def test_the_parser_reads_a_template(node):
    parsed = duis_check.parse(template("8.14.3"))
    header = parsed["header"]
    assert header["type"] == "request"
    assert header["requestId"] == {"originatorId": "90-b3-d5-1f-30-01-00-00",
                                   "targetId": "90-b3-d5-1f-30-00-00-02", "counter": "1000"}
    assert header["serviceReferenceVariant"]["Service Reference Variant"] == "8.14.3"
    assert parsed["body"]["CHFFaultReturn"]["DeviceID"] == "00-DB-12-34-56-78-90-A2"


def test_the_parser_reads_many_documents_in_one_run_and_names_the_broken_one(node):
    answers = duis_check.parse_many([(RESPONSES / "read-inventory-response-5.4.xml").read_bytes(),
                                     b"garbage", template("8.2")])
    assert [bool(a) for a in answers] == [True, False, True]
    assert answers[0]["header"]["responseCode"] == "I0"
    assert answers[1].error == "bad format duis"
    with pytest.raises(ValueError, match="duis-parser"):
        duis_check.parse(b"<a/>")


# --- the command --------------------------------------------------------------------------------

def test_the_command_passes_good_traffic_and_fails_bad(java, node, signed, tmp_path: Path, capsys):
    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    good.write_bytes(signed)
    bad.write_bytes(altered(signed))
    assert duis_check.main([str(good)]) == 0
    assert "1 of 1 documents passed" in capsys.readouterr().out
    assert duis_check.main([str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "failed signature check" in out and "1 of 2 documents passed" in out
    assert duis_check.main(["amendment"]) == 0
    assert capsys.readouterr().out == duis_check.amendment_text()


def test_the_command_holds_bulk_returns_to_the_amended_schema(java, node, tmp_path: Path, capsys):
    bulk = tmp_path / "bulk.xml"
    bulk.write_bytes(bulk_fault_return(3))
    assert duis_check.main([str(bulk)]) == 1
    assert "DUIS 5.4 XSD: INVALID" in capsys.readouterr().out
    assert duis_check.main(["--bulk", str(bulk)]) == 0
    out = capsys.readouterr().out
    assert "with the MP117 amendment: valid" in out and "DCC Boxed Validate: not applicable" in out
