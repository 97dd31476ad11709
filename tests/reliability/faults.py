"""The faults, struck at random moments while the workload runs, until it is answered and each
target has been struck at least once; then everything is brought back."""
import asyncio
import logging
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from deploy.acl import KafkaTools
from deploy.local import stack
from shared.kafka import transactional_id
from tests.integration.test_housekeeping_support import device_id, pending
from tests.reliability.driver import SEND_SECONDS
from tests.reliability.platform import SERVICES, Platform

log = logging.getLogger(__name__)
BACKLOG = 20_000  # device events of other devices put before a restarted housekeeping worker


@dataclass
class Fault:
    name: str
    pause: tuple[float, float]       # seconds between strikes
    targets: tuple[str, ...] = ("",)  # each struck at least once, in a shuffled cycle
    # False: the housekeeping runs are sent without waiting for housekeeping to take in the
    # device events before them, so a run meets a worker that restores, rebalances or lags.
    runs_wait_for_catch_up: bool = True
    spread: float = SEND_SECONDS      # the load's inputs are spread over at least this long
    brokers: int = 1                  # of the stack the fault needs
    # True: some change applied through inventory's API after intake gave up on the call and
    # routed it must show in the round, or the path the fault is there for went untried.
    expects_kept_changes: bool = False

    async def strike(self, platform: Platform, target: str, rng: random.Random) -> None:
        pass

    async def heal(self, platform: Platform) -> None:
        pass

    async def before_phase(self, platform: Platform, phase: str) -> None:
        """Called as the workload is about to send a phase's inputs."""


class KillServices(Fault):
    """SIGKILL a service at a random moment, restart it a moment later (same instance id)."""

    def __init__(self) -> None:
        super().__init__("SIGKILL each service", (2.0, 6.0), SERVICES)

    async def strike(self, platform, target, rng):
        platform.kill(target)
        await asyncio.sleep(rng.uniform(0.0, 2.0))
        platform.start(target)


class SecondInstance(Fault):
    """A second instance (its own instance id) joins the consumer groups, works a while, leaves."""

    def __init__(self) -> None:
        super().__init__("second instance joins/leaves", (1.0, 3.0), SERVICES)

    async def strike(self, platform, target, rng):
        platform.start(target, "b")
        await asyncio.sleep(rng.uniform(6.0, 12.0))
        await asyncio.to_thread(platform.stop, target, "b")

    async def heal(self, platform):
        for service in SERVICES:
            if (service, "b") in platform.processes:
                await asyncio.to_thread(platform.stop, service, "b")


class HousekeepingRestarts(Fault):
    """Housekeeping down while every other input is sent, started again as the runs are sent,
    so that they meet a worker with the whole backlog of device events still to take in; then
    stopped (SIGTERM) or killed and started again at once, or a second instance joining and
    leaving, every 6 to 12 s while the runs are carried out."""

    def __init__(self) -> None:
        # A pause long enough for a restarted worker to restore and take in some of the backlog.
        super().__init__("housekeeping restarts/rebalances during runs", (6.0, 12.0),
                         ("stop", "kill", "second"), runs_wait_for_catch_up=False)
        self.runs_sent = asyncio.Event()

    async def before_phase(self, platform, phase):
        if phase == "setup":
            await asyncio.to_thread(platform.stop, "housekeeping")
            await _backlog(platform.settings, BACKLOG)
        elif phase == "housekeeping":
            platform.start("housekeeping")
            self.runs_sent.set()

    async def strike(self, platform, target, rng):
        await self.runs_sent.wait()
        if target == "second":
            platform.start("housekeeping", "b")
            await asyncio.sleep(rng.uniform(3.0, 8.0))
            await asyncio.to_thread(platform.stop, "housekeeping", "b")
            return
        if target == "stop":
            await asyncio.to_thread(platform.stop, "housekeeping")
        else:
            platform.kill("housekeeping")
        platform.start("housekeeping")

    async def heal(self, platform):
        if ("housekeeping", "b") in platform.processes:
            await asyncio.to_thread(platform.stop, "housekeeping", "b")


async def _backlog(settings, count: int) -> None:
    """Device events of other devices, Pending since now (never due at the run), ahead of the
    workload's on every partition: the stream a large population puts before a restarted worker."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=50,
                                max_batch_size=1024 * 1024)
    await producer.start()
    try:
        now = datetime.now(UTC)
        for n in range(count):
            event = pending(device_id(n, "00-DF"), "ESME", now)
            await producer.send(settings.topics.device_events, event.to_bytes(), key=event.device_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


class StallInventory(Fault):
    """Inventory's writes held up (a lock on the table every change of a request writes first) for
    longer than intake waits for its API, then let go on, every 0.2 to 0.6 s and as the workload's
    changes are about to be sent: intake routes the changes it was applying, and inventory's API
    applies them after all as the lock goes, so that its topic path then meets them handled and
    must publish what the call produced."""

    def __init__(self) -> None:
        super().__init__("inventory's writes stall", (0.2, 0.6), ("inventory",), expects_kept_changes=True)
        self._held: list[asyncio.Task] = []

    async def strike(self, platform, target, rng):
        await (await self._hold(platform, rng.uniform(1.2, 3.0)))

    async def before_phase(self, platform, phase):
        if phase == "changes":  # its first inputs come at once, before a strike would
            self._held.append(await self._hold(platform, 2.0))

    async def heal(self, platform):
        await asyncio.gather(*self._held)

    @staticmethod
    async def _hold(platform, seconds: float) -> asyncio.Task:
        """Take the lock; return the task that lets it go after `seconds` (SMI_INVENTORY_APPLY_TIMEOUT_SECONDS is 1)."""
        conn = await asyncpg.connect(platform.settings.database_url)
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("lock table inventory.handled_messages in exclusive mode")

        async def release() -> None:
            try:
                await asyncio.sleep(seconds)
                await transaction.commit()
            finally:
                await conn.close()
        return asyncio.create_task(release())


class BrokerRestart(Fault):
    """Stop the only Kafka broker (SIGTERM), start it again a few seconds later."""

    def __init__(self) -> None:
        super().__init__("Kafka broker stop/start", (10.0, 20.0))

    async def strike(self, platform, target, rng):
        await asyncio.to_thread(stack.stop_kafka, platform.stack.dir)
        await asyncio.sleep(rng.uniform(2.0, 6.0))
        await self.heal(platform)

    async def heal(self, platform):
        await asyncio.to_thread(platform.stack.start_kafka)


class PostgresRestart(Fault):
    """Stop PostgreSQL (fast shutdown: every session is cut), start it again."""

    def __init__(self) -> None:
        super().__init__("PostgreSQL stop/start", (6.0, 12.0))

    async def strike(self, platform, target, rng):
        await asyncio.to_thread(stack.stop_postgres, platform.stack.dir)
        await asyncio.sleep(rng.uniform(2.0, 6.0))
        await self.heal(platform)

    async def heal(self, platform):
        await asyncio.to_thread(stack.start_postgres, platform.stack.dir)


class Failover(Fault):
    """On three replicating KRaft nodes (each broker and controller), SIGKILL of one node, found
    through the cluster each time: the leader of a partition of the requests topic or the
    transaction coordinator of inventory's producer (the leader of its __transaction_state
    partition), each back a moment later; a whole broker, down long enough for the controller
    to fence it and shrink the ISRs; the active controller (the metadata quorum's leader). One
    node down at a time: before each strike every replica is back in sync, as an operator would
    wait before taking another node away."""

    QUORUM_TOOL = "org.apache.kafka.tools.MetadataQuorumCommand"

    def __init__(self) -> None:
        super().__init__("Kafka failover (3 brokers)", (1.0, 3.0),
                         ("leader",) * 4 + ("coordinator", "broker", "controller"),
                         spread=120.0, brokers=3)

    async def strike(self, platform, target, rng):
        await _in_sync(platform.settings.kafka_bootstrap_servers, 90.0)
        node = await getattr(self, f"_{target}")(platform, rng)
        log.info("failover: SIGKILL of node %d (%s)", node, target)
        epoch = (await self._quorum(platform))["LeaderEpoch"] if target == "controller" else None
        await asyncio.to_thread(stack.stop_kafka_node, node, platform.stack.dir, signal.SIGKILL)
        # broker.session.timeout.ms is 9 s: a broker down longer is fenced by the controller
        await asyncio.sleep(rng.uniform(12.0, 18.0) if target == "broker" else rng.uniform(0.5, 2.0))
        await self.heal(platform)
        if epoch is not None:  # the node killed was the active controller: the quorum elected anew
            after = await self._quorum(platform)
            assert after["LeaderEpoch"] > epoch, f"node {node} was not the active controller: {after}"

    async def heal(self, platform):
        await asyncio.to_thread(platform.stack.start_kafka)

    async def _leader(self, platform, rng) -> int:
        [topic] = await _admin(platform.settings.kafka_bootstrap_servers, "describe_topics",
                               [platform.settings.topics.requests])
        return rng.choice([p["leader"] for p in topic["partitions"] if p["leader"] >= 0])

    async def _coordinator(self, platform, rng) -> int:
        # inventory's consumer group names its producer (services/inventory/app.py)
        producer = transactional_id(f"smi-inventory{platform.settings.group_suffix}", platform.instance_id("inventory"))
        return await _admin(platform.settings.kafka_bootstrap_servers, "find_coordinator", producer, 1)

    async def _broker(self, platform, rng) -> int:
        return rng.choice(platform.stack.layout.kafka_nodes).node_id

    async def _controller(self, platform, rng) -> int:
        return (await self._quorum(platform))["LeaderId"]

    async def _quorum(self, platform) -> dict[str, int]:
        """The metadata quorum's leader and epoch. aiokafka has no DescribeQuorum, and in KRaft a
        broker's metadata names a random broker as the controller: Kafka's own
        kafka-metadata-quorum tool asks the quorum."""
        status = await asyncio.to_thread(KafkaTools(platform.settings).run, self.QUORUM_TOOL,
                                         ["describe", "--status"])
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {key: int(fields[key]) for key in ("LeaderId", "LeaderEpoch")}


async def _admin(bootstrap: str, call: str, *args):
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        return await getattr(admin, call)(*args)
    finally:
        await admin.close()


async def _in_sync(bootstrap: str, timeout: float) -> None:
    """Until every partition of the cluster has all its replicas in sync (or `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
            await admin.start()
            try:
                topics = await admin.describe_topics(await admin.list_topics())
            finally:
                await admin.close()
            lagging = [(t["topic"], p["partition"]) for t in topics for p in t["partitions"]
                       if set(p["isr"]) != set(p["replicas"])]
            if not lagging:
                return
            log.info("failover: %d partitions not yet in sync, e.g. %s", len(lagging), lagging[:3])
        except Exception as error:  # the cluster settling after a restart
            log.info("failover: describing the cluster: %r", error)
        await asyncio.sleep(1.0)
    log.warning("failover: replicas still out of sync after %.0fs; striking anyway", timeout)


FAULTS = {"none": lambda: Fault("none (baseline)", (1.0, 1.0), ()),
          "kill": KillServices, "rebalance": SecondInstance,
          "broker": BrokerRestart, "postgres": PostgresRestart, "housekeeping": HousekeepingRestarts,
          "stall": StallInventory,
          "failover": Failover}


async def inject(fault: Fault, platform: Platform, rng: random.Random, started: asyncio.Event,
                 done: asyncio.Event) -> Counter[str]:
    """From when the load is flowing (`started`) until `done` is set and every target was
    struck: strike at random moments. Returns the number of strikes of each target."""
    pending, strikes = list(fault.targets), Counter()
    rng.shuffle(pending)
    await asyncio.wait([asyncio.create_task(started.wait()), asyncio.create_task(done.wait())],
                       return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(rng.uniform(0.0, 2.0))
    while pending or not done.is_set():
        if not fault.targets:
            await done.wait()
            break
        target = pending.pop() if pending else rng.choice(fault.targets)
        log.info("fault %s: striking %s", fault.name, target or "-")
        await fault.strike(platform, target, rng)
        platform.revive()
        strikes[target] += 1
        delay = rng.uniform(*fault.pause)
        if pending:
            await asyncio.sleep(delay)
        else:
            try:
                await asyncio.wait_for(done.wait(), delay)
            except asyncio.TimeoutError:
                pass
    await fault.heal(platform)
    platform.revive()
    return strikes
