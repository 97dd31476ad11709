"""The codec writes XML in its exclusive canonical form by hand, for speed: held here to lxml's
canonical form of the same document built as a tree, on every shape an answer can take."""
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from shared.duis import codec

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = st.sampled_from(["Header", "RequestID", "ResponseCode", "Device", "DeviceID", "HubResult", "A", "b.c-d"])
# Every character XML 1.0 can carry, weighted towards those canonical XML escapes.
XML_TEXT = st.text(st.one_of(st.sampled_from("&<>\"'\r\n\t ]]>"),
                             st.characters(blacklist_categories=["Cs"], blacklist_characters="\ufffe\uffff",
                                           min_codepoint=0x20)))
LEAF = st.one_of(XML_TEXT, st.booleans(), st.integers(), st.none(),
                 st.datetimes(timezones=st.just(UTC)))
DOCUMENTS = st.recursive(st.dictionaries(NAMES, LEAF, max_size=4),
                         lambda inner: st.dictionaries(NAMES, st.one_of(inner, st.lists(inner, max_size=3), LEAF),
                                                       max_size=4), max_leaves=20)


def lxml_canonical(document: dict, root: str, version: str) -> bytes:
    """The reference: the same document as an lxml tree, canonicalised by libxml2."""
    element = etree.Element(f"{{{codec.NS}}}{root}", nsmap={"sr": codec.NS})
    element.set("schemaVersion", version)
    _fill(element, document)
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _fill(parent, value: dict) -> None:
    for name, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            if one is None:
                continue
            child = etree.SubElement(parent, f"{{{codec.NS}}}{name}")
            if isinstance(one, dict):
                _fill(child, one)
            else:
                child.text = codec._text(one)


@FUZZ
@given(DOCUMENTS, st.sampled_from(["5.4", "5.1", "1e3", 'a&b<"\t\n\r']))
def test_the_written_form_is_lxml_canonical_form(document, version):
    assert codec.canonical_xml(document, "Response", version) == lxml_canonical(document, "Response", version)


@FUZZ
@given(DOCUMENTS)
def test_the_encoded_document_reads_back_as_written(document):
    encoded = codec.encode(document, "xml")
    assert encoded.startswith(codec.XML_DECLARATION)
    assert etree.tostring(etree.fromstring(encoded), method="c14n", exclusive=True) == codec.canonical_xml(document)


@pytest.mark.parametrize("text", ["a\x00b", "\x1f", "\ufffe", "x\ud800"])
def test_a_character_xml_cannot_carry_is_refused_as_lxml_refuses_it(text):
    with pytest.raises(ValueError):
        lxml_canonical({"A": text}, "Response", "5.4")
    with pytest.raises(ValueError):
        codec.canonical_xml({"A": text})


def test_an_answer_written_by_hand_names_each_element_once_in_order():
    when = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    written = codec.canonical_xml({"Header": {"ResponseCode": "I0", "ResponseDateTime": when},
                                   "Body": {"Device": [{"DeviceID": "1"}, {"DeviceID": "2"}]}})
    assert written == (f'<sr:Response xmlns:sr="{codec.NS}" schemaVersion="5.4"><sr:Header>'
                       "<sr:ResponseCode>I0</sr:ResponseCode><sr:ResponseDateTime>2026-12-01T12:00:00+00:00"
                       "</sr:ResponseDateTime></sr:Header><sr:Body><sr:Device><sr:DeviceID>1</sr:DeviceID>"
                       "</sr:Device><sr:Device><sr:DeviceID>2</sr:DeviceID></sr:Device></sr:Body></sr:Response>"
                       ).encode()
