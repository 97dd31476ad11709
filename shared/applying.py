"""How intake and inventory's API exchange the changes intake applies in its own hop
(`services.inventory.applied`): a request per change, named by its place on the requests topic,
and what each produced, as outputs for intake to publish."""
import base64

import orjson
from aiokafka.structs import ConsumerRecord

from shared.kafka import Output


def encode_requests(changes: list[tuple[ConsumerRecord, Output]]) -> bytes:
    """Each change as its request's record and the command intake would route."""
    return orjson.dumps({"requests": [
        {"partition": r.partition, "offset": r.offset, "timestamp": r.timestamp,
         "key": command.key.decode(), "command": orjson.Fragment(command.value)}
        for r, command in changes]})


def decode_requests(requests_topic: str, body: bytes) -> list[tuple[ConsumerRecord, str]]:
    """What `encode_requests` wrote, each as the record it was on the requests topic (its value
    the command), with its RequestID. Raises ValueError when it is not that."""
    try:
        return [(_record(requests_topic, r["partition"], r["offset"], r["timestamp"], r["key"],
                         orjson.dumps(r["command"])), str(r["command"]["reply"]["request_id"]))
                for r in orjson.loads(body)["requests"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"give {{\"requests\": [{{partition, offset, timestamp, key, command}}]}}: "
                         f"{error!r}") from None


def _record(topic: str, partition: int, offset: int, timestamp: int, key: str, value: bytes) -> ConsumerRecord:
    if not all(type(n) is int for n in (partition, offset, timestamp)) or not isinstance(key, str):
        raise TypeError("partition, offset and timestamp are integers, key is text")
    return ConsumerRecord(topic=topic, partition=partition, offset=offset, timestamp=timestamp,
                          timestamp_type=0, key=key.encode(), value=value, checksum=None,
                          serialized_key_size=len(key), serialized_value_size=len(value), headers=[])


def encode_outputs(produced: list[list[Output]]) -> bytes:
    return orjson.dumps({"outputs": [[_output(o) for o in outputs] for outputs in produced]})


def _output(o: Output) -> dict:
    return {"topic": o.topic, "key": o.key.decode() if o.key is not None else None,
            "value": base64.b64encode(o.value).decode(), "headers": o.headers}


def decode_outputs(body: bytes) -> list[list[Output]]:
    """What `encode_outputs` wrote, as outputs again. Raises ValueError when it is not that."""
    try:
        return [[Output(o["topic"], base64.b64decode(o["value"], validate=True),
                        o["key"].encode() if o["key"] is not None else None,
                        tuple((k, v) for k, v in o["headers"])) for o in outputs]
                for outputs in orjson.loads(body)["outputs"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"not what inventory's API answers to applied requests: {error!r}") from None
