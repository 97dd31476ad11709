"""Instants: the one rule for reading them, and the time of a Kafka record.

The rule: an instant given as text (a query parameter, a command line option, a work message)
must carry its UTC offset, and is read as the UTC instant it names. Text without an offset is
refused rather than guessed at: a local time taken for UTC would move a report or a housekeeping
run by hours without anyone noticing. UTC is assumed in one place only: a Kafka record's
timestamp, which is milliseconds since the epoch and so has no offset to carry.
"""
from datetime import datetime, timezone

from aiokafka.structs import ConsumerRecord

OFFSET_REQUIRED = "an instant must carry a UTC offset (e.g. 2025-01-31T00:00:00Z)"


def utc_instant(value: datetime) -> datetime:
    """An aware datetime, in UTC; a naive one is refused (ValueError)."""
    if value.tzinfo is None:
        raise ValueError(OFFSET_REQUIRED)
    return value.astimezone(timezone.utc)


def parse_instant(text: object) -> datetime:
    """ISO-8601 text with an offset, as a UTC datetime; anything else is refused (ValueError)."""
    if not isinstance(text, str):
        raise ValueError(f"an ISO-8601 instant is required: {OFFSET_REQUIRED}")
    return utc_instant(datetime.fromisoformat(text))


def record_time(record: ConsumerRecord) -> datetime:
    """When the record was written to its topic (its timestamp is milliseconds since the epoch)."""
    return datetime.fromtimestamp(record.timestamp / 1000, timezone.utc)
