"""DUIS-shaped responses and where they go (shared or per-party topics)."""
import re
from datetime import datetime
from typing import Any

from shared import codes
from shared.duis import codec
from shared.kafka import Output
from shared.messages import ReplyTo
from shared.settings import Settings


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


def response(settings: Settings, reply: ReplyTo, code: str, now: datetime,
             body: dict[str, Any] | None = None, reason: str | None = None) -> Output:
    """The one response to a request, in the request's format, keyed by the originator."""
    document = {
        "Header": {
            "RequestID": reply.request_id,
            "ResponseID": response_id(settings, reply),
            "ResponseCode": code,
            "ResponseReason": reason or codes.meaning(code),
            "ResponseDateTime": now,
        },
        "Body": body or {},
    }
    return Output(
        topic=response_topic(settings, reply.originator),
        value=codec.encode(document, reply.format, "Response", reply.schema_version),
        key=reply.originator.encode(),
        headers=(("content-type", f"application/{reply.format}"),
                 ("request-id", reply.request_id), ("response-code", code)),
    )
