import asyncio
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from deploy.local import services, stack
from deploy.local.layout import Layout
from deploy.local.processes import port_in_use, stop_pid_file
from deploy.local.readiness import service_ready
from shared.bootstrap import prepare
from shared.settings import Settings
from tests.conftest import unavailable

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port(pair: bool = False) -> int:
    """A free loopback port; with pair, the next one is free too (Kafka's controller)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not pair:
            return port
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue


async def test_kafka_answers_metadata_requests(kafka_bootstrap):
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert isinstance(await admin.list_topics(), list)
    finally:
        await admin.close()


async def test_postgres_answers_queries(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("select 1") == 1
    finally:
        await conn.close()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def ensure(layout: Layout) -> tuple[str, str]:
    return stack.ensure_infrastructure(layout.root, layout.kafka_port, layout.pg_port)


def cli(layout: Layout, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "deploy.local.stack", *args, "--stack-dir", str(layout.root)],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def lifecycle():
    """A stack of its own, apart from the one behind the shared fixtures, on free ports."""
    layout = Layout(Path(tempfile.mkdtemp(prefix="smi-stack-lifecycle-")), free_port(pair=True), free_port())
    try:
        yield layout
    finally:
        stack.clean(layout.root)


@pytest.fixture
def started(lifecycle):
    try:
        ensure(lifecycle)
    except Exception as exc:
        unavailable(f"the local stack did not start: {exc}")
    return stack.status(lifecycle.root)


def test_up_twice_leaves_running_processes_alone(lifecycle, started):
    assert started["kafka"] and started["postgres"]
    assert ensure(lifecycle) == (lifecycle.bootstrap, lifecycle.database_url)
    assert stack.status(lifecycle.root) == started
    status = cli(lifecycle, "status")
    assert f"pid {started['kafka']}" in status and f"pid {started['postgres']}" in status
    assert f"export DATABASE_URL={lifecycle.database_url}" in cli(lifecycle, "env")


def test_the_broker_runs_with_kafkas_own_collector_settings_and_logs_its_pauses(lifecycle, started):
    arguments = set(Path(f"/proc/{started['kafka']}/cmdline").read_text().split("\0"))
    assert {"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent"} <= arguments
    assert "Using G1" in (lifecycle.kafka_nodes[0].logs / "gc.log").read_text()


async def test_down_stops_exactly_its_processes_and_keeps_data(lifecycle, started):
    others = {pid for pid in stack.status(REPO_ROOT / ".stack-test").values() if pid}
    conn = await asyncpg.connect(lifecycle.database_url)
    await conn.execute("create table if not exists survives_restart (id int)")
    await conn.close()

    stopped = stack.stop_all(lifecycle.root)

    assert stopped == {name: pid for name, pid in started.items() if pid}
    assert not any(alive(pid) for pid in stopped.values())
    assert all(alive(pid) for pid in others)
    assert not any(stack.status(lifecycle.root).values())

    ensure(lifecycle)
    conn = await asyncpg.connect(lifecycle.database_url)
    try:
        assert await conn.fetchval("select to_regclass('survives_restart') is not null")
    finally:
        await conn.close()


def test_clean_wipes_the_stack_folder(lifecycle, started):
    stack.clean(lifecycle.root)

    assert not lifecycle.root.exists()
    assert not any(alive(pid) for pid in started.values() if pid)


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    while True:
        first = free_port()
        if not any(port_in_use(first + n) for n in range(1, count)):
            return first


async def test_three_brokers_replicate_every_topic_and_survive_one_stopping():
    layout = Layout(Path(tempfile.mkdtemp(prefix="smi-stack-replicated-")), free_ports(6), free_port(),
                    brokers=3)
    try:
        try:
            bootstrap, database_url = await asyncio.to_thread(
                stack.ensure_infrastructure, layout.root, layout.kafka_port, layout.pg_port, brokers=3)
        except Exception as exc:
            unavailable(f"the replicated stack did not start: {exc}")
        assert bootstrap == layout.bootstrap and bootstrap.count(",") == 2
        assert all(stack.status(layout.root)[name] for name in ("kafka", "kafka-2", "kafka-3"))
        settings = Settings(kafka_bootstrap_servers=bootstrap, database_url=database_url,
                            replication_factor=3)
        await prepare(bootstrap, database_url, settings)
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(await admin.list_topics())
            [response] = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, settings.topics.requests)])
        finally:
            await admin.close()
        replicas = {t["topic"]: {len(p["replicas"]) for p in t["partitions"]} for t in described}
        assert set(settings.topics.model_dump().values()) <= set(replicas)
        assert all(counts == {3} for counts in replicas.values()), replicas
        configs = {key: value for key, value, *_ in response.resources[0][4]}
        assert configs["min.insync.replicas"] == "2"
        assert configs["unclean.leader.election.enable"] == "false"

        stop_pid_file(layout.pid_file("kafka-3"))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            sent = await producer.send_and_wait(settings.topics.requests, b"with two of three in sync")
        finally:
            await producer.stop()
        assert sent.offset == 0
    finally:
        await asyncio.to_thread(stack.clean, layout.root)


def test_up_returns_once_every_service_is_ready_and_inventory_answers_at_once(monkeypatch):
    layout = Layout(Path(tempfile.mkdtemp(prefix="smi-stack-ready-")), free_port(pair=True), free_port())
    count = len(services.SERVICES)
    monkeypatch.setenv("SMI_STACK_METRICS_PORT_BASE", str(free_ports(count)))
    monkeypatch.setenv("SMI_STACK_HTTP_PORT_BASE", str(free_ports(count)))
    monkeypatch.setenv("SMI_HOUSEKEEPING_DATA_DIR", str(layout.root / "housekeeping-data"))
    took: dict[str, float] = {}
    try:
        try:
            stack.ensure_infrastructure(layout.root, layout.kafka_port, layout.pg_port)
        except Exception as exc:
            unavailable(f"the local stack did not start: {exc}")
        stack.up(layout.root, layout.kafka_port, layout.pg_port, on_ready=took.__setitem__)

        assert set(took) == set(services.available())
        for name in services.available():
            ready, said = service_ready(services.metrics_port(name))
            assert ready, f"{name}: {said}"
        # No retry: the API listens before `up` returns.
        url = f"http://127.0.0.1:{services.http_port('inventory')}/devices/00-DB-00-00-00-00-00-01"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url, timeout=5)
        assert missing.value.code == 404
    finally:
        stack.clean(layout.root)
