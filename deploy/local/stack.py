"""The no-Docker local stack: Kafka, PostgreSQL and the platform's services as plain processes.

Usage: python -m deploy.local.stack up [--no-services] | down | clean | status | env
`up` returns once every service answers `/ready` on its metrics port, and says how long each took.
Environment: SMI_STACK_DIR, SMI_STACK_KAFKA_PORT, SMI_STACK_PG_PORT, SMI_STACK_METRICS_PORT_BASE,
SMI_STACK_HTTP_PORT_BASE, SMI_STACK_READY_TIMEOUT (seconds `up` waits for the services, default 300),
SMI_STACK_BROKERS (Kafka nodes of a new stack, default 1; 3 gives replication factor 3);
SMI_STACK_SKIP_PREPARE=1 skips topic creation and migrations (debugging the stack itself).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import kafka, postgres, services
from .layout import Layout, env_int
from .processes import StackError, running_pid, stop_pid_file
from .readiness import run_coroutine

StackDir = str | Path | None


@contextlib.contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _recorded(stack_dir: StackDir, kafka_port: int | None = None, pg_port: int | None = None,
              brokers: int | None = None) -> Layout:
    layout = Layout.resolve(stack_dir, kafka_port, pg_port, brokers)
    layout.record()
    return layout


def ensure_infrastructure(stack_dir: StackDir = None, kafka_port: int | None = None,
                          pg_port: int | None = None,
                          kafka_overrides: Mapping[str, str] | None = None,
                          brokers: int | None = None) -> tuple[str, str]:
    """Start Kafka and PostgreSQL unless already running; returns (bootstrap servers, database URL).
    `kafka_overrides`: broker properties beyond the defaults, applied when Kafka starts here;
    `brokers`: Kafka nodes of a new stack (a stack keeps the number it was made with)."""
    layout = _recorded(stack_dir, kafka_port, pg_port, brokers)
    with _locked(layout), ThreadPoolExecutor(2) as pool:
        started = [pool.submit(kafka.start, layout, overrides=kafka_overrides),
                   pool.submit(postgres.start, layout)]
        for future in started:
            future.result()
    return layout.bootstrap, layout.database_url


def start_kafka(stack_dir: StackDir = None) -> int:
    return kafka.start(_recorded(stack_dir))


def stop_kafka(stack_dir: StackDir = None, sig: int = signal.SIGTERM) -> int | None:
    return kafka.stop(Layout.resolve(stack_dir), sig)


def stop_kafka_node(node_id: int, stack_dir: StackDir = None, sig: int = signal.SIGTERM) -> int | None:
    """Stop one node of a replicated stack (`sig`: SIGKILL for a crash); `start_kafka` restarts it."""
    layout = Layout.resolve(stack_dir)
    [node] = [n for n in layout.kafka_nodes if n.node_id == node_id]
    return stop_pid_file(layout.pid_file(node.name), sig)


def start_postgres(stack_dir: StackDir = None) -> int:
    return postgres.start(_recorded(stack_dir))


def stop_postgres(stack_dir: StackDir = None, mode: str = "fast") -> int | None:
    return postgres.stop(Layout.resolve(stack_dir), mode)


def start_service(name: str, env_overrides: Mapping[str, str] | None = None, stack_dir: StackDir = None) -> int:
    return services.start(Layout.resolve(stack_dir), name, env_overrides)


def stop_service(name: str, sig: int = signal.SIGTERM, stack_dir: StackDir = None) -> int | None:
    return services.stop(Layout.resolve(stack_dir), name, sig)


def status(stack_dir: StackDir = None) -> dict[str, int | None]:
    """Pid of each component of the stack (each Kafka node: kafka, kafka-2, ...), None when it
    does not run."""
    layout = Layout.resolve(stack_dir)
    names = [*(node.name for node in layout.kafka_nodes), "postgres", *services.SERVICES]
    return {name: running_pid(layout.pid_file(name)) for name in names}


def stop_all(stack_dir: StackDir = None) -> dict[str, int]:
    """Stop what this stack started: services, then Kafka, then PostgreSQL. Keeps data; returns stopped pids."""
    layout = Layout.resolve(stack_dir)
    if not layout.root.exists():
        return {}
    stopped: dict[str, int | None] = {}
    with _locked(layout):
        for name in services.SERVICES:
            stopped[name] = services.stop(layout, name)
        stopped |= kafka.stop_nodes(layout)
        stopped["postgres"] = postgres.stop(layout)
    return {name: pid for name, pid in stopped.items() if pid is not None}


def clean(stack_dir: StackDir = None) -> None:
    layout = Layout.resolve(stack_dir)
    stop_all(layout.root)
    shutil.rmtree(layout.root, ignore_errors=True)


def prepare_platform(bootstrap: str, database_url: str, replication_factor: int = 1) -> None:
    from shared.bootstrap import prepare
    from shared.settings import get_settings

    settings = get_settings().model_copy(update={"replication_factor": replication_factor})
    run_coroutine(prepare(bootstrap, database_url, settings))


def up(stack_dir: StackDir = None, kafka_port: int | None = None, pg_port: int | None = None,
       with_services: bool = True, brokers: int | None = None,
       on_ready: Callable[[str, float], None] | None = None) -> Layout:
    """Start what is not running and return once every service is ready to work (`/ready`);
    `on_ready` hears each service's name and the seconds it took, as it becomes ready."""
    bootstrap, database_url = ensure_infrastructure(stack_dir, kafka_port, pg_port, brokers=brokers)
    layout = Layout.resolve(stack_dir)
    if os.environ.get("SMI_STACK_SKIP_PREPARE") != "1":
        prepare_platform(bootstrap, database_url, layout.replication_factor)
    if with_services:
        for name in services.available():
            services.start(layout, name)
        services.wait_ready(layout, services.available(), on_ready=on_ready)
    return layout


def _say_ready(name: str, seconds: float) -> None:
    print(f"{name:<13} ready after {seconds:.1f} s", flush=True)


def _describe(layout: Layout) -> None:
    pids = status(layout.root)

    def state(name: str) -> str:
        return f"pid {pids[name]}" if pids[name] else "stopped"

    for node in layout.kafka_nodes:
        label = "Kafka" if layout.brokers == 1 else f"Kafka {node.node_id}"
        print(f"{label:<13} {f'127.0.0.1:{node.port}':<48} {state(node.name)}")
    print(f"{'PostgreSQL':<13} {layout.database_url:<48} {state('postgres')}")
    for name in services.SERVICES:
        if pids[name] or name in services.available():
            url = f"http://127.0.0.1:{services.metrics_port(name)}/metrics"
            api = f"  api http://127.0.0.1:{services.http_port(name)}/" if name != "intake" else ""
            print(f"{name:<13} {url:<48} {state(name)}{api}")
    print(f"{'Logs':<13} {layout.logs}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.stack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "clean", "status", "env"])
    parser.add_argument("--no-services", action="store_true", help="start only Kafka and PostgreSQL")
    parser.add_argument("--stack-dir", help="stack folder (default: $SMI_STACK_DIR or <repo>/.stack)")
    args = parser.parse_args(argv)
    layout = Layout.resolve(args.stack_dir, env_int("SMI_STACK_KAFKA_PORT"), env_int("SMI_STACK_PG_PORT"))
    try:
        wanted = env_int("SMI_STACK_BROKERS") if args.command == "up" else None
        if wanted and wanted != layout.brokers:
            if layout.recorded:
                raise StackError(f"{layout.root} was made with {layout.brokers} Kafka broker(s), not "
                                 f"SMI_STACK_BROKERS={wanted}: `make clean` it first, or unset the variable")
            layout = dataclasses.replace(layout, brokers=wanted)
        if args.command == "up":
            up(layout.root, layout.kafka_port, layout.pg_port, with_services=not args.no_services,
               brokers=layout.brokers, on_ready=_say_ready)
            _describe(layout)
        elif args.command in ("down", "clean"):
            stopped = stop_all(layout.root)
            listed = ", ".join(f"{name} (pid {pid})" for name, pid in stopped.items())
            print(f"stopped: {listed or 'nothing'}")
            if args.command == "clean":
                shutil.rmtree(layout.root, ignore_errors=True)
                print(f"removed {layout.root}")
        elif args.command == "status":
            _describe(layout)
        else:
            print(f"export KAFKA_BOOTSTRAP_SERVERS={layout.bootstrap}")
            print(f"export DATABASE_URL={layout.database_url}")
            print(f"export SMI_KAFKA_BOOTSTRAP_SERVERS={layout.bootstrap}")
            print(f"export SMI_DATABASE_URL={layout.database_url}")
            print(f"export SMI_REPLICATION_FACTOR={layout.replication_factor}")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
