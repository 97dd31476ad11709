"""The reliability suite's own stack (it stops the broker and the database, so it shares them
with no other test run) and one platform on it: topics, a database, services as processes."""
import os
import signal
import subprocess
import sys
from pathlib import Path

from deploy.local import stack
from shared.settings import REPO_ROOT, Settings
from tests.support import service_env

STACK_DIR = REPO_ROOT / ".stack-reliability"
# Ports of its own, overridable so that engineers sharing a machine need not share them.
KAFKA_PORT = int(os.environ.get("SMI_RELIABILITY_KAFKA_PORT") or 29292)
PG_PORT = int(os.environ.get("SMI_RELIABILITY_PG_PORT") or 25632)
SERVICES = ("intake", "inventory", "housekeeping", "returns")


def start_stack() -> tuple[str, str]:
    return stack.ensure_infrastructure(STACK_DIR, KAFKA_PORT, PG_PORT)


def stop_stack() -> None:
    stack.stop_kafka(STACK_DIR)
    stack.stop_postgres(STACK_DIR)


class Platform:
    """Every service of one platform as real processes; instance "a" always runs, "b" comes and
    goes. Each instance keeps its SMI_INSTANCE_ID across restarts, so that the restarted one
    fences its killed predecessor's open Kafka transactions."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings, self.workdir = settings, workdir
        self.processes: dict[tuple[str, str], subprocess.Popen] = {}
        self.exits: list[str] = []  # services that stopped without being asked to
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self, service: str, instance: str = "a") -> None:
        env = service_env(self.settings)
        env.update({"SMI_INSTANCE_ID": f"{service}-{instance}", "SMI_HTTP_PORT": "0",
                    "SMI_METRICS_PORT": "0", "PYTHONUNBUFFERED": "1",
                    "SMI_HOUSEKEEPING_DATA_DIR": str(self.workdir / f"faust-{instance}")})
        log = open(self.workdir / f"{service}-{instance}.log", "ab")
        self.processes[(service, instance)] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"], cwd=REPO_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

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
