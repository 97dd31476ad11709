import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local import stack
from deploy.local.layout import Layout

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
        if os.environ.get("CI") == "true":
            pytest.fail(f"the local stack did not start: {exc}")
        pytest.skip(f"the local stack did not start: {exc}")
    return stack.status(lifecycle.root)


def test_up_twice_leaves_running_processes_alone(lifecycle, started):
    assert started["kafka"] and started["postgres"]
    assert ensure(lifecycle) == (lifecycle.bootstrap, lifecycle.database_url)
    assert stack.status(lifecycle.root) == started
    status = cli(lifecycle, "status")
    assert f"pid {started['kafka']}" in status and f"pid {started['postgres']}" in status
    assert f"export DATABASE_URL={lifecycle.database_url}" in cli(lifecycle, "env")


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
