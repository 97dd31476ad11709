"""The DCC's signature on its XML answers: an answer encoded and signed as the services do it,
against the same answer encoded and then signed by signxml, the general XMLDSig library (one answer
of each size the platform emits), beside the answer encoded unsigned."""
import time
from datetime import UTC, date, datetime

from signxml import SignatureMethod, XMLSigner
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm

from services.returns.domain import HubOutcome, response_payload
from shared import responses
from shared.duis import codec, signing
from shared.messages import ReplyTo
from shared.settings import Settings

USER = "90-B3-D5-1F-30-01-00-00"


def documents(settings: Settings) -> dict[str, dict]:
    reply = ReplyTo(request_id=f"{USER}:90-B3-D5-1F-30-00-00-02:1000", originator=USER, format="xml",
                    schema_version="5.4", variant="8.14.3")
    now = datetime.now(UTC)
    hubs = [HubOutcome(f"00-CC-00-00-00-00-{n // 256:02X}-{n % 256:02X}", "I0", f"RRR-{n:010d}",
                       date(2027, 3, 1)) for n in range(999)]
    return {
        "one-line answer": responses.response_document(settings, reply, "I0", now),
        "999-hub answer": responses.response_document(settings, reply, "I0", now, response_payload(hubs)),
    }


def per_call_us(function, document, seconds: float) -> float:
    """This process's CPU time per call, the best of five rounds: on a shared machine the wall
    clock also counts the other processes' turns."""
    best = float("inf")
    for _ in range(5):
        calls, started = 0, time.process_time()
        while time.process_time() - started < seconds / 5:
            function(document)
            calls += 1
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return best


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    settings = Settings()
    signing.signer(settings)  # loaded before the clock starts
    key = settings.dcc_signing_key.read_bytes()
    certificate = settings.dcc_signing_certificate.read_bytes()
    library = XMLSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256,
                        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
    key_pem = signing.pem_private_key(key)

    def with_library(document: bytes) -> bytes:
        from lxml import etree
        return etree.tostring(library.sign(etree.fromstring(document), key=key_pem, cert=certificate))

    rows = []
    for name, document in documents(settings).items():
        size = len(responses.encode(settings, document, "xml"))
        mine = per_call_us(lambda d: responses.encode(settings, d, "xml"), document, max(1.0, 3 * scale))
        unsigned = per_call_us(lambda d: codec.encode(d, "xml"), document, max(1.0, 3 * scale))
        theirs = per_call_us(lambda d: with_library(codec.encode(d, "xml")), document, max(1.0, 3 * scale))
        rows.append({"name": f"encode and sign: {name}", "value": round(mine, 1), "unit": "us", "target": "-",
                     "ceiling": round(theirs, 1),
                     "note": f"CPU time per answer; {size:,} bytes signed; encoded unsigned {unsigned:.1f} us, so the signature "
                             f"adds {mine - unsigned:.1f} us; ceiling: the same encoding signed by signxml "
                             f"XMLSigner (ratio {mine / theirs:.2f})"})
    return rows
