"""The demonstration's hands on the platform: produce records, watch topics, call the APIs."""
import asyncio
import re
import time
from collections import Counter

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.duis import codec
from shared.settings import Settings


class Watcher:
    """Counts what the platform says, from the moment it starts: device events, responses by
    RequestID, alerts by party and code."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events = 0
        self.responses: dict[str, bytes] = {}
        self.alerts: Counter = Counter()
        self.dead_letters: list[str] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        topics = self.settings.topics
        self._consumer = AIOKafkaConsumer(
            topics.device_events, topics.responses, topics.alerts, topics.dead_letters,
            bootstrap_servers=self.settings.kafka_bootstrap_servers, isolation_level="read_committed",
            auto_offset_reset="latest", enable_auto_commit=False, fetch_max_wait_ms=50)
        await self._consumer.start()
        while not self._consumer.assignment():
            await asyncio.sleep(0.05)
        await self._consumer.seek_to_end()
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        topics = self.settings.topics
        while True:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for record in (r for part in batch.values() for r in part):
                if record.topic == topics.device_events:
                    self.events += 1
                elif record.topic == topics.responses:
                    request_id = dict(record.headers).get("request-id", b"").decode()
                    self.responses.setdefault(request_id, record.value)
                elif record.topic == topics.dead_letters:
                    self.dead_letters.append(dict(record.headers).get("dlq-reason", b"").decode()[:300])
                else:
                    code = alert_code(codec.read(record.value))
                    self.alerts[((record.key or b"").decode(), code)] += 1

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._consumer:
            await self._consumer.stop()

    def codes(self, request_ids) -> Counter:
        return Counter(codec.read(self.responses[r])["Header"]["ResponseCode"]
                       for r in request_ids if r in self.responses)


def alert_code(document: dict) -> str:
    """The DCCAlertCode of a DCC Alert: a DUIS `Response` whose Body is DCCAlertMessage."""
    message = (document.get("Body") or {}).get("DCCAlertMessage") or {}
    return str(message.get("DCCAlertCode", "?"))


async def produce(settings: Settings, records, progress=None) -> None:
    topics = {"requests": settings.topics.requests, "csp": settings.topics.csp_events,
              "inventory": settings.topics.inventory_commands}
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=20,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        for n, record in enumerate(records):
            await producer.send(topics[record.topic], record.value, key=record.key,
                                timestamp_ms=int(record.timestamp.timestamp() * 1000),
                                headers=[("content-type", record.content_type.encode())])
            if progress and n % 1000 == 999:
                progress(1000)
        await producer.flush()
    finally:
        await producer.stop()


async def wait_until(condition, timeout: float, what: str, poll: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done within {timeout:.0f} s")
        await asyncio.sleep(poll)


async def api(method: str, url: str, **kwargs):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        async with session.request(method, url, **kwargs) as response:
            body = await response.json(content_type=None)
            if response.status >= 400:
                raise RuntimeError(f"{method} {url}: {response.status} {body}")
            return body


async def metric_total(url: str, name: str) -> float:
    """The sum of a metric's samples on a service's /metrics page."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(url) as response:
            text = await response.text()
    pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", re.M)
    return sum(float(v) for v in pattern.findall(text))
