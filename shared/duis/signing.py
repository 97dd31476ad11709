"""The DCC's signature on its answers: an enveloped XML signature as DCC Boxed makes it.

ECDSA P-256 with SHA-256 over exclusive c14n, one Reference to the whole document with the
enveloped-signature transform, and KeyInfo naming the certificate by issuer and serial number.

A general XMLDSig library rebuilds and canonicalises the SignedInfo as a tree for every document.
Here the SignedInfo is a fixed text with one hole for the digest: exclusive c14n renders an element
with only the namespaces it uses, so the text below is already its canonical form wherever the
Signature sits. A test proves the output verifies with signxml and with DCC Boxed's own tool.
"""
import base64
import hashlib
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from shared.duis.codec import XML_DECLARATION

DSIG = "http://www.w3.org/2000/09/xmldsig#"
_SIGNED_INFO = (
    f'<ds:SignedInfo xmlns:ds="{DSIG}">'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"></ds:SignatureMethod>'
    '<ds:Reference URI=""><ds:Transforms>'
    f'<ds:Transform Algorithm="{DSIG}enveloped-signature"></ds:Transform></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>'
    '<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>'
)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


class Signer:
    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the DCC's XML signing key must be an ECDSA P-256 key")
        if certificate.public_key().public_numbers() != key.public_key().public_numbers():
            raise ValueError("the DCC's XML signing certificate does not match its key")
        self._key = key
        issuer = _escape(certificate.issuer.rfc4514_string())
        self._key_info = (f"<ds:KeyInfo><ds:X509Data><ds:X509IssuerSerial>"
                          f"<ds:X509IssuerName>{issuer}</ds:X509IssuerName>"
                          f"<ds:X509SerialNumber>{certificate.serial_number}</ds:X509SerialNumber>"
                          f"</ds:X509IssuerSerial></ds:X509Data></ds:KeyInfo>")

    def sign(self, document: bytes) -> bytes:
        """The document (UTF-8 XML whose root has no signature) with its enveloped Signature
        appended as the root's last child; everything else is kept byte for byte."""
        root = etree.fromstring(document, _PARSER)
        signature = self._signature(etree.tostring(root, method="c14n", exclusive=True, with_comments=False))
        closing = document.rstrip().rindex(b"</")
        return document[:closing] + signature + document[closing:]

    def sign_canonical(self, canonical: bytes) -> bytes:
        """A document given in its exclusive canonical form (the digest is taken over these very
        bytes), behind an XML declaration, with the enveloped Signature appended."""
        closing = canonical.rindex(b"</")
        return XML_DECLARATION + canonical[:closing] + self._signature(canonical) + canonical[closing:]

    def _signature(self, canonical: bytes) -> bytes:
        digest = base64.b64encode(hashlib.sha256(canonical).digest()).decode()
        signed_info = _SIGNED_INFO.replace("{digest}", digest)
        r, s = decode_dss_signature(self._key.sign(signed_info.encode(), _ECDSA_SHA256))
        value = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
        return (f'<ds:Signature xmlns:ds="{DSIG}">'
                + signed_info.replace(f' xmlns:ds="{DSIG}"', "", 1)
                + f"<ds:SignatureValue>{value}</ds:SignatureValue>{self._key_info}</ds:Signature>").encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def private_key(key_bytes: bytes) -> ec.EllipticCurvePrivateKey:
    """A PKCS#8 key in PEM or DER (DCC Boxed ships DER)."""
    if b"-----BEGIN" in key_bytes:
        return serialization.load_pem_private_key(key_bytes, password=None)
    return serialization.load_der_private_key(key_bytes, password=None)


def pem_private_key(key_bytes: bytes) -> bytes:
    return private_key(key_bytes).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())


def load(key_path: Path, certificate_path: Path) -> Signer:
    key = private_key(key_path.read_bytes())
    return Signer(key, x509.load_pem_x509_certificate(certificate_path.read_bytes()))


@lru_cache(maxsize=4)
def _cached(key_path: str, certificate_path: str) -> Signer:
    try:
        return load(Path(key_path), Path(certificate_path))
    except FileNotFoundError as missing:
        raise RuntimeError(f"the DCC's XML signing key material is missing ({missing.filename}); "
                           "set SMI_DCC_SIGNING_KEY and SMI_DCC_SIGNING_CERTIFICATE, or run "
                           "`make duis-tools` for the development key") from None


def signer(settings) -> Signer:
    """The DCC's signer for these settings, loaded once (keyed by the paths' text: hashing and
    building Path objects on every answer took a quarter of its time)."""
    return _cached(str(settings.dcc_signing_key), str(settings.dcc_signing_certificate))
