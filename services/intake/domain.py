"""Intake's rules: is this a well-formed, served, authorised Service Request? Pure, no I/O.

The checks run in the order a reader would: envelope, RequestID, originator, header, role, body.
Each failure is one response code (`shared/codes.py`).
"""
import re
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from shared.duis import codec, errors
from shared.duis.catalogue import SERVICE_REQUESTS, ServiceRequestSpec
from shared.duis.codec import Document
from shared.duis.models import IN_DOCUMENT_ORDER
from shared.eui import canonical_eui, is_eui
from shared.outcomes import Refused
from shared.parties import Party

# The request Header of the DUIS 5.4 XSD, in its order. FirstInSequence and
# PrecedingServiceRequestID sequence device commands; accepted here and not acted on.
HEADER_FIELDS = ("RequestID", "FirstInSequence", "PrecedingServiceRequestID", "CommandVariant",
                 "ServiceReference", "ServiceReferenceVariant")
REQUIRED_HEADER_FIELDS = ("RequestID", "CommandVariant", "ServiceReference", "ServiceReferenceVariant")
_XS_BOOLEAN = frozenset({"true", "false", "1", "0"})
_EUI_PART = "[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}"
_REQUEST_ID_TYPE = re.compile(f"{_EUI_PART}:{_EUI_PART}:(0|[1-9][0-9]{{0,19}})")
_COUNTER = re.compile(r"-?[0-9]{1,40}")
MAX_COUNTER = 2**64 - 1


@dataclass(frozen=True)
class RequestId:
    originator: str
    target: str
    counter: int

    @property
    def canonical(self) -> str:
        return f"{self.originator}:{self.target}:{self.counter}"


@dataclass(frozen=True)
class Accepted:
    request_id: RequestId
    spec: ServiceRequestSpec
    body: BaseModel
    party: Party


def parse_request_id(value: str, dcc_eui: str) -> RequestId:
    parts = value.split(":")
    if len(parts) != 3 or not is_eui(parts[0]) or not is_eui(parts[1]):
        raise Refused("E3", f"RequestID {value!r:.80} is not originator:target:counter")
    if not _COUNTER.fullmatch(parts[2]):
        raise Refused("E3", f"RequestID counter {parts[2]!r:.60} is not a decimal number")
    counter = int(parts[2])
    if not 0 <= counter <= MAX_COUNTER:
        raise Refused("E4", f"RequestID counter {parts[2]:.60} is outside 0..2^64-1")
    target = canonical_eui(parts[1])
    if target != canonical_eui(dcc_eui):
        raise Refused("E5", f"RequestID target {target} is not the DCC ({dcc_eui})")
    return RequestId(canonical_eui(parts[0]), target, counter)


def check_envelope(document: Document, dcc_eui: str) -> RequestId:
    if document.envelope_error:
        raise Refused("E2", document.envelope_error)
    request_id = parse_request_id(document.request_id, dcc_eui)
    if document.non_xml_characters:
        # Refused before anything is stored: PostgreSQL text cannot hold NUL, XML no control character.
        raise Refused("E13", "the request holds control characters, which a DUIS document cannot carry")
    return request_id


def check_originator(party: Party | None, request_id: RequestId) -> Party:
    if party is None or party.kind != "service_user":
        raise Refused("E20", f"originator {request_id.originator} is not a DCC User in the registry")
    return party


def check_header(header: dict, in_document_order: bool = False) -> ServiceRequestSpec:
    """`in_document_order`: the header's elements must come in the XSD's order (XML)."""
    unknown = sorted(set(header) - set(HEADER_FIELDS))
    if unknown:
        raise Refused("E48", f"Header/{unknown[0]} is not a DUIS request header element")
    if in_document_order:
        _check_header_order(codec.document_order(header))
    for name in REQUIRED_HEADER_FIELDS:
        if header.get(name) in ("", None):
            raise Refused("E44", f"Header/{name} is missing")
        if not isinstance(header[name], str | int) or isinstance(header[name], bool):
            raise Refused("E13", f"Header/{name} must be a single text value, not {type(header[name]).__name__}")
    _check_sequencing(header)
    if str(header["CommandVariant"]).strip() != "8":
        raise Refused("E40", f"CommandVariant {header['CommandVariant']!r:.20} given; these requests take 8")
    variant = str(header["ServiceReferenceVariant"]).strip()
    spec = SERVICE_REQUESTS.get(variant)
    if spec is None:
        raise Refused("E42", f"Service Reference Variant {variant!r:.20} is not served here")
    if str(header["ServiceReference"]).strip() != spec.reference:
        raise Refused("E41", f"ServiceReference {header['ServiceReference']!r:.20} does not match "
                              f"ServiceReferenceVariant {variant} (expected {spec.reference})")
    return spec


def _check_header_order(names: list[str]) -> None:
    for before, after in zip(names, names[1:]):
        if HEADER_FIELDS.index(after) < HEADER_FIELDS.index(before):
            raise Refused("E48", f"Header/{after} comes after {before}; the DUIS order is "
                                   f"{', '.join(HEADER_FIELDS)}")


def _check_sequencing(header: dict) -> None:
    """The optional FirstInSequence (xs:boolean) and PrecedingServiceRequestID (a RequestID)."""
    first = header.get("FirstInSequence")
    if first is not None and not isinstance(first, bool) \
            and not (isinstance(first, str) and first.strip() in _XS_BOOLEAN):
        raise Refused("E13", f"Header/FirstInSequence {first!r:.30} is not an xs:boolean: true, false, 1 or 0")
    preceding = header.get("PrecedingServiceRequestID")
    if preceding is not None and not (isinstance(preceding, str) and _is_request_id(preceding.strip())):
        raise Refused("E13", f"Header/PrecedingServiceRequestID {preceding!r:.90} is not a RequestID "
                               "(originator:target:counter, counter 0 to 2^64-1)")


def _is_request_id(value: str) -> bool:
    found = _REQUEST_ID_TYPE.fullmatch(value)
    return found is not None and int(found.group(1)) <= MAX_COUNTER


def check_role(party: Party, spec: ServiceRequestSpec) -> None:
    if not party.roles & spec.roles:
        raise Refused("E21", f"roles {', '.join(sorted(party.roles)) or 'none'} may not send "
                               f"{spec.variant} {spec.name} (needs one of {', '.join(sorted(spec.roles))})")


def check_body(body: object, spec: ServiceRequestSpec, in_document_order: bool = False) -> BaseModel:
    """`in_document_order`: the body's elements must come in the XSD's order (XML)."""
    if not isinstance(body, dict) or list(body) != [spec.element]:
        given = ", ".join(body) if isinstance(body, dict) else type(body).__name__
        raise Refused("E43", f"Body must hold exactly {spec.element} for {spec.variant}; got {given or 'nothing'}")
    content = body[spec.element]
    if isinstance(content, list):
        raise Refused("E43", f"Body holds {len(content)} {spec.element} elements; exactly one is allowed")
    try:
        return spec.model.model_validate(content if content != "" else {},
                                         context=IN_DOCUMENT_ORDER if in_document_order else None)
    except ValidationError as error:
        raise Refused(*errors.code_for(error, spec.element)) from None


def evaluate(document: Document, request_id: RequestId, party: Party | None) -> Accepted:
    """Everything after the RequestID: originator, header, role, body (raises Refused)."""
    party = check_originator(party, request_id)
    # JSON objects carry no order a client could be held to; XML sequences do.
    ordered = document.format == "xml"
    if ordered and list(document.data)[:2] == ["Body", "Header"]:
        raise Refused("E48", "Body comes before Header; the DUIS order is Header, Body")
    spec = check_header(document.data["Header"], ordered)
    check_role(party, spec)
    return Accepted(request_id, spec, check_body(document.data.get("Body"), spec, ordered), party)
