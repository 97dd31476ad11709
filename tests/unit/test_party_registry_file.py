"""The registry file: certificates given inline or by file."""
import pytest
from cryptography import x509

from shared.parties import load_file
from shared.settings import DEV_KEYS, REPO_ROOT
from tests.conftest import unavailable
from tests.pki import CertificateAuthority

REFERENCE_SUPPLIER = "90-B3-D5-1F-30-01-00-00"
ENTRY = "parties:\n  - eui: {eui}\n    name: p\n    kind: service_user\n    roles: [IS]\n"


def test_a_certificate_file_becomes_the_partys_certificate(tmp_path):
    pem = CertificateAuthority().issue(REFERENCE_SUPPLIER)[1]
    (tmp_path / "cert.pem").write_text(pem)
    registry = tmp_path / "parties.yaml"
    registry.write_text(ENTRY.format(eui=REFERENCE_SUPPLIER) + f"    certificate_file: {tmp_path / 'cert.pem'}\n")
    [party] = load_file(registry)
    assert party.certificate == pem


def test_a_missing_certificate_file_stops_the_load(tmp_path):
    registry = tmp_path / "parties.yaml"
    registry.write_text(ENTRY.format(eui=REFERENCE_SUPPLIER) + "    certificate_file: tools/duis/keys/absent.pem\n")
    with pytest.raises(ValueError, match=r"01-00-00: certificate_file .*absent.pem does not exist"):
        load_file(registry)


def test_a_file_without_a_certificate_stops_the_load(tmp_path):
    (tmp_path / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    registry = tmp_path / "parties.yaml"
    registry.write_text(ENTRY.format(eui=REFERENCE_SUPPLIER) + f"    certificate_file: {tmp_path / 'key.pem'}\n")
    with pytest.raises(ValueError, match="holds no PEM certificate"):
        load_file(registry)


def test_the_development_registry_carries_the_reference_suppliers_dcc_boxed_certificate():
    if not (DEV_KEYS / "xml-sign-90B3D51F30010000-ds.pem").is_file():
        unavailable(f"{DEV_KEYS} is not unpacked: run `make duis-tools`")
    parties = {p.eui: p for p in load_file(REPO_ROOT / "deploy" / "parties.yaml")}
    certificate = x509.load_pem_x509_certificate(parties[REFERENCE_SUPPLIER].certificate.encode())
    # DCC Boxed's certificates name their party in x500UniqueIdentifier (OID 2.5.4.45): the EUI.
    unique_id = certificate.subject.get_attributes_for_oid(x509.ObjectIdentifier("2.5.4.45"))[0].value
    assert unique_id.endswith(bytes.fromhex(REFERENCE_SUPPLIER.replace("-", "")))
