"""DUIS 5.4 responses and DCC Alerts, and where they go (shared or per-party topics).

A response is `Response` {Header {RequestID, ResponseID, ResponseCode, ResponseDateTime}, Body
{ResponseMessage {ServiceReference, ServiceReferenceVariant, payload?}}}; an alert is the same
root whose Body is `DCCAlertMessage`. XML answers are signed by the DCC (`shared.duis.signing`).
The human-readable reason is not part of the document: it is the record header `response-reason`.
"""
import re
from datetime import datetime
from typing import Any

from shared import codes
from shared.duis import codec, signing
from shared.duis.enums import SERVICE_REFERENCE_VARIANTS, service_reference
from shared.kafka import Output
from shared.messages import ReplyTo
from shared.settings import Settings

# A request naming no DUIS variant is answered as if it were Read Inventory: the Body must name
# one, and 8.2 is the served SR that changes nothing. Its code (E42) says what happened.
FALLBACK_VARIANT = "8.2"
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_EUI = "[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}"
_DUIS_REQUEST_ID = re.compile(f"{_EUI}:{_EUI}:(0|[1-9][0-9]{{0,19}})")
MAX_COUNTER = 2**64 - 1


def response_topic(settings: Settings, party: str) -> str:
    base = settings.topics.responses
    return f"{base}.{party}" if settings.topic_mode == "per-party" else base


def response_topics_pattern(settings: Settings) -> str | None:
    """In per-party mode, the pattern matching every party's response topic."""
    if settings.topic_mode != "per-party":
        return None
    return f"^{re.escape(settings.topics.responses)}\\.[0-9A-F]{{2}}(-[0-9A-F]{{2}}){{7}}$"


def per_party_topics(settings: Settings, parties: list[str]) -> list[str]:
    """The topics per-party mode needs for these parties (created with the others)."""
    if settings.topic_mode != "per-party":
        return []
    return [topic(settings, party) for party in parties for topic in (response_topic, alert_topic)]


def alert_topic(settings: Settings, party: str) -> str:
    base = settings.topics.alerts
    return f"{base}.{party}" if settings.topic_mode == "per-party" else base


def response_id(settings: Settings, reply: ReplyTo) -> str:
    """The DCC answers as the sender: DCC EUI, then the user's EUI, then the request's counter."""
    counter = reply.request_id.rsplit(":", 1)[-1]
    return f"{settings.dcc_eui}:{reply.originator}:{counter}"


def answer_variant(variant: object) -> str | None:
    """The request's ServiceReferenceVariant if DUIS 5.4 has it, else None."""
    text = str(variant).strip() if isinstance(variant, str | int | float) else ""
    return text if text in SERVICE_REFERENCE_VARIANTS else None


def schema_version(requested: str | None) -> str:
    """The request's schemaVersion where it is a decimal (as the XSD types it), else 5.4."""
    return requested if requested and _DECIMAL.fullmatch(requested) else codec.SCHEMA_VERSION


def is_duis_request_id(value: str) -> bool:
    """Whether the XSD's RequestIDType takes this text (an answer may echo only such a one)."""
    found = _DUIS_REQUEST_ID.fullmatch(value)
    return found is not None and int(found.group(1)) <= MAX_COUNTER


def response_document(settings: Settings, reply: ReplyTo, code: str, now: datetime,
                      payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """A RequestID the XSD does not take is left out of the document (both IDs are optional
    there); the record header `request-id` still carries it."""
    variant = reply.variant or FALLBACK_VARIANT
    echo = is_duis_request_id(reply.request_id)
    return {
        "Header": {
            "RequestID": reply.request_id if echo else None,
            "ResponseID": response_id(settings, reply) if echo else None,
            "ResponseCode": code,
            "ResponseDateTime": now,
        },
        "Body": {"ResponseMessage": {
            "ServiceReference": service_reference(variant),
            "ServiceReferenceVariant": variant,
            **(payload or {}),
        }},
    }


def response(settings: Settings, reply: ReplyTo, code: str, now: datetime,
             payload: dict[str, Any] | None = None, reason: str | None = None,
             extra_headers: tuple[tuple[str, str], ...] = ()) -> Output:
    """The one response to a request, in the request's format, keyed by the originator;
    `payload` is the SR's element(s) after ServiceReferenceVariant (e.g. DSPInventory)."""
    document = response_document(settings, reply, code, now, payload)
    return Output(
        topic=response_topic(settings, reply.originator),
        value=encode(settings, document, reply.format, schema_version(reply.schema_version)),
        key=reply.originator.encode(),
        headers=(("content-type", f"application/{reply.format}"),
                 ("request-id", reply.request_id), ("response-code", code),
                 ("response-reason", _header_text(reason or codes.meaning(code))), *extra_headers),
    )


def alert_document(alert_code: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A DCC Alert: no RequestID (it answers none), ResponseCode I0, Body DCCAlertMessage."""
    return {
        "Header": {"ResponseCode": "I0", "ResponseDateTime": now},
        "Body": {"DCCAlertMessage": {"DCCAlertCode": alert_code, "DCCAlert": payload}},
    }


def alert(settings: Settings, party: str, fmt: codec.Format, alert_code: str,
          payload: dict[str, Any], now: datetime) -> Output:
    """A DCC Alert for a party, keyed by the party's EUI, in the format it is configured for."""
    return Output(
        topic=alert_topic(settings, party),
        value=encode(settings, alert_document(alert_code, payload, now), fmt),
        key=party.encode(),
        headers=(("content-type", f"application/{fmt}"), ("alert-code", alert_code)),
    )


def encode(settings: Settings, document: dict[str, Any], fmt: codec.Format,
           version: str = codec.SCHEMA_VERSION) -> bytes:
    """A Response document as bytes; XML signed with the DCC's key."""
    if fmt == "xml":
        return signing.signer(settings).sign_canonical(codec.canonical_xml(document, "Response", version))
    return codec.encode(document, fmt, "Response", version)


def _header_text(reason: str) -> str:
    # A record header is not limited, but a reason quoting a hostile request could be large.
    return reason[:1000]
