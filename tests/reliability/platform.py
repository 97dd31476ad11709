"""The reliability suite's own stacks (it stops brokers and the database, so it shares them with
no other test run) and one platform on a stack: topics, a database, services as processes."""
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from deploy.local import kafka, stack
from deploy.local.layout import Layout
from shared.settings import REPO_ROOT, Settings
from tests.support import free_port, service_env

SERVICES = ("intake", "inventory", "housekeeping", "returns")


@dataclass(frozen=True)
class Stack:
    """Kafka (one node, or several replicating) and PostgreSQL in a folder of their own."""
    dir: Path
    kafka_port: int
    pg_port: int
    brokers: int = 1
    kafka_overrides: tuple[tuple[str, str], ...] = ()

    @property
    def layout(self) -> Layout:
        return Layout(self.dir.resolve(), self.kafka_port, self.pg_port, self.brokers)

    def start(self) -> tuple[str, str]:
        return stack.ensure_infrastructure(self.dir, self.kafka_port, self.pg_port, dict(self.kafka_overrides),
                                           brokers=self.brokers)

    def start_kafka(self) -> None:
        """Start whichever Kafka nodes are down, with the stack's own broker settings."""
        kafka.start(self.layout, overrides=dict(self.kafka_overrides))

    def stop(self) -> None:
        stack.stop_kafka(self.dir)
        stack.stop_postgres(self.dir)


def _port(variable: str, default: int) -> int:
    return int(os.environ.get(variable) or default)


# Node n of the replicated stack listens on kafka_port + 2(n-1), its controller on the next port.
SINGLE = Stack(REPO_ROOT / ".stack-reliability", _port("SMI_RELIABILITY_KAFKA_PORT", 29292),
               _port("SMI_RELIABILITY_PG_PORT", 25632))
# A node killed recovers every replica it holds before it rejoins: 6 partitions of the offsets
# and transaction state topics rather than 50 each keep that, and so each strike, short.
REPLICATED = Stack(REPO_ROOT / ".stack-failover", _port("SMI_FAILOVER_KAFKA_PORT", 29392),
                   _port("SMI_FAILOVER_PG_PORT", 25732), brokers=3,
                   kafka_overrides=(("offsets.topic.num.partitions", "6"),
                                    ("transaction.state.log.num.partitions", "6")))
STACK_DIR = SINGLE.dir


class Platform:
    """Every service of one platform as real processes; instance "a" always runs, "b" comes and
    goes. Each instance keeps its SMI_INSTANCE_ID across restarts, so that the restarted one
    fences its killed predecessor's open Kafka transactions."""

    def __init__(self, settings: Settings, workdir: Path, stack: Stack = SINGLE) -> None:
        self.settings, self.workdir, self.stack = settings, workdir, stack
        self.processes: dict[tuple[str, str], subprocess.Popen] = {}
        self.exits: list[str] = []  # services that stopped without being asked to
        # Instance "a" of inventory serves its read API here, the same across its restarts: every
        # intake answers reads from it, and routes them while it is down.
        self.inventory_api_port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self, service: str, instance: str = "a") -> None:
        env = service_env(self.settings)
        api = (service, instance) == ("inventory", "a")
        env.update({"SMI_INSTANCE_ID": self.instance_id(service, instance),
                    "SMI_HTTP_PORT": str(self.inventory_api_port) if api else "0",
                    "SMI_INVENTORY_URL": f"http://127.0.0.1:{self.inventory_api_port}",
                    "SMI_METRICS_PORT": "0", "PYTHONUNBUFFERED": "1",
                    "SMI_HOUSEKEEPING_DATA_DIR": str(self.workdir / f"faust-{instance}")})
        log = open(self.workdir / f"{service}-{instance}.log", "ab")
        self.processes[(service, instance)] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"], cwd=REPO_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    @staticmethod
    def instance_id(service: str, instance: str = "a") -> str:
        return f"{service}-{instance}"

    def start_all(self) -> None:
        for service in SERVICES:
            self.start(service)

    def kill(self, service: str, instance: str = "a") -> None:
        process = self.processes.pop((service, instance))
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self, service: str, instance: str = "a", timeout: float = 30.0) -> None:
        process = self.processes.pop((service, instance))
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            self.exits.append(f"{service}-{instance} ignored SIGTERM for {timeout:.0f}s")

    def revive(self) -> None:
        """Restart every "a" instance that died on its own (and remember that it did)."""
        for (service, instance), process in list(self.processes.items()):
            if process.poll() is not None:
                self.exits.append(f"{service}-{instance} exited with {process.returncode}")
                del self.processes[(service, instance)]
                if instance == "a":
                    self.start(service)

    def close(self) -> None:
        for service, instance in list(self.processes):
            self.stop(service, instance)

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for log in sorted(self.workdir.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts)


def keep_stack() -> bool:
    return os.environ.get("SMI_TEST_KEEP_STACK") == "1"
