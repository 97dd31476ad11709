"""PostgreSQL alone for the handler tests: DATABASE_URL, else the local PostgreSQL process of
the test stack (<repo>/.stack-test, on SMI_TEST_PG_PORT), started here when it does not run. No
Kafka is asked for. One database per run, migrated and holding the party registry; each test
works inside a transaction that is rolled back, so tests see none of each other's rows."""
import asyncio
import fcntl
import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from shared import db, parties
from shared.settings import Settings
from tests.conftest import TEST_KAFKA_PORT, TEST_PG_PORT, TEST_STACK_DIR, unavailable


class LocalPostgres:
    """The test stack's PostgreSQL, shared with concurrent test runs (and with the integration
    tests' stack in the same run) the way they share it: the last user stops what test runs
    started."""

    def __init__(self) -> None:
        from deploy.local import postgres
        from deploy.local.layout import Layout

        self.postgres = postgres
        self.layout = Layout.resolve(TEST_STACK_DIR, TEST_KAFKA_PORT, TEST_PG_PORT)
        self.layout.record()
        self.marker = TEST_STACK_DIR / ".started-by-tests"
        self.users = open(TEST_STACK_DIR / ".users", "w")
        fcntl.flock(self.users, fcntl.LOCK_SH)
        try:
            with open(TEST_STACK_DIR / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                was_running = postgres.is_running(self.layout, postgres.ensure_bindir())
                postgres.start(self.layout)
        except BaseException:
            self.users.close()
            raise
        if not was_running:
            known = set(self.marker.read_text().split()) if self.marker.exists() else set()
            self.marker.write_text("\n".join(sorted(known | {"postgres"})) + "\n")
        self.database_url = self.layout.database_url

    def close(self) -> None:
        try:
            if os.environ.get("SMI_TEST_KEEP_STACK") == "1":
                return
            try:
                fcntl.flock(self.users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another test run still uses the stack
            # The last user stops all that test runs started, the integration tests' Kafka too.
            started = set(self.marker.read_text().split()) if self.marker.exists() else set()
            if "kafka" in started:
                from deploy.local import stack
                stack.stop_kafka(TEST_STACK_DIR)
            if "postgres" in started:
                self.postgres.stop(self.layout)
            self.marker.unlink(missing_ok=True)
        finally:
            self.users.close()


async def _create(admin_url: str, settings: Settings) -> None:
    name = settings.database_url.rpartition("/")[2]
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(settings.database_url)
    try:
        await db.migrate(conn)
        await parties.upsert(conn, parties.load_file(settings.parties_file))
    finally:
        await conn.close()


async def _drop(admin_url: str, settings: Settings) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'drop database if exists "{settings.database_url.rpartition("/")[2]}" with (force)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def handler_settings() -> Iterator[Settings]:
    """Settings whose database is this run's; the broker named in them is never reached."""
    server = None
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        try:
            server = LocalPostgres()
        except Exception as exc:
            unavailable(f"no PostgreSQL for the handler tests: {exc}")
        admin_url = server.database_url
    base = admin_url.rpartition("/")[0]
    settings = Settings(database_url=f"{base}/smi_handlers_{uuid.uuid4().hex[:10]}", metrics_port=0,
                        kafka_bootstrap_servers="127.0.0.1:9")
    try:
        asyncio.run(_create(admin_url, settings))
        yield settings
    finally:
        asyncio.run(_drop(admin_url, settings))
        if server is not None:
            server.close()


@pytest.fixture
async def conn(handler_settings: Settings):
    """The test's connection, inside a transaction rolled back when the test ends."""
    connection = await asyncpg.connect(handler_settings.database_url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()
