"""The exchange between intake and inventory's API for changes applied in intake's hop."""
import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from shared import applying
from shared.kafka import Output

COMMAND = b'{"type":"HandleServiceRequest","reply":{"request_id":"A:B:1"},"variant":"8.4","body":{}}'


def _request(partition: int = 3, offset: int = 41) -> ConsumerRecord:
    return ConsumerRecord("smi.requests", partition, offset, 1_700_000_000_123, 0, b"k", b"<xml/>", None, 1, 6, [])


def test_a_change_arrives_as_the_record_it_was_on_the_requests_topic_with_the_command_as_its_value():
    body = applying.encode_requests([(_request(), Output("smi.internal.inventory-commands", COMMAND, b"00-DB"))])
    [(record, request_id)] = applying.decode_requests("smi.requests", body)
    assert (record.topic, record.partition, record.offset, record.timestamp) == ("smi.requests", 3, 41, 1_700_000_000_123)
    assert (record.key, orjson.loads(record.value), request_id) == (b"00-DB", orjson.loads(COMMAND), "A:B:1")


def test_outputs_come_back_byte_for_byte_keyless_ones_too():
    produced = [[Output("smi.responses", b"\x00\xffsigned<xml/>", b"90-B3", (("request-id", "A:B:1"),)),
                 Output("smi.internal.device-events", b"{}", None)], []]
    assert applying.decode_outputs(applying.encode_outputs(produced)) == produced


@pytest.mark.parametrize("body", [b"", b"[]", b'{"requests": [{}]}', b'{"requests": [{"partition": "3", "offset": 1, '
                                  b'"timestamp": 1, "key": "k", "command": {"reply": {"request_id": "x"}}}]}',
                                  b'{"requests": [{"partition": 3, "offset": 1, "timestamp": 1, "key": "k", '
                                  b'"command": []}]}'])
def test_a_body_that_is_not_a_list_of_changes_is_refused_with_the_reason(body):
    with pytest.raises(ValueError, match="requests"):
        applying.decode_requests("smi.requests", body)


@pytest.mark.parametrize("body", [b"", b'{"outputs": [[{"topic": "t"}]]}',
                                  b'{"outputs": [[{"topic": "t", "key": null, "value": "%%%", "headers": []}]]}'])
def test_an_answer_that_is_not_outputs_is_refused(body):
    with pytest.raises(ValueError):
        applying.decode_outputs(body)
