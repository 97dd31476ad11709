"""Signed requests: verified against the originator's registered certificate."""
import pytest

from services.intake.domain import Refused
from services.intake.signatures import check_signature
from shared.duis import build, codec
from shared.duis.build import device_id
from shared.parties import Party
from tests.pki import CertificateAuthority, sign

SUPPLIER, OTHER = "90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-01-00-01"


@pytest.fixture(scope="module")
def keys():
    ca = CertificateAuthority()
    return {SUPPLIER: ca.issue(SUPPLIER), OTHER: ca.issue(OTHER)}


def party(keys, eui=SUPPLIER) -> Party:
    return Party(eui=eui, name="p", kind="service_user", roles={"IS"}, certificate=keys[eui][1])


def code(raw: bytes, who: Party, mode: str = "required") -> str:
    try:
        check_signature(raw, codec.decode(raw), who, mode)
    except Refused as rejection:
        return rejection.code
    return "I0"


REQUEST = build.request(SUPPLIER, 1, "8.2", {"DeviceID": device_id(1)})


def test_a_request_signed_by_its_originator_verifies(keys):
    signed = sign(REQUEST, *keys[SUPPLIER])
    assert code(signed, party(keys)) == "I0"
    assert codec.decode(signed).envelope_error is None


def test_unsigned_request_is_refused_only_when_signatures_are_required(keys):
    assert code(REQUEST, party(keys)) == "E49"
    assert code(REQUEST, party(keys), mode="off") == "I0"
    assert code(build.request(SUPPLIER, 1, "8.2", {"DeviceID": device_id(1)}, "json"), party(keys)) == "E49"


def test_tampered_request_is_refused(keys):
    signed = sign(REQUEST, *keys[SUPPLIER])
    assert code(signed.replace(device_id(1).encode(), device_id(2).encode()), party(keys)) == "E50"


def test_request_signed_by_another_party_is_refused(keys):
    assert code(sign(REQUEST, *keys[OTHER]), party(keys)) == "E50"


def test_party_without_a_certificate_cannot_send_signed_requests(keys):
    bare = Party(eui=SUPPLIER, name="p", kind="service_user", roles={"IS"})
    assert code(sign(REQUEST, *keys[SUPPLIER]), bare) == "E50"
