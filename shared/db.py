"""PostgreSQL access (asyncpg) and versioned migrations applied at start."""
import asyncio
from pathlib import Path

import asyncpg

from shared.settings import REPO_ROOT

_KERNEL_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x534D49  # one advisory lock for every migration run


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 4) -> asyncpg.Pool:
    """A pool, retrying while the server starts (a service may start before its database)."""
    for attempt in range(30):
        try:
            return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                             reset=_keep_session)
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError):
            if attempt == 29:
                raise
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Hand a connection back as it is. asyncpg's default resets the session (`RESET ALL`,
    `UNLISTEN *`, advisory locks) in one more round trip on every release, which sits on the
    path of every batch and every read. Nothing here leaves session state behind: settings are
    `set local`, nothing listens, and the one session lock (`migrate`) is released where it is
    taken. An open transaction is still rolled back, as asyncpg does before any reset."""


def migration_dirs() -> dict[str, Path]:
    """Every component's migrations: the kernel's, then each service's `migrations/` folder."""
    dirs = {"shared": _KERNEL_MIGRATIONS}
    for folder in sorted((REPO_ROOT / "services").glob("*/migrations")):
        dirs[folder.parent.name] = folder
    return dirs


async def migrate(conn: asyncpg.Connection, components: list[str] | None = None) -> list[str]:
    """Apply the pending migrations of the named components (default: all); return what ran.

    A service's schema is named after the service; `{schema}` in a kernel template
    (`shared/migrations/templates`) is filled with it, so every service gets the kernel tables.
    """
    applied: list[str] = []
    await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            "create table if not exists public.schema_migrations ("
            " component text, version text, applied_at timestamptz not null default now(),"
            " primary key (component, version))"
        )
        done = {(r["component"], r["version"]) for r in
                await conn.fetch("select component, version from public.schema_migrations")}
        for component, folder in migration_dirs().items():
            if components is not None and component not in components and component != "shared":
                continue
            for version, sql in _scripts(component, folder):
                if (component, version) in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "insert into public.schema_migrations (component, version) values ($1, $2)",
                        component, version,
                    )
                applied.append(f"{component}/{version}")
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)
    return applied


def _scripts(component: str, folder: Path) -> list[tuple[str, str]]:
    scripts = []
    if component != "shared":
        for template in sorted((_KERNEL_MIGRATIONS / "templates").glob("*.sql")):
            scripts.append((f"kernel-{template.stem}", template.read_text().replace("{schema}", component)))
    scripts += [(path.stem, path.read_text()) for path in sorted(folder.glob("*.sql"))]
    return scripts
