"""A test CA and party certificates made at test time, and DUIS-style request signing."""
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, methods


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class CertificateAuthority:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name("SMI test CA"))
                     .issuer_name(_name("SMI test CA")).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def issue(self, eui: str) -> tuple[str, str]:
        """(private key PEM, certificate PEM) for a party, its EUI as the subject."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(_name(eui)).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def sign(raw: bytes, key_pem: str, cert_pem: str) -> bytes:
    """An enveloped ECDSA P-256 / SHA-256 signature over the whole request."""
    signer = XMLSigner(method=methods.enveloped, signature_algorithm="ecdsa-sha256",
                       digest_algorithm="sha256")
    signed = signer.sign(etree.fromstring(raw), key=key_pem, cert=cert_pem)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
