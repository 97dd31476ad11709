"""Where a local stack lives: folders, ports and the addresses derived from them."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KAFKA_PORT = 29092
DEFAULT_PG_PORT = 25432


def env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def default_stack_dir() -> Path:
    return Path(os.environ.get("SMI_STACK_DIR") or REPO_ROOT / ".stack")


@dataclass(frozen=True)
class KafkaNode:
    """One KRaft node (broker and controller) of the stack: node 1 keeps the single-node paths."""
    node_id: int
    port: int
    controller_port: int
    dir: Path
    name: str       # of its pid file and console log
    logs: Path


@dataclass(frozen=True)
class Layout:
    root: Path
    kafka_port: int
    pg_port: int
    brokers: int = 1

    @classmethod
    def resolve(cls, stack_dir: str | Path | None = None, kafka_port: int | None = None,
                pg_port: int | None = None, brokers: int | None = None) -> Layout:
        """Ports: explicit arguments, then those recorded in the stack folder, then env, then
        defaults. Kafka nodes: the argument, then the recorded number, then one."""
        root = Path(stack_dir or default_stack_dir()).resolve()
        try:
            recorded = json.loads((root / "stack.json").read_text())
        except (FileNotFoundError, ValueError):
            recorded = {}
        return cls(
            root=root,
            kafka_port=(kafka_port or recorded.get("kafka_port") or env_int("SMI_STACK_KAFKA_PORT")
                        or DEFAULT_KAFKA_PORT),
            pg_port=pg_port or recorded.get("pg_port") or env_int("SMI_STACK_PG_PORT") or DEFAULT_PG_PORT,
            brokers=brokers or recorded.get("brokers") or 1,
        )

    def __post_init__(self) -> None:
        if self.brokers < 1:
            raise ValueError(f"a stack needs one Kafka broker or more, not {self.brokers}")

    @property
    def recorded(self) -> bool:
        return (self.root / "stack.json").exists()

    def record(self) -> None:
        for folder in (self.root, self.logs, self.run, self.kafka_dir, self.pg_dir):
            folder.mkdir(parents=True, exist_ok=True)
        data = {key: value for key, value in asdict(self).items() if key != "root"}
        (self.root / "stack.json").write_text(json.dumps(data, indent=2) + "\n")

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def kafka_dir(self) -> Path:
        return self.root / "kafka"

    @property
    def pg_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def controller_port(self) -> int:
        return self.kafka_port + 1

    @property
    def kafka_nodes(self) -> list[KafkaNode]:
        """Node n listens on kafka_port + 2(n-1), its controller on the port after."""
        return [KafkaNode(node_id=n, port=self.kafka_port + 2 * (n - 1),
                          controller_port=self.kafka_port + 2 * (n - 1) + 1,
                          dir=self.kafka_dir if n == 1 else self.root / f"kafka-{n}",
                          name="kafka" if n == 1 else f"kafka-{n}",
                          logs=self.logs if n == 1 else self.logs / f"kafka-{n}")
                for n in range(1, self.brokers + 1)]

    @property
    def replication_factor(self) -> int:
        """Of every topic, the offsets and the transaction state: up to 3 copies."""
        return min(self.brokers, 3)

    @property
    def min_insync_replicas(self) -> int:
        """An acknowledged record is on two replicas where there are three."""
        return max(1, self.replication_factor - 1)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{node.port}" for node in self.kafka_nodes)

    @property
    def database_url(self) -> str:
        # The local cluster trusts loopback connections (initdb --auth=trust): no password.
        return f"postgresql://smi@127.0.0.1:{self.pg_port}/smi"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"
