"""The published table of response codes is the one in the code."""
import re
from pathlib import Path

from shared import codes

DOC = Path(__file__).resolve().parents[2] / "docs" / "response-codes.md"


def test_docs_are_in_step_with_the_code():
    assert DOC.read_text() == codes.render_markdown(), "run: python -m shared.codes > docs/response-codes.md"


def test_codes_are_well_formed_and_unique():
    assert "I0" in codes.CODES
    for code in codes.CODES.values():
        assert re.fullmatch(r"I0|W\d+|E\d+", code.code)
        assert code.meaning and code.meaning[0].isupper()
    assert len({c.meaning for c in codes.CODES.values()}) == len(codes.CODES)


def _enumeration(xsd: str, marker: str) -> set[str]:
    start = xsd.index(marker)
    return set(re.findall(r'<xs:enumeration value="([^"]+)"', xsd[start:xsd.index("</xs:simpleType>", start)]))


def test_every_code_is_a_duis_5_4_code():
    from deploy import duis_check
    xsd = duis_check.xsd_text()
    assert set(codes.CODES) <= _enumeration(xsd, '<xs:simpleType name="ResponseCode">')
    assert set(codes.ALERTS) <= _enumeration(xsd, '<xs:element name="DCCAlertCode">')


def test_every_served_variant_and_its_reference_are_duis_values():
    from deploy import duis_check
    from shared.duis.catalogue import SERVICE_REQUESTS
    from shared.duis.enums import SERVICE_REFERENCE_VARIANTS, service_reference
    xsd = duis_check.xsd_text()
    variants = _enumeration(xsd, '<xs:simpleType name="ServiceReferenceVariant">')
    assert SERVICE_REFERENCE_VARIANTS == variants
    assert {service_reference(v) for v in variants} <= _enumeration(xsd, '<xs:simpleType name="ServiceReference">')
    for spec in SERVICE_REQUESTS.values():
        assert service_reference(spec.variant) == spec.reference
