"""The faults, struck at random moments while the workload runs, until it is answered and each
target has been struck at least once; then everything is brought back."""
import asyncio
import logging
import random
from dataclasses import dataclass

from deploy.local import stack
from tests.reliability.platform import SERVICES, STACK_DIR, Platform

log = logging.getLogger(__name__)


@dataclass
class Fault:
    name: str
    pause: tuple[float, float]       # seconds between strikes
    targets: tuple[str, ...] = ("",)  # each struck at least once, in a shuffled cycle

    async def strike(self, platform: Platform, target: str, rng: random.Random) -> None:
        pass

    async def heal(self, platform: Platform) -> None:
        pass


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
          "broker": BrokerRestart, "postgres": PostgresRestart}


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
