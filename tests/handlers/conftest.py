"""PostgreSQL alone for the handler tests: DATABASE_URL, else the local PostgreSQL process of
the test stack (<repo>/.stack-test, on SMI_TEST_PG_PORT), started here when it does not run. No
Kafka is asked for. One database per run, migrated and holding the party registry; each test
works inside a transaction that is rolled back, so tests see none of each other's rows."""
import asyncio
import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from shared import db, parties
from shared.settings import Settings
from tests.conftest import LocalStack, unavailable
from tests.handlers.chain import Chain, inventory_api


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
            server = LocalStack(kafka=False)
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


# Intake and inventory chained (`chain`), for the tests of what intake completes itself.
@pytest.fixture
async def inventory(handler_settings, conn):
    """Inventory's API over the test's connection, as intake asks it."""
    async with inventory_api(handler_settings, conn) as client:
        yield client


@pytest.fixture
def chain(handler_settings, conn, inventory):
    return Chain(handler_settings, conn, inventory)


@pytest.fixture
def routing(handler_settings, conn, inventory):
    """Intake routing every change to inventory's topic, as when its batches hold too many."""
    return Chain(handler_settings.model_copy(update={"inventory_apply_max_changes": 0}), conn, inventory)
