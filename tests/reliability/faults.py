"""The faults, struck at random moments while the workload runs, until it is answered and each
target has been struck at least once; then everything is brought back."""
import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from deploy.local import stack
from tests.integration.test_housekeeping_support import device_id, pending
from tests.reliability.platform import SERVICES, STACK_DIR, Platform

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


class BrokerRestart(Fault):
    """Stop the only Kafka broker (SIGTERM), start it again a few seconds later."""

    def __init__(self) -> None:
        super().__init__("Kafka broker stop/start", (10.0, 20.0))

    async def strike(self, platform, target, rng):
        await asyncio.to_thread(stack.stop_kafka, STACK_DIR)
        await asyncio.sleep(rng.uniform(2.0, 6.0))
        await self.heal(platform)

    async def heal(self, platform):
        await asyncio.to_thread(stack.start_kafka, STACK_DIR)


class PostgresRestart(Fault):
    """Stop PostgreSQL (fast shutdown: every session is cut), start it again."""

    def __init__(self) -> None:
        super().__init__("PostgreSQL stop/start", (6.0, 12.0))

    async def strike(self, platform, target, rng):
        await asyncio.to_thread(stack.stop_postgres, STACK_DIR)
        await asyncio.sleep(rng.uniform(2.0, 6.0))
        await self.heal(platform)

    async def heal(self, platform):
        await asyncio.to_thread(stack.start_postgres, STACK_DIR)


FAULTS = {"none": lambda: Fault("none (baseline)", (1.0, 1.0), ()),
          "kill": KillServices, "rebalance": SecondInstance,
          "broker": BrokerRestart, "postgres": PostgresRestart, "housekeeping": HousekeepingRestarts}


async def inject(fault: Fault, platform: Platform, rng: random.Random, started: asyncio.Event,
                 done: asyncio.Event) -> int:
    """From when the load is flowing (`started`) until `done` is set and every target was
    struck: strike at random moments. Returns the number of strikes."""
    pending, strikes = list(fault.targets), 0
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
        strikes += 1
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
