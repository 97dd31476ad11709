"""Fixtures `kafka_bootstrap` and `database_url`, one per test run, for the integration tests.

Each comes from, in order: KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL; containers when a Docker engine
answers; local processes (deploy.local) in <repo>/.stack-test. Nothing starts unless a test asks for one.
SMI_TEST_KEEP_STACK=1 leaves the local processes running after the run; SMI_TEST_KAFKA_PORT and
SMI_TEST_PG_PORT move them off the default ports (for test runs of two checkouts on one machine).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.topics import BROKER_DEFAULTS

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_STACK_DIR = REPO_ROOT / ".stack-test"
TEST_KAFKA_PORT = int(os.environ.get("SMI_TEST_KAFKA_PORT") or 29192)
TEST_PG_PORT = int(os.environ.get("SMI_TEST_PG_PORT") or 25532)
# The retention check runs every second rather than every 5 minutes, so that a test of what
# retention may delete sees it run (tests/integration/test_topic_retention.py).
TEST_BROKER_OVERRIDES = {"log.retention.check.interval.ms": "1000"}
KAFKA_IMAGE, POSTGRES_IMAGE = "confluentinc/cp-kafka:7.6.0", "postgres:16-alpine"


def unavailable(reason: str) -> None:
    """Integration infrastructure is missing: a failure on CI, a skip on a workstation."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


class Containers:
    def __init__(self, need_kafka: bool, need_postgres: bool) -> None:
        self.started: list = []
        try:
            self.bootstrap = self._kafka() if need_kafka else None
            self.database_url = self._postgres() if need_postgres else None
        except BaseException:
            self.close()
            raise

    def _kafka(self) -> str:
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:
            from testcontainers.kafka import KafkaContainer
        container = KafkaContainer(KAFKA_IMAGE).with_kraft()
        container.with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        container.with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        container.with_env("KAFKA_NUM_PARTITIONS", "3")
        for name, value in {**BROKER_DEFAULTS, **TEST_BROKER_OVERRIDES}.items():
            container.with_env(f"KAFKA_{name.upper().replace('.', '_')}", value)
        container.start()
        self.started.append(container)
        return container.get_bootstrap_server()

    def _postgres(self) -> str:
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:
            from testcontainers.postgres import PostgresContainer
        container = PostgresContainer(POSTGRES_IMAGE, username="smi", password="smi", dbname="smi", driver=None)
        container.start()
        self.started.append(container)
        return container.get_connection_url()

    def close(self) -> None:
        for container in reversed(self.started):
            container.stop()


class LocalStack:
    """Processes in TEST_STACK_DIR, shared by concurrent test runs. The last run to finish stops what
    test runs started; a stack started by hand there is left running."""

    started_marker = TEST_STACK_DIR / ".started-by-tests"

    def __init__(self, kafka: bool = True) -> None:
        """`kafka=False`: PostgreSQL alone (the handler tests)."""
        from deploy.local import stack

        self.stack = stack
        TEST_STACK_DIR.mkdir(parents=True, exist_ok=True)
        self.users = open(TEST_STACK_DIR / ".users", "w")
        fcntl.flock(self.users, fcntl.LOCK_SH)
        before = {name for name, pid in stack.status(TEST_STACK_DIR).items() if pid}
        wanted = {"kafka", "postgres"} if kafka else {"postgres"}
        try:
            if kafka:
                self.bootstrap, self.database_url = stack.ensure_infrastructure(
                    TEST_STACK_DIR, TEST_KAFKA_PORT, TEST_PG_PORT, TEST_BROKER_OVERRIDES)
            else:
                self.bootstrap, self.database_url = None, self._postgres_alone()
        except BaseException:
            self._remember(wanted - before)
            self.close()
            raise
        self._remember(wanted - before)

    @staticmethod
    def _postgres_alone() -> str:
        from deploy.local import postgres
        from deploy.local.layout import Layout

        layout = Layout.resolve(TEST_STACK_DIR, TEST_KAFKA_PORT, TEST_PG_PORT)
        layout.record()
        with open(TEST_STACK_DIR / ".lock", "w") as lock:  # the lock deploy.local's stack takes
            fcntl.flock(lock, fcntl.LOCK_EX)
            postgres.start(layout)
        return layout.database_url

    def _remember(self, started: set[str]) -> None:
        if started:
            known = set(self.started_marker.read_text().split()) if self.started_marker.exists() else set()
            self.started_marker.write_text("\n".join(sorted(known | started)) + "\n")

    def close(self) -> None:
        try:
            if os.environ.get("SMI_TEST_KEEP_STACK") == "1":
                return
            try:
                fcntl.flock(self.users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            started = set(self.started_marker.read_text().split()) if self.started_marker.exists() else set()
            if "kafka" in started:
                self.stack.stop_kafka(TEST_STACK_DIR)
            if "postgres" in started:
                self.stack.stop_postgres(TEST_STACK_DIR)
            self.started_marker.unlink(missing_ok=True)
        finally:
            self.users.close()


@pytest.fixture(scope="session")
def _infrastructure() -> Iterator[Containers | LocalStack]:
    reasons = []
    provider = None
    if docker_answers():
        try:
            provider = Containers(need_kafka=not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
                                  need_postgres=not os.environ.get("DATABASE_URL"))
        except Exception as exc:
            reasons.append(f"containers did not start: {exc!r}")
    else:
        reasons.append("no Docker engine answers")
    if provider is None:
        try:
            provider = LocalStack()
        except Exception as exc:
            reasons.append(f"the local stack did not start: {exc}")
    if provider is None:
        unavailable("no Kafka/PostgreSQL for integration tests: " + "; ".join(reasons))
    try:
        yield provider
    finally:
        provider.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> str:
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return bootstrap
    return request.getfixturevalue("_infrastructure").bootstrap


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> str:
    if url := os.environ.get("DATABASE_URL"):
        return url
    return request.getfixturevalue("_infrastructure").database_url
