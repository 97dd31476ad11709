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

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
    huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False,
)
_XML_TYPES = {"application/xml", "text/xml"}
_JSON_TYPES = {"application/json"}
_REQUEST_ID_IN_XML = re.compile(rb"<(?:[\w.-]+:)?RequestID>\s*([^<\s]{1,200})\s*</")
_REQUEST_ID_IN_JSON = re.compile(rb'"RequestID"\s*:\s*"([^"\\]{1,200})"')


class Undecodable(ValueError):
    """Not a document whose RequestID can be found: the input goes to the dead letters."""


@dataclass(frozen=True)
class Document:
    format: Format
    data: dict[str, Any]
    schema_version: str | None
    envelope_error: str | None = None
    signature: etree._Element | None = None

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
    return document


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
    signature, problems = None, []
    if etree.QName(root).localname != "Request":
        problems.append(f"root element is {etree.QName(root).localname}, not Request")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element)
        if name.namespace == DSIG_NS and name.localname == "Signature" and element.getparent() is root:
            signature = element
        elif name.namespace != NS and not _inside(element, signature):
            problems.append(f"element {name.localname} is in namespace {name.namespace!r}, not {NS}")
    version = root.get("schemaVersion")
    if not version:
        problems.append("the Request has no schemaVersion attribute")
    data = _element_to_dict(root, skip=signature)
    if not isinstance(data, dict):
        raise Undecodable("the root element has no children")
    return Document("xml", data, version, problems[0] if problems else None, signature)


def _inside(element: etree._Element, ancestor: etree._Element | None) -> bool:
    return ancestor is not None and any(a is ancestor for a in element.iterancestors())


def _element_to_dict(element: etree._Element, skip: etree._Element | None = None) -> Any:
    children = [c for c in element if isinstance(c.tag, str) and c is not skip]
    if not children:
        return (element.text or "").strip()
    grouped: dict[str, list[Any]] = {}
    for child in children:
        grouped.setdefault(etree.QName(child).localname, []).append(_element_to_dict(child))
    return {name: items[0] if len(items) == 1 else items for name, items in grouped.items()}


def _decode_json(raw: bytes) -> Document:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Undecodable(f"not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise Undecodable("a JSON request must be an object with Header and Body")
    version = data.pop("schemaVersion", SCHEMA_VERSION)
    return Document("json", data, str(version), None, None)


def encode(document: dict[str, Any], fmt: Format, root: str = "Response",
           schema_version: str = SCHEMA_VERSION) -> bytes:
    if fmt == "json":
        return orjson.dumps({"schemaVersion": schema_version, **_plain(document)})
    element = etree.Element(f"{{{NS}}}{root}", nsmap={"sr": NS})
    element.set("schemaVersion", schema_version)
    _fill(element, document)
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


def _fill(parent: etree._Element, value: Any) -> None:
    for name, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            if one is None:
                continue
            child = etree.SubElement(parent, f"{{{NS}}}{name}")
            if isinstance(one, dict):
                _fill(child, one)
            else:
                child.text = _text(one)


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
