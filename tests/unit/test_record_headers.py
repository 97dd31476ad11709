"""Record headers are input too: one that cannot be read counts as absent, so the request is
still answered (its format then comes from its first byte)."""
from aiokafka.structs import ConsumerRecord

from shared import kafka
from shared.duis import codec


def record(headers) -> ConsumerRecord:
    return ConsumerRecord("smi.requests", 0, 0, 0, 0, None, b"{}", None, 2, 2, headers)


def test_a_header_with_a_null_value_counts_as_absent():
    assert kafka.header(record([("content-type", None)]), "content-type") is None


def test_a_header_that_is_not_utf8_is_read_with_replacements_and_other_names_are_unaffected():
    got = record([("Content-Type", b"application/\xffjson"), ("request-id", b"x")])
    assert kafka.header(got, "content-type") == "application/\ufffdjson"
    assert kafka.header(got, "request-id") == "x"


def test_an_unreadable_content_type_leaves_the_format_to_the_first_byte():
    content_type = kafka.header(record([("content-type", None)]), "content-type")
    assert codec.detect_format(b'{"Header": {}}', content_type) == "json"
    assert codec.detect_format(b"<Request/>", content_type) == "xml"
