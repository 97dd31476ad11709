"""The DCC's signer, checked against signxml (the general library) and DCC Boxed's own tool."""
import re
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from signxml import SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.exceptions import InvalidSignature

from deploy import duis_check
from services.inventory.domain import Device, read_inventory_payload
from shared import responses
from shared.duis import codec, signing
from shared.messages import ReplyTo
from shared.settings import Settings

SETTINGS = Settings()
EXPECT = SignatureConfiguration(require_x509=False, location="./", expect_references=1,
                                signature_methods=frozenset({SignatureMethod.ECDSA_SHA256}))
USER = "90-B3-D5-1F-30-01-00-00"


@pytest.fixture(scope="module", autouse=True)
def tools_present():
    duis_check.require_tools()


def document(text: str = "I0") -> bytes:
    reply = ReplyTo(request_id=f"{USER}:90-B3-D5-1F-30-00-00-02:7", originator=USER, format="xml",
                    schema_version="5.4", variant="8.2")
    return codec.encode(responses.response_document(SETTINGS, reply, text, datetime.now(UTC)), "xml", "Response")


def test_the_signature_verifies_with_signxml_against_the_dsp_certificate():
    signed = signing.signer(SETTINGS).sign(document())
    result = XMLVerifier().verify(signed, x509_cert=SETTINGS.dcc_signing_certificate.read_text(),
                                  expect_config=EXPECT)
    assert result.signed_xml is not None


def test_a_document_altered_after_signing_does_not_verify():
    signed = signing.signer(SETTINGS).sign(document())
    altered = signed.replace(b"<sr:ResponseCode>I0<", b"<sr:ResponseCode>E2<")
    with pytest.raises(InvalidSignature):
        XMLVerifier().verify(altered, x509_cert=SETTINGS.dcc_signing_certificate.read_text(), expect_config=EXPECT)
    ok, said = duis_check.boxed_validate(altered)
    assert not ok, said


def test_dcc_boxed_validates_what_the_signer_makes_and_names_the_dsp_certificate():
    ok, said = duis_check.boxed_validate(signing.signer(SETTINGS).sign(document()))
    assert ok and "passed signature check" in said, said


def test_whitespace_and_a_declaration_outside_the_root_are_kept_as_given():
    raw = b'<?xml version="1.0" encoding="UTF-8"?>\n' + document().split(b"?>", 1)[1] + b"\n"
    signed = signing.signer(SETTINGS).sign(raw)
    assert signed.startswith(raw.split(b"</sr:Response>")[0])
    XMLVerifier().verify(signed, x509_cert=SETTINGS.dcc_signing_certificate.read_text(), expect_config=EXPECT)


def test_a_key_that_is_not_the_certificates_is_refused_at_load():
    certificate = signing.x509.load_pem_x509_certificate(SETTINGS.dcc_signing_certificate.read_bytes())
    with pytest.raises(ValueError, match="does not match"):
        signing.Signer(ec.generate_private_key(ec.SECP256R1()), certificate)


def test_missing_key_material_is_a_clear_error(tmp_path):
    settings = Settings(dcc_signing_key=tmp_path / "none.key", dcc_signing_certificate=tmp_path / "none.pem")
    with pytest.raises(RuntimeError, match="signing key material is missing"):
        signing.signer(settings)



def _answer(mpxn: str) -> dict:
    reply = ReplyTo(request_id=f"{USER}:90-B3-D5-1F-30-00-00-02:7", originator=USER, format="xml",
                    schema_version="5.4", variant="8.2")
    device = Device(device_id="00-DB-12-34-56-78-90-A2", device_type="ESME", status="Pending",
                    status_since=datetime.now(UTC), manufacturer="ACME", model="M1", notifying_party=USER,
                    notifying_party_kind="service_user", added_at=datetime.now(UTC), csp_region="North",
                    mpxn=mpxn)
    return responses.response_document(SETTINGS, reply, "I0", datetime.now(UTC), read_inventory_payload([device]))


@pytest.mark.parametrize("mpxn", ["1234567890123", "a&b<c>d\"e'f", "\u00e9\u00fc \t x\r", "]]>"])
def test_an_answer_signed_as_written_verifies_and_digests_as_a_parsed_copy(mpxn):
    signer, answer = signing.signer(SETTINGS), _answer(mpxn)
    as_written = signer.sign_canonical(codec.canonical_xml(answer))
    parsed_copy = signer.sign(codec.encode(answer, "xml"))
    digest = re.compile(rb"<ds:DigestValue>([^<]+)<")
    assert digest.search(as_written).group(1) == digest.search(parsed_copy).group(1)
    result = XMLVerifier().verify(as_written, x509_cert=SETTINGS.dcc_signing_certificate.read_text(),
                                  expect_config=EXPECT)
    assert result.signed_xml.find(f".//{{{codec.NS}}}ImportMPxN").text == mpxn


def test_dcc_boxed_validates_an_answer_signed_as_written():
    signed = responses.encode(SETTINGS, _answer("a&b<c>"), "xml")
    ok, said = duis_check.boxed_validate(signed)
    assert ok and "passed signature check" in said, said
