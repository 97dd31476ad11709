"""Test helpers over the real broker and database: isolated settings, a topic client,
services run in-process or as killable processes."""
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from deploy.local.readiness import service_ready
from shared.bootstrap import prepare
from shared.settings import REPO_ROOT, Settings, Topics

DCC = "90-B3-D5-1F-30-00-00-02"
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
SUPPLIER_2 = "90-B3-D5-1F-30-01-00-01"
CSP_NORTH = "90-B3-D5-1F-30-00-00-C1"


async def isolated_settings(bootstrap: str, database_url: str, **overrides) -> Settings:
    """Settings of a platform of its own: topics with a unique suffix and a fresh database."""
    suffix = uuid.uuid4().hex[:10]
    topics = Topics(**{k: f"{v}.{suffix}" for k, v in Topics().model_dump().items()})
    base, _, _ = database_url.rpartition("/")
    name = f"smi_test_{suffix}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
    settings = Settings(kafka_bootstrap_servers=bootstrap, database_url=f"{base}/{name}",
                        topics=topics, partitions=3, metrics_port=0, party_cache_seconds=0.2,
                        group_suffix=f".{suffix}",
                        **overrides)
    await prepare(bootstrap, settings.database_url, settings)
    return settings


async def drop_database(settings: Settings, admin_url: str) -> None:
    """Drop the test's database and delete its topics (every topic carrying its suffix)."""
    suffix = settings.topics.requests.rpartition(".")[2]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if suffix in t]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
    name = settings.database_url.rpartition("/")[2]
    conn = await asyncpg.connect(admin_url)
    try:
        for attempt in range(10):
            try:
                await conn.execute(f'drop database if exists "{name}" with (force)')
                return
            except asyncpg.InsufficientPrivilegeError:
                await asyncio.sleep(0.5)  # a superuser backend (autovacuum) is on it: wait
    finally:
        await conn.close()


def service_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a service process use these settings."""
    env = dict(os.environ)
    env.update({
        "SMI_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "SMI_DATABASE_URL": settings.database_url,
        "SMI_METRICS_PORT": "0",
        "SMI_PARTITIONS": str(settings.partitions),
        "SMI_REPLICATION_FACTOR": str(settings.replication_factor),
        "SMI_PARTY_CACHE_SECONDS": str(settings.party_cache_seconds),
        "SMI_LOG_FORMAT": "text",
        "SMI_GROUP_SUFFIX": settings.group_suffix,
        "SMI_INSTANCE_ID": settings.instance_id,
        "SMI_HTTP_PORT": str(settings.http_port),
        "SMI_INVENTORY_URL": settings.inventory_url,
    })
    env.update({f"SMI_TOPICS__{k.upper()}": v for k, v in settings.topics.model_dump().items()})
    return env


class Bus:
    """Produce to and read from the platform's topics, as a user or a test would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def send(self, topic: str, value: bytes, key: bytes | None = None,
                   headers: dict[str, str] | None = None, timestamp_ms: int | None = None) -> None:
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                              linger_ms=5, max_request_size=4 * 1024 * 1024)
            await self._producer.start()
        await self._producer.send(topic, value, key=key, timestamp_ms=timestamp_ms,
                                  headers=[(k, v.encode()) for k, v in (headers or {}).items()])

    async def flush(self) -> None:
        if self._producer:
            await self._producer.flush()

    async def close(self) -> None:
        if self._producer:
            await self._producer.stop()

    async def read(self, topic: str, count: int | None = None, timeout: float = 20.0,
                   until: Callable[[list[ConsumerRecord]], bool] | None = None,
                   settle: float = 0.0) -> list[ConsumerRecord]:
        """Every committed record of the topic from the start, once `count` are there (or
        `until` holds), then `settle` seconds more to catch any record that should not be."""
        await self.flush()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    isolation_level="read_committed", enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            records: list[ConsumerRecord] = []
            deadline = time.monotonic() + timeout
            settled_at = None
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                records += [r for part in batch.values() for r in part]
                done = (count is not None and len(records) >= count) or (until and until(records))
                if done and settled_at is None:
                    settled_at = time.monotonic() + settle
                if settled_at is not None and time.monotonic() >= settled_at:
                    break
            return sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))
        finally:
            await consumer.stop()


@contextlib.asynccontextmanager
async def running(serve, settings: Settings):
    """A service's `serve` run in this process until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        await asyncio.sleep(0.5)
        if task.done():
            task.result()
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_process(service: str, settings: Settings, log_path) -> subprocess.Popen:
    """A service as a real process, to be killed with SIGKILL; its `/ready` answers on
    `process.metrics_port` (see `wait_ready`)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{service}"], cwd=REPO_ROOT,
        env=service_env(settings) | {"SMI_METRICS_PORT": str(port)},
        stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
    )
    process.metrics_port = port
    return process


async def wait_ready(port: int, timeout: float = 180.0, process: subprocess.Popen | None = None) -> float:
    """Wait until the service on this metrics port answers `/ready` (what the local stack and the
    container health check wait on); returns the seconds it took. Fails at once if `process` exits."""
    started = time.monotonic()
    while True:
        ready, said = await asyncio.to_thread(service_ready, port)
        if ready:
            return time.monotonic() - started
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the service exited ({process.returncode}) before it was ready")
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not ready after {timeout:.0f} s: {said}")
        await asyncio.sleep(0.2)
