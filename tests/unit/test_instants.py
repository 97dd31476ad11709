"""The one rule for instants: text carries its UTC offset; a record's timestamp is UTC."""
from datetime import datetime, timezone

import pytest
from aiokafka.structs import ConsumerRecord

from shared.instants import parse_instant, record_time


def test_an_instant_with_an_offset_is_read_as_utc():
    assert parse_instant("2025-01-31T01:00:00+01:00") == datetime(2025, 1, 31, tzinfo=timezone.utc)
    assert parse_instant("2025-01-31T00:00:00Z").tzinfo == timezone.utc


@pytest.mark.parametrize("text", ["2025-01-31T00:00:00", "2025-01-31", None, 20250131])
def test_an_instant_without_an_offset_is_refused_not_taken_for_utc(text):
    with pytest.raises(ValueError):
        parse_instant(text)


def test_a_records_time_is_its_timestamp_in_utc():
    record = ConsumerRecord("t", 0, 0, 1_700_000_000_000, 0, None, b"", None, 0, 0, [])
    assert record_time(record) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
