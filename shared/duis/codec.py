"""DUIS documents to and from bytes: XML (any namespace prefix, hardened parser) and JSON.

Both formats decode to the same dictionary: element names as keys, repeated elements as lists,
leaf text as strings. Nothing here knows Service Requests; `models` validates the dictionaries.
"""
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from lxml import etree

NS = "http://www.dccinterface.co.uk/ServiceUserGateway"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
SCHEMA_VERSION = "5.4"
Format = Literal["xml", "json"]


class _NoExternalResources(etree.Resolver):
    """libxml2 still opens a document's external DTD or entity files despite load_dtd=False:
    every one resolves to nothing, so no file is ever read."""

    def resolve(self, url, public_id, context):
        return self.resolve_string("", context)


_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
    huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False,
)
_PARSER.resolvers.add(_NoExternalResources())
_XML_TYPES = {"application/xml", "text/xml"}
_JSON_TYPES = {"application/json"}
_REQUEST_ID_IN_XML = re.compile(rb"<(?:[\w.-]+:)?RequestID>\s*([^<\s]{1,200})\s*</")
_REQUEST_ID_IN_JSON = re.compile(rb'"RequestID"\s*:\s*"([^"\\]{1,200})"')
MAX_REQUEST_ID_CHARS = 200  # a real one is at most 89; every response echoes it up to three times
# Responses echo the schemaVersion too: unbounded, it would make them larger than the broker takes.
MAX_SCHEMA_VERSION_CHARS = 20
_IN_NS, _SIGNATURE = f"{{{NS}}}", f"{{{DSIG_NS}}}Signature"
XML_DECLARATION = b"<?xml version='1.0' encoding='UTF-8'?>\n"
# What canonical XML escapes in text and in attribute values (W3C C14N, section 2.3).
_C14N_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_C14N_ATTRIBUTE = str.maketrans({"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;",
                                 "\r": "&#xD;"})
# Characters outside XML 1.0's Char production: an XML request cannot hold them, a JSON one can.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Undecodable(ValueError):
    """Not a document whose RequestID can be found: the input goes to the dead letters."""


@dataclass(frozen=True)
class Document:
    format: Format
    data: dict[str, Any]
    schema_version: str | None
    envelope_error: str | None = None
    signature: etree._Element | None = None
    non_xml_characters: bool = False  # a name or text XML could not carry (JSON only)

    @property
    def request_id(self) -> str:
        return self.data["Header"]["RequestID"]


def detect_format(raw: bytes, content_type: str | None) -> Format:
    if content_type:
        kind = content_type.split(";")[0].strip().lower()
        if kind in _XML_TYPES:
            return "xml"
        if kind in _JSON_TYPES:
            return "json"
    start = raw.lstrip()[:1]
    if start == b"<":
        return "xml"
    if start in (b"{", b"["):
        return "json"
    raise Undecodable(f"content-type {content_type!r} and first byte {start!r} name no known format")


def guess_request_id(raw: bytes) -> str | None:
    """A RequestID found without parsing: for answering input too large to parse."""
    found = _REQUEST_ID_IN_XML.search(raw) or _REQUEST_ID_IN_JSON.search(raw)
    return found.group(1).decode("utf-8", "replace") if found else None


def decode(raw: bytes, content_type: str | None = None) -> Document:
    fmt = detect_format(raw, content_type)
    document = _decode_xml(raw) if fmt == "xml" else _decode_json(raw)
    header = document.data.get("Header")
    if not isinstance(header, dict) or not isinstance(header.get("RequestID"), str) \
            or not header["RequestID"]:
        raise Undecodable("no Header/RequestID found")
    if len(header["RequestID"]) > MAX_REQUEST_ID_CHARS or _NOT_XML_CHAR.search(header["RequestID"]):
        raise Undecodable(f"Header/RequestID is longer than {MAX_REQUEST_ID_CHARS} characters "
                          "or holds control characters")
    return document


def _json_may_hold_non_xml_characters(raw: bytes) -> bool:
    """orjson refuses raw control characters and lone surrogates: JSON text can carry a
    character outside XML only as a \\u escape or as U+FFFE / U+FFFF written out."""
    return b"\\u" in raw or b"\xef\xbf\xbe" in raw or b"\xef\xbf\xbf" in raw


def holds_non_xml_characters(data: Any) -> bool:
    """Whether any name or text of a decoded document holds a character XML cannot carry."""
    pending = [data]
    while pending:  # not recursive: JSON nests deeper than Python's recursion limit
        item = pending.pop()
        if isinstance(item, str):
            if _NOT_XML_CHAR.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def read(raw: bytes) -> dict[str, Any]:
    """Any DUIS document (a response, an alert) as a dictionary, whatever its root: for clients."""
    if detect_format(raw, None) == "json":
        return orjson.loads(raw)
    return _element_to_dict(etree.fromstring(raw, _PARSER))


def _decode_xml(raw: bytes) -> Document:
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise Undecodable("DTDs and entity declarations are not accepted")
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as error:
        raise Undecodable(f"not well-formed XML: {error}") from None
    if root.getroottree().docinfo.doctype:  # declared in an encoding the byte check above misses
        raise Undecodable("DTDs and entity declarations are not accepted")
    problems: list[str] = []
    if etree.QName(root).localname != "Request":
        problems.append(f"root element is {etree.QName(root).localname}, not Request")
    if not root.tag.startswith(_IN_NS):
        problems.append(_foreign(root.tag))
    signatures = [child for child in root if child.tag == _SIGNATURE]
    signature = signatures[-1] if signatures else None
    data = _element_to_dict(root, skip=signature, foreign=problems, exempt=signatures)
    version = root.get("schemaVersion")
    if problem := _version_problem(version):
        problems.append(problem)
        version = None
    if not isinstance(data, dict):
        raise Undecodable("the root element has no children")
    return Document("xml", data, version, problems[0] if problems else None, signature)


def _foreign(tag: str) -> str:
    name = etree.QName(tag)
    return f"element {name.localname} is in namespace {name.namespace!r}, not {NS}"


class Elements(dict):
    """An element's children by name, remembering the order they came in: a repeated element
    split by another one (A, B, A) is one list here, but out of any XSD sequence's order."""
    order: tuple[str, ...] = ()


def document_order(data: dict) -> list[str]:
    """The element names as the document gave them (with repeats, for XML), else the keys."""
    return list(getattr(data, "order", ()) or data)


def _element_to_dict(element: etree._Element, skip: etree._Element | None = None,
                     foreign: list[str] | None = None, exempt: list[etree._Element] = ()) -> Any:
    """`foreign`, when given, collects an element outside the DUIS namespace (document order);
    `exempt` elements (the signatures) and their content are not looked at for that."""
    grouped: dict[str, list[Any]] = {}
    order = []
    for child in element:
        tag = child.tag
        if child is skip or not isinstance(tag, str):
            continue
        checks = foreign if foreign is not None and child not in exempt else None
        if checks is not None and not tag.startswith(_IN_NS):
            checks.append(_foreign(tag))
        name = tag.rpartition("}")[2]
        grouped.setdefault(name, []).append(_element_to_dict(child, foreign=checks))
        order.append(name)
    if not order:
        return (element.text or "").strip()
    elements = Elements((name, items[0] if len(items) == 1 else items) for name, items in grouped.items())
    elements.order = tuple(order)
    return elements


def _decode_json(raw: bytes) -> Document:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Undecodable(f"not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise Undecodable("a JSON request must be an object with Header and Body")
    version = data.pop("schemaVersion", SCHEMA_VERSION)
    flagged = _json_may_hold_non_xml_characters(raw) and holds_non_xml_characters(data)
    if problem := _version_problem(version):
        return Document("json", data, None, problem, None, flagged)
    return Document("json", data, version, None, None, flagged)


def _version_problem(version: Any) -> str | None:
    if not isinstance(version, str) or not version:
        return "the Request has no schemaVersion (a text attribute)"
    if len(version) > MAX_SCHEMA_VERSION_CHARS:
        return f"schemaVersion is longer than {MAX_SCHEMA_VERSION_CHARS} characters"
    return None


def encode(document: dict[str, Any], fmt: Format, root: str = "Response",
           schema_version: str = SCHEMA_VERSION) -> bytes:
    if fmt == "json":
        return orjson.dumps({"schemaVersion": schema_version, **_plain(document)})
    return XML_DECLARATION + canonical_xml(document, root, schema_version)


def canonical_xml(document: dict[str, Any], root: str = "Response",
                  schema_version: str = SCHEMA_VERSION) -> bytes:
    """The document's XML in its exclusive canonical form (what a signature's digest covers), so
    that one serialisation serves the record and the digest. Written directly: building an lxml
    tree and canonicalising it took twice as long on every answer; a test holds this to lxml's
    canonical form of the same tree."""
    parts = [f'<sr:{root} xmlns:sr="{NS}" schemaVersion="{schema_version.translate(_C14N_ATTRIBUTE)}">']
    _render(parts, document)
    parts.append(f"</sr:{root}>")
    text = "".join(parts)
    if found := _NOT_XML_CHAR.search(text):
        raise ValueError(f"XML cannot carry the character {found.group()!r}")
    return text.encode()


def _render(parts: list[str], value: dict[str, Any]) -> None:
    for name, item in value.items():
        for one in item if isinstance(item, list) else (item,):
            if one is None:
                continue
            parts.append(f"<sr:{name}>")
            if isinstance(one, dict):
                _render(parts, one)
            else:
                parts.append(_text(one).translate(_C14N_TEXT))
            parts.append(f"</sr:{name}>")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
