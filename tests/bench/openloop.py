"""Open-loop load at a fixed rate, measured without coordinated omission.

Request i is due at start + i / rate whatever happened to the requests before it, and its latency
runs from that due time, not from when it was actually sent: a stall in the generator, the client
or the services counts against every request it held back instead of silently thinning the load.
"""
import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from tests.bench.workload import Record


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least a fraction q of the values at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = math.ceil(round(q * len(ordered), 9))  # round: 0.99 * 30000 is not exactly 29700 in floats
    return ordered[min(len(ordered), max(rank, 1)) - 1]


@dataclass(frozen=True)
class Schedule:
    start: float  # time.perf_counter() seconds
    rate: float  # requests per second

    def due(self, index: int) -> float:
        return self.start + index / self.rate


@dataclass
class LatencyBook:
    """When each request was due, sent and first answered (time.perf_counter() seconds)."""
    due: dict[str, float] = field(default_factory=dict)
    sent: dict[str, float] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)
    codes: dict[str, str | None] = field(default_factory=dict)
    duplicates: int = 0

    def record_send(self, request_id: str, due: float, at: float) -> None:
        self.due[request_id], self.sent[request_id] = due, at

    def record_answer(self, request_id: str, at: float, code: str | None = None) -> None:
        if request_id not in self.due:
            return  # an answer to something this load did not send
        if request_id in self.answered:
            self.duplicates += 1
            return
        self.answered[request_id], self.codes[request_id] = at, code

    def latencies(self, ids: Sequence[str]) -> list[float]:
        return [self.answered[r] - self.due[r] for r in ids if r in self.answered]

    def unanswered(self, ids: Sequence[str]) -> list[str]:
        return [r for r in ids if r not in self.answered]

    def not_accepted(self, ids: Sequence[str], accepted: str = "I0") -> list[str]:
        return [r for r in ids if r in self.answered and self.codes[r] != accepted]

    def achieved_rate(self, ids: Sequence[str]) -> float:
        """Requests per second actually offered, from the first one's due time to the last send."""
        if len(ids) < 2:
            return 0.0
        return (len(ids) - 1) / (self.sent[ids[-1]] - self.due[ids[0]])

    def answer_rate(self, ids: Sequence[str]) -> float:
        """Answers per second, from the first request's due time to the last answer: below the
        offered rate, the services could not keep up and a queue built."""
        answered = [self.answered[r] for r in ids if r in self.answered]
        if not answered:
            return 0.0
        return len(answered) / (max(answered) - self.due[ids[0]])

    def worst_send_lag(self, ids: Sequence[str]) -> float:
        return max((self.sent[r] - self.due[r] for r in ids), default=0.0)


async def send_on_schedule(producer: AIOKafkaProducer, topic: str, records: Sequence[Record],
                           schedule: Schedule, book: LatencyBook) -> None:
    for index, record in enumerate(records):
        due = schedule.due(index)
        delay = due - time.perf_counter()
        # Behind schedule, still yield once so the reader's arrival times are not held back.
        await asyncio.sleep(max(delay, 0.0))
        book.record_send(record.request_id, due, time.perf_counter())
        await producer.send(topic, record.value, key=record.key, headers=record.headers)
    await producer.flush()


def response_identity(record: ConsumerRecord) -> tuple[str, str | None]:
    """RequestID and ResponseCode of a response, from the headers every response carries."""
    headers = {k: v.decode() for k, v in record.headers}
    return headers["request-id"], headers.get("response-code")


async def consumer_at_end(bootstrap: str, topics: list[str]) -> AIOKafkaConsumer:
    """A consumer of committed records that will see only what is written from now on."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False)
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    partitions = list(consumer.assignment())
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    return consumer


async def collect_answers(consumer: AIOKafkaConsumer, book: LatencyBook,
                          identify: Callable[[ConsumerRecord], tuple[str, str | None]] = response_identity) -> None:
    """Note each answer's arrival until cancelled."""
    while True:
        batch = await consumer.getmany(timeout_ms=50)
        now = time.perf_counter()
        for record in (r for part in batch.values() for r in part):
            request_id, code = identify(record)
            book.record_answer(request_id, now, code)


@contextlib.asynccontextmanager
async def reading_answers(bootstrap: str, topics: list[str], book: LatencyBook,
                          identify: Callable[[ConsumerRecord], tuple[str, str | None]] = response_identity):
    """Answers written to the topics from now on are booked while the block runs."""
    consumer = await consumer_at_end(bootstrap, topics)
    reader = asyncio.create_task(collect_answers(consumer, book, identify))
    try:
        yield
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await consumer.stop()


async def wait_answered(book: LatencyBook, ids: Sequence[str], timeout: float) -> None:
    """Until every request has its answer or `timeout` passes; the unanswered are left to count."""
    deadline = time.perf_counter() + timeout
    while book.unanswered(ids):
        if time.perf_counter() > deadline:
            return
        await asyncio.sleep(0.05)


async def offer(bootstrap: str, topic: str, records: Sequence[Record], rate: float, answer_topics: list[str],
                answer_timeout: float,
                identify: Callable[[ConsumerRecord], tuple[str, str | None]] = response_identity) -> LatencyBook:
    """Offer the records at `rate` from now and book their answers, waiting up to `answer_timeout`
    after the last send; what is still unanswered then is left in the book to count."""
    book = LatencyBook()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    try:
        async with reading_answers(bootstrap, answer_topics, book, identify):
            await send_on_schedule(producer, topic, records, Schedule(time.perf_counter() + 0.1, rate), book)
            await wait_answered(book, [r.request_id for r in records], answer_timeout)
    finally:
        await producer.stop()
    return book
