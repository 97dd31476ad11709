"""Send the workload phase by phase, waiting between phases for what the next one relies on."""
import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from services.housekeeping.config import app_id
from shared.settings import Settings
from tests.reliability.encoding import alert, encode, header
from tests.reliability.model import Expected, request_id
from tests.reliability.workload import Phase, Workload

log = logging.getLogger(__name__)
SEND_SECONDS = 20.0  # by default the inputs are spread over at least this long, so that faults meet a load


class Observer:
    """Tails the platform's outputs (read_committed) while the workload runs, to know when a
    phase is done. The verdict is not taken from here but from a fresh read at the end."""

    def __init__(self, settings: Settings) -> None:
        t = settings.topics
        self.settings = settings
        self.consumer = AIOKafkaConsumer(t.responses, t.alerts, t.device_events,
                                         bootstrap_servers=settings.kafka_bootstrap_servers,
                                         isolation_level="read_committed", enable_auto_commit=False,
                                         auto_offset_reset="earliest")
        self.answers: Counter[str] = Counter()
        self.alerted: set[str] = set()
        self.added: set[str] = set()
        self.event_ends: dict[int, int] = {}  # device-events partition -> last record offset + 1
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._tail())

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()

    async def _tail(self) -> None:
        t = self.settings.topics
        while True:
            try:
                batch = await self.consumer.getmany(timeout_ms=500)
            except KafkaError as error:
                log.info("observer: %r", error)
                await asyncio.sleep(1)
                continue
            for tp, records in batch.items():
                for r in records:
                    if tp.topic == t.responses:
                        self.answers[header(r, "request-id")] += 1
                    elif tp.topic == t.alerts:
                        self.alerted.add(alert(r.value)[1])
                    else:
                        self.added.add(r.key.decode())
                        self.event_ends[tp.partition] = r.offset + 1


class Driver:
    def __init__(self, settings: Settings, workload: Workload, expected: Expected,
                 observer: Observer, wait_seconds: float,
                 before_phase: Callable[[str], Awaitable[None]] | None = None,
                 spread: float = SEND_SECONDS) -> None:
        self.settings, self.workload, self.expected = settings, workload, expected
        self.before_phase = before_phase
        self.observer, self.wait_seconds = observer, wait_seconds
        self.sent: Counter[str] = Counter()
        self.records_sent = 0
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                         enable_idempotence=True, linger_ms=5,
                                         request_timeout_ms=300_000, max_batch_size=256 * 1024)
        self.timeouts: list[str] = []
        self.sending = asyncio.Event()  # set once the services have answered a first input
        self.pace = spread / max(1, len(workload.steps()))

    async def run(self) -> None:
        await self.producer.start()
        try:
            for phase in self.workload.phases:
                if self.before_phase:
                    await self.before_phase(phase.name)
                await self._send(phase)
                for condition in phase.then:
                    await self._wait(phase, condition)
        finally:
            await self.producer.stop()

    async def _send(self, phase: Phase) -> None:
        pending = []
        for step in phase.steps:
            record = encode(step)
            if step.kind == "sr":
                self.sent[request_id(step)] += 1
            pending.append(await self.producer.send(
                getattr(self.settings.topics, record.topic), record.value, key=record.key,
                headers=[(k, v.encode()) for k, v in record.headers.items()],
                timestamp_ms=record.timestamp_ms))
            if len(pending) % 50 == 0:
                await asyncio.sleep(self.pace * 50)
                if self.observer.answers:
                    self.sending.set()
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        self.records_sent += len(phase.steps)
        log.info("phase %s: %d inputs sent", phase.name, len(phase.steps))

    async def _wait(self, phase: Phase, condition: str) -> None:
        check = getattr(self, f"_{condition}")
        deadline = time.monotonic() + self.wait_seconds
        while not await check():
            if time.monotonic() > deadline:
                self.timeouts.append(f"{phase.name}: {condition}")
                log.warning("phase %s: %s not reached in %.0fs", phase.name, condition, self.wait_seconds)
                return
            await asyncio.sleep(0.5)
        self.sending.set()

    async def _answered(self) -> bool:
        return all(self.observer.answers[rid] >= n for rid, n in self.sent.items())

    async def _hubs_added(self) -> bool:
        hubs = {s.data[k] for s in self.workload.steps() if s.kind == "delivered" for k in ("chf_id", "gpf_id")}
        return hubs <= self.observer.added

    async def _n8_alerted(self) -> bool:
        return self.expected.n8.keys() <= self.observer.alerted

    async def _housekeeping_caught_up(self) -> bool:
        """Housekeeping has taken in every device event so far (its committed offsets)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    group_id=app_id(self.settings), enable_auto_commit=False)
        try:
            await consumer.start()
            topic = self.settings.topics.device_events
            for partition, end in self.observer.event_ends.items():
                if (await consumer.committed(TopicPartition(topic, partition)) or 0) < end:
                    return False
            return True
        except KafkaError:
            return False
        finally:
            await consumer.stop()
