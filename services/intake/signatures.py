"""Request signatures: the enveloped XML signature (ECDSA P-256 with SHA-256, as DUIS uses)
must verify against the originator's certificate in the party registry.

In `required` mode a request with no signature is E49 and one that does not verify (tampered,
signed with another party's key, or a signature over something other than the whole request)
is E50. A JSON request carries no XML signature, so in `required` mode it is E49.
"""
from lxml import etree
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier
from signxml.exceptions import InvalidInput, InvalidSignature

from services.intake.domain import Refused
from shared.duis.codec import Document
from shared.parties import Party

_EXPECT = SignatureConfiguration(
    require_x509=False,
    location="./",  # a direct child of the Request: enveloped, not buried elsewhere
    expect_references=1,
    signature_methods=frozenset({SignatureMethod.ECDSA_SHA256}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def check_signature(raw: bytes, document: Document, party: Party, mode: str) -> None:
    if mode == "off":
        return
    if document.signature is None:
        raise Refused("E49", "the request carries no enveloped XML signature")
    if not party.certificate:
        raise Refused("E50", f"no certificate is registered for {party.eui}")
    try:
        result = XMLVerifier().verify(raw, x509_cert=party.certificate, parser=_PARSER,
                                      expect_config=_EXPECT)
    except (InvalidSignature, InvalidInput, ValueError) as error:
        raise Refused("E50", f"signature does not verify against {party.eui}'s certificate: "
                               f"{str(error)[:200]}") from None
    if etree.QName(result.signed_xml).localname != "Request":
        raise Refused("E50", "the signature does not cover the whole request")
