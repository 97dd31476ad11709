"""The platform's services, each run as `python -m services.<name>` in its own process."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping

from .layout import REPO_ROOT, Layout, env_int
from .processes import StackError, running_pid, start_detached, stop_pid_file, tail
from .readiness import service_ready

SERVICES = ("intake", "inventory", "housekeeping", "returns", "ssi")
DEFAULT_METRICS_PORT_BASE = 9101
DEFAULT_HTTP_PORT_BASE = 8101
# Housekeeping restores its whole table before it is ready: minutes for millions of devices.
DEFAULT_READY_TIMEOUT = 300.0


def available() -> list[str]:
    return [name for name in SERVICES if (REPO_ROOT / "services" / name / "__main__.py").exists()]


def metrics_port(name: str) -> int:
    base = env_int("SMI_STACK_METRICS_PORT_BASE") or DEFAULT_METRICS_PORT_BASE
    return base + SERVICES.index(name)


def http_port(name: str) -> int:
    """The service's JSON API (intake has none, but keeps its slot so the numbers line up)."""
    base = env_int("SMI_STACK_HTTP_PORT_BASE") or DEFAULT_HTTP_PORT_BASE
    return base + SERVICES.index(name)


def python() -> str:
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def start(layout: Layout, name: str, env_overrides: Mapping[str, str] | None = None) -> int:
    if name not in SERVICES:
        raise StackError(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
    pid_file = layout.pid_file(name)
    if (pid := running_pid(pid_file)) is not None:
        return pid
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SMI_KAFKA_BOOTSTRAP_SERVERS": layout.bootstrap,
        "SMI_DATABASE_URL": layout.database_url,
        "SMI_REPLICATION_FACTOR": str(layout.replication_factor),
        "SMI_METRICS_PORT": str(metrics_port(name)),
        "SMI_HTTP_PORT": str(http_port(name)),
        "SMI_INVENTORY_URL": f"http://127.0.0.1:{http_port('inventory')}",
        # housekeeping's table state belongs with the cluster whose changelog it mirrors:
        # `make clean` wipes both together
        "SMI_HOUSEKEEPING_DATA_DIR": str(layout.root / "housekeeping"),
        **(env_overrides or {}),
    }
    return start_detached([python(), "-m", f"services.{name}"], log_file=layout.logs / f"{name}.log",
                          pid_file=pid_file, env=env, cwd=REPO_ROOT)


def stop(layout: Layout, name: str, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
    return stop_pid_file(layout.pid_file(name), sig, timeout)


def wait_ready(layout: Layout, names: Iterable[str], timeout: float | None = None,
               on_ready: Callable[[str, float], None] | None = None) -> dict[str, float]:
    """Wait until each service answers `/ready` on its metrics port; returns the seconds each took.
    A service that exits or is not ready in time stops the wait with what it said and its log."""
    timeout = timeout or float(os.environ.get("SMI_STACK_READY_TIMEOUT") or DEFAULT_READY_TIMEOUT)
    started = time.monotonic()
    waiting, took = list(names), {}
    said: dict[str, str] = {}
    while waiting:
        for name in list(waiting):
            ready, said[name] = service_ready(metrics_port(name))
            if ready:
                took[name] = time.monotonic() - started
                waiting.remove(name)
                if on_ready:
                    on_ready(name, took[name])
            elif running_pid(layout.pid_file(name)) is None:
                raise StackError(f"{name} stopped before it was ready; its log:\n"
                                 f"{tail(layout.logs / f'{name}.log')}")
        if waiting and time.monotonic() - started > timeout:
            name = waiting[0]
            raise StackError(f"{name} not ready after {timeout:.0f} s ({said[name]}); its log:\n"
                             f"{tail(layout.logs / f'{name}.log')}")
        if waiting:
            time.sleep(0.2)
    return took
