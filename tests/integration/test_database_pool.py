"""The services' connection pool: a connection goes back without a reset round trip, and an
open transaction never goes back with it."""
import pytest

from shared import db

pytestmark = pytest.mark.integration


async def test_a_released_connection_keeps_its_session_without_a_reset(settings):
    pool = await db.create_pool(settings.database_url, max_size=1)
    try:
        async with pool.acquire() as conn:
            backend = await conn.fetchval("select pg_backend_pid()")
            await conn.execute("select set_config('application_name', 'kept', false)")
        async with pool.acquire() as conn:
            assert await conn.fetchval("select pg_backend_pid()") == backend
            # asyncpg's default reset (RESET ALL) would have put it back to ''
            assert await conn.fetchval("select current_setting('application_name')") == "kept"
    finally:
        await pool.close()


async def test_an_open_transaction_is_rolled_back_on_release(settings):
    pool = await db.create_pool(settings.database_url, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("begin; create table public.left_open (n int)")
        async with pool.acquire() as conn:
            assert await conn.fetchval("select pg_current_xact_id_if_assigned()") is None
            assert await conn.fetchval("select to_regclass('public.left_open')") is None
    finally:
        await pool.close()
