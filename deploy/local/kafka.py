"""KRaft Kafka run from jars resolved by Maven: one node (broker and controller), or several
(SMI_STACK_BROKERS) forming one replicated cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.topics import BROKER_DEFAULTS

from .layout import KafkaNode, Layout
from .processes import StackError, port_in_use, running_pid, start_detached, stop_pid_file, tail
from .readiness import kafka_answers, tcp_open

RESOURCES = Path(__file__).with_name("kafka")
POM = RESOURCES / "pom.xml"
TOOLS_POM = RESOURCES / "tools-pom.xml"
LOG4J = RESOURCES / "log4j2.yaml"
HEAP = ["-Xms256m", "-Xmx768m"]
# What Kafka's own start script gives a broker, and so the broker of docker-compose's image:
# G1 aiming at pauses of 20 ms rather than its default 200 (docs/design.md).
JVM_OPTIONS = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
               "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true"]
SUPER_USER = "admin"
SCRAM_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Secured:
    """SASL/SCRAM on the client listener and the StandardAuthorizer: nothing is allowed without
    an ACL, except to the super user `admin`, whose SCRAM credential is written at format time."""
    admin_password: str

    def __post_init__(self) -> None:
        if not self.admin_password or any(c in self.admin_password for c in '"\\\n,[]'):
            raise StackError("the admin password must be non-empty, without quotes, backslashes, "
                             "commas, brackets or line breaks")

    def client_options(self) -> dict[str, str]:
        return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": SCRAM_MECHANISM,
                "sasl_plain_username": SUPER_USER, "sasl_plain_password": self.admin_password}

    def properties(self, port: int, ctrl: int) -> dict[str, str]:
        jaas = ("org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{SUPER_USER}" password="{self.admin_password}";')
        return {
            "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{ctrl}",
            "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
            "inter.broker.listener.name": "SASL_PLAINTEXT",
            "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            f"listener.name.sasl_plaintext.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": jaas,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # The controller listener stays PLAINTEXT on loopback, where this node reaches its own
            # controller as ANONYMOUS; no client listener is plaintext.
            "super.users": f"User:{SUPER_USER};User:ANONYMOUS",
            "allow.everyone.if.no.acl.found": "false",
        }

    def scram_argument(self) -> str:
        return f"{SCRAM_MECHANISM}=[name={SUPER_USER},password={self.admin_password}]"


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(f"`{name}` was not found on PATH; {hint}")
    return path


def kafka_version() -> str:
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", namespace)
    if node is None or not (node.text or "").strip():
        raise StackError(f"no <kafka.version> property in {POM}")
    return node.text.strip()


def jar_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "smi-platform" / f"kafka-{kafka_version()}" / "libs"


def tools_cache() -> Path:
    return jar_cache().parent / "tools"


def ensure_jars(pom: Path = POM, libs: Path | None = None) -> Path:
    """Resolve the broker's jars (or those of another pom) once; a partial download never lands
    at the final path."""
    libs = libs or jar_cache()
    if libs.is_dir():
        return libs
    mvn = require_tool("mvn", "install Apache Maven 3.8+ (Debian: apt-get install maven)")
    libs.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="libs.partial-", dir=libs.parent))
    try:
        cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
               f"-Dkafka.version={kafka_version()}", f"-DoutputDirectory={partial}"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise StackError(f"Maven could not resolve Kafka jars ({' '.join(cmd)}):\n{output}")
        partial.chmod(0o755)
        try:
            partial.rename(libs)
        except OSError:
            if not libs.is_dir():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return libs


def tools_classpath() -> str:
    """The classpath of Kafka's command-line tools (AclCommand, ConfigCommand)."""
    return f"{ensure_jars()}/*:{ensure_jars(TOOLS_POM, tools_cache())}/*"


def write_config(layout: Layout, secured: Secured | None = None,
                 overrides: Mapping[str, str] | None = None, node: KafkaNode | None = None) -> Path:
    """server.properties of one node (default: the first)."""
    node = node or layout.kafka_nodes[0]
    port, ctrl = node.port, node.controller_port
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in layout.kafka_nodes)
    replicas, min_isr = str(layout.replication_factor), str(layout.min_insync_replicas)
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{ctrl}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(node.dir / "data"),
        "num.partitions": "3",
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        "unclean.leader.election.enable": "false",
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        **BROKER_DEFAULTS,
    }
    if secured:
        if layout.brokers > 1:
            raise StackError("a secured stack has one broker")
        props |= secured.properties(port, ctrl)
    props |= overrides or {}
    path = node.dir / "server.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)  # it may hold the admin password
    path.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
    return path


def _storage_tool(java: str, libs: Path, *args: str) -> str:
    result = subprocess.run([java, "-cp", f"{libs}/*", "kafka.tools.StorageTool", *args],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"kafka StorageTool {args[0]} failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip()


def _cluster_id(layout: Layout) -> str | None:
    """The id the stack's nodes were formatted with, if any was."""
    for node in layout.kafka_nodes:
        meta = node.dir / "data" / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.partition("=")[2].strip()
    return None


def format_storage(java: str, libs: Path, layout: Layout, config: Path,
                   secured: Secured | None = None, node: KafkaNode | None = None) -> None:
    node = node or layout.kafka_nodes[0]
    if (node.dir / "data" / "meta.properties").exists():
        return
    cluster_id = _cluster_id(layout) or _storage_tool(java, libs, "random-uuid").splitlines()[-1]
    scram = ["--add-scram", secured.scram_argument()] if secured else []
    _storage_tool(java, libs, "format", "-t", cluster_id, "-c", str(config), *scram)


def logs_tail(layout: Layout, node: KafkaNode | None = None) -> str:
    node = node or layout.kafka_nodes[0]
    console = tail(layout.logs / f"{node.name}.console.log", 15)
    return f"{tail(node.logs / 'kafka.log')}\n--- console ---\n{console}"


def start(layout: Layout, timeout: float = 90.0, secured: Secured | None = None,
          overrides: Mapping[str, str] | None = None) -> int:
    """Start every node of the stack that does not run yet; returns the first node's pid once the
    cluster answers metadata requests with every broker registered.
    `secured`: SASL/SCRAM and ACLs instead of plaintext (a stack folder is formatted for one mode);
    `overrides`: server.properties of this start beyond the defaults."""
    stopped = [node for node in layout.kafka_nodes if running_pid(layout.pid_file(node.name)) is None]
    if stopped:
        java = require_tool("java", "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)")
        for port in (p for node in stopped for p in (node.port, node.controller_port)):
            if port_in_use(port):
                raise StackError(f"port {port} for Kafka is already in use by another process")
        libs = ensure_jars()
        for node in stopped:
            _start_node(java, libs, layout, node, secured, overrides)
        try:
            wait_ready(layout, timeout, secured)
        except StackError:
            stop(layout)
            raise
    return running_pid(layout.pid_file(layout.kafka_nodes[0].name))


def _start_node(java: str, libs: Path, layout: Layout, node: KafkaNode, secured: Secured | None,
                overrides: Mapping[str, str] | None) -> int:
    config = write_config(layout, secured, overrides, node)
    node.logs.mkdir(parents=True, exist_ok=True)
    format_storage(java, libs, layout, config, secured, node)
    cmd = [java, *HEAP, *JVM_OPTIONS, gc_log_option(node.logs / "gc.log"),
           f"-Dlog4j2.configurationFile={LOG4J}", f"-Dkafka.logs.dir={node.logs}",
           "-cp", f"{libs}/*", "kafka.Kafka", str(config)]
    return start_detached(cmd, log_file=layout.logs / f"{node.name}.console.log",
                          pid_file=layout.pid_file(node.name), cwd=node.dir)


def gc_log_option(path: Path) -> str:
    """One line per collector pause, with the time it happened, in a few files that rotate."""
    return f"-Xlog:gc:file={path}:time,uptime:filecount=4,filesize=10m"


def wait_ready(layout: Layout, timeout: float, secured: Secured | None = None) -> None:
    client_options = secured.client_options() if secured else {}
    deadline = time.monotonic() + timeout
    while True:
        for node in layout.kafka_nodes:
            if running_pid(layout.pid_file(node.name)) is None:
                raise StackError(f"Kafka node {node.node_id} exited during start-up; last log lines:\n"
                                 f"{logs_tail(layout, node)}")
        if all(tcp_open(node.port) for node in layout.kafka_nodes) and \
                kafka_answers(layout.bootstrap, brokers=layout.brokers, **client_options):
            return
        if time.monotonic() > deadline:
            raise StackError(f"Kafka did not answer on {layout.bootstrap} within {timeout:.0f}s; "
                             f"last log lines:\n{logs_tail(layout)}")
        time.sleep(0.3)


def stop(layout: Layout, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
    """Stop every node; returns the first node's pid, if it ran."""
    return stop_nodes(layout, sig, timeout).get(layout.kafka_nodes[0].name)


def stop_nodes(layout: Layout, sig: int = signal.SIGTERM, timeout: float = 15.0) -> dict[str, int]:
    """Stop every node, the last first; returns the pid of each that ran, by node name."""
    stopped = {node.name: stop_pid_file(layout.pid_file(node.name), sig, timeout)
               for node in reversed(layout.kafka_nodes)}
    return {name: pid for name, pid in stopped.items() if pid is not None}
