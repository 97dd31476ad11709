"""A PostgreSQL cluster inside the stack folder, run as `postgres` when we are root (initdb refuses root)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import asyncpg

from .layout import Layout
from .processes import StackError, port_in_use, running_pid, tail, write_pid
from .readiness import run_coroutine

OS_USER = "postgres"
SOCKET_PATH_MAX = 107


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in bindir.parent.name.split(".") if part.isdigit())


def find_bindir() -> Path | None:
    candidates = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        candidates.append(Path(out))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    return next((c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)


def ensure_bindir() -> Path:
    if found := find_bindir():
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise StackError("PostgreSQL server binaries (initdb, pg_ctl) were not found; install PostgreSQL "
                         "(Debian: apt-get install postgresql) or put its pg_config on PATH")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]):
        if subprocess.run(cmd, env=env).returncode != 0:
            raise StackError(f"`{' '.join(cmd)}` failed while installing PostgreSQL")
    if found := find_bindir():
        return found
    raise StackError("PostgreSQL was installed but initdb/pg_ctl are still not found")


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], layout: Layout, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(_as_owner(cmd), capture_output=True, text=True, cwd=layout.pg_dir)
    if check and result.returncode != 0:
        raise StackError(f"`{' '.join(cmd)}` failed:\n{result.stdout}{result.stderr}")
    return result


def _prepare_dirs(layout: Layout) -> None:
    data, sockets, log = layout.pg_data, layout.pg_dir / "socket", layout.logs / "postgres.log"
    for folder in (data, sockets, log.parent):
        folder.mkdir(parents=True, exist_ok=True)
    log.touch()
    if os.geteuid() != 0:
        return
    for path in (data, sockets, log):
        shutil.chown(path, OS_USER, OS_USER)
    for parent in layout.pg_dir.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


# Beyond the defaults (sized for a small shared machine): under a bulk load, with the default
# 1 GB of WAL between checkpoints, one started every 13 to 27 seconds, after which each page
# touched is written whole into the WAL again. Durability stays: fsync and synchronous_commit
# keep their defaults.
TUNING = {"shared_buffers": "512MB", "max_wal_size": "8GB", "min_wal_size": "1GB",
          "checkpoint_timeout": "15min", "wal_compression": "on"}


def _server_options(layout: Layout) -> str:
    sockets = layout.pg_dir / "socket"
    if len(f"{sockets}/.s.PGSQL.{layout.pg_port}") > SOCKET_PATH_MAX:
        sockets_opt = "''"
    else:
        sockets_opt = shlex.quote(str(sockets))
    tuning = " ".join(f"-c {name}={value}" for name, value in TUNING.items())
    return f"-c listen_addresses=127.0.0.1 -p {layout.pg_port} -c unix_socket_directories={sockets_opt} {tuning}"


def _pg_ctl(bindir: Path, layout: Layout, action: str, *args: str,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run([str(bindir / "pg_ctl"), action, "-D", str(layout.pg_data), *args], layout, check)


def is_running(layout: Layout, bindir: Path) -> bool:
    return _pg_ctl(bindir, layout, "status", check=False).returncode == 0


def start(layout: Layout, timeout: float = 60.0) -> int:
    """Start the cluster unless ours already runs; returns the postmaster pid once `smi` can connect."""
    pid_file = layout.pid_file("postgres")
    if (pid := running_pid(pid_file)) is not None:
        return pid
    bindir = ensure_bindir()
    data = layout.pg_data
    _prepare_dirs(layout)
    if not (data / "PG_VERSION").exists():
        _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
              "-E", "UTF8", "--locale=C"], layout)
    if not is_running(layout, bindir):
        if port_in_use(layout.pg_port):
            raise StackError(f"port {layout.pg_port} for PostgreSQL is already in use by another process")
        log = layout.logs / "postgres.log"
        result = _pg_ctl(bindir, layout, "start", "-l", str(log), "-w", "-t", str(int(timeout)),
                         "-o", _server_options(layout), check=False)
        if result.returncode != 0:
            raise StackError(f"PostgreSQL did not start:\n{result.stdout}{result.stderr}\n{tail(log)}")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    write_pid(pid_file, pid)
    _wait_ready(layout, bindir, timeout)
    run_coroutine(_ensure_role_and_database(layout.pg_port))
    return pid


def _wait_ready(layout: Layout, bindir: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    cmd = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(layout.pg_port), "-t", "2"]
    while subprocess.run(cmd).returncode != 0:
        if time.monotonic() > deadline:
            raise StackError(f"PostgreSQL did not accept connections within {timeout:.0f}s:\n"
                             f"{tail(layout.logs / 'postgres.log')}")
        time.sleep(0.2)


async def _ensure_role_and_database(port: int) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="postgres")
    try:
        if not await conn.fetchval("select 1 from pg_roles where rolname = 'smi'"):
            await conn.execute("create role smi login createdb")
        if not await conn.fetchval("select 1 from pg_database where datname = 'smi'"):
            await conn.execute("create database smi owner smi")
    finally:
        await conn.close()


def stop(layout: Layout, mode: str = "fast") -> int | None:
    """`pg_ctl stop -m <mode>` (smart, fast or immediate); returns the pid that was running."""
    pid_file = layout.pid_file("postgres")
    pid = running_pid(pid_file)
    bindir = find_bindir()
    if bindir is not None and (layout.pg_data / "PG_VERSION").exists() and is_running(layout, bindir):
        _pg_ctl(bindir, layout, "stop", "-m", mode, "-w", "-t", "30")
    pid_file.unlink(missing_ok=True)
    return pid
