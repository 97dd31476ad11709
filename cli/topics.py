"""The CLI's Kafka side: send requests and wait for their responses, read alerts."""
import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.kafka import client_options
from shared.settings import Settings


async def _consumer(settings: Settings, topics: list[str], from_beginning: bool) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(*topics, **client_options(settings),
                                isolation_level="read_committed", enable_auto_commit=False,
                                auto_offset_reset="earliest" if from_beginning else "latest")
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.05)
    if not from_beginning:
        await consumer.seek_to_end()
    for tp in consumer.assignment():
        await consumer.position(tp)  # fixes the starting point before anything is sent
    return consumer


@dataclass(frozen=True)
class Answer:
    """A response as the CLI got it: the DUIS document and the record headers around it."""
    value: bytes
    headers: dict[str, str]

    @property
    def reason(self) -> str | None:
        """The human-readable reason, which DUIS 5.4 keeps out of the document."""
        return self.headers.get("response-reason")


def record_headers(record) -> dict[str, str]:
    return {name: (value or b"").decode("utf-8", "replace") for name, value in record.headers or ()}


async def exchange(settings: Settings, requests: list[tuple[str, bytes, str]], response_topics: list[str],
                   timeout: float, progress=None) -> dict[str, Answer]:
    """Send (request id, bytes, content-type) to the request topic; return the responses seen
    within `timeout`, by RequestID."""
    consumer = await _consumer(settings, response_topics, from_beginning=False)
    producer = AIOKafkaProducer(**client_options(settings), linger_ms=10,
                                max_request_size=4 * 1024 * 1024)
    await producer.start()
    wanted = {request_id for request_id, _, _ in requests}
    answers: dict[str, Answer] = {}
    try:
        for request_id, value, content_type in requests:
            key = request_id.split(":")[0].encode()
            await producer.send(settings.topics.requests, value, key=key,
                                headers=[("content-type", content_type.encode())])
        await producer.flush()
        deadline = time.monotonic() + timeout
        while wanted - answers.keys() and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for record in (r for part in batch.values() for r in part):
                headers = record_headers(record)
                request_id = headers.get("request-id", "")
                if request_id in wanted and request_id not in answers:
                    answers[request_id] = Answer(record.value, headers)
                    if progress:
                        progress()
    finally:
        await producer.stop()
        await consumer.stop()
    return answers


async def follow(settings: Settings, topics: list[str], from_beginning: bool,
                 idle_stop: float | None) -> AsyncIterator:
    """Records of the topics as they come; stops after `idle_stop` quiet seconds (None: never)."""
    consumer = await _consumer(settings, topics, from_beginning)
    quiet_since = time.monotonic()
    try:
        while idle_stop is None or time.monotonic() - quiet_since < idle_stop:
            batch = await consumer.getmany(timeout_ms=200)
            for record in (r for part in batch.values() for r in part):
                quiet_since = time.monotonic()
                yield record
    finally:
        await consumer.stop()
