"""One round: a fresh platform, the workload driven through it while one fault strikes, then the
invariants checked once everything is back and the platform has settled."""
import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from tests.reliability.check import Counts, check
from tests.reliability.driver import Driver, Observer
from tests.reliability.faults import FAULTS, inject
from tests.reliability.model import expect
from tests.reliability.platform import Platform, Stack
from tests.reliability.workload import generate
from tests.support import drop_database, isolated_settings

log = logging.getLogger(__name__)
SETTLE_SECONDS = 5.0  # after the invariants first hold: time for a late duplicate to show


async def run_round(fault_name: str, stack: Stack, bootstrap: str, database_url: str, requests: int,
                    seed: int, workdir: Path) -> Counts:
    fault = FAULTS[fault_name]()
    assert stack.brokers >= fault.brokers, f"{fault.name} needs {fault.brokers} brokers"
    rng = random.Random(f"{seed}-{fault_name}")
    workload = generate(seed, requests, datetime.now(UTC).replace(second=0, microsecond=0),
                        fault.runs_wait_for_catch_up)
    expected = expect(workload)
    settings = await isolated_settings(bootstrap, database_url,
                                       replication_factor=stack.layout.replication_factor)
    platform = Platform(settings, workdir, stack)
    wait_seconds = 120 + requests * 0.02
    started = time.monotonic()
    platform.start_all()
    observer = Observer(settings)
    done = asyncio.Event()
    try:
        await observer.start()
        driver = Driver(settings, workload, expected, observer, wait_seconds,
                        partial(fault.before_phase, platform), fault.spread)
        injector = asyncio.create_task(inject(fault, platform, rng, driver.sending, done))
        watchdog = asyncio.create_task(_revive_forever(platform))
        try:
            await driver.run()
        finally:
            done.set()
            strikes = await injector
        counts = await _settled(settings, expected, fault.name, wait_seconds)
        watchdog.cancel()
        counts.strikes, counts.struck = sum(strikes.values()), dict(strikes)
        counts.exits = list(platform.exits)
        counts.examples += [f"timed out waiting: {t}" for t in driver.timeouts]
        counts.seconds = time.monotonic() - started
        if not counts.clean:
            counts.examples.append(f"logs in {workdir}")
        return counts
    finally:
        platform.close()
        await observer.stop()
        await drop_database(settings, database_url)


async def _settled(settings, expected, fault: str, wait_seconds: float) -> Counts:
    """Check until the invariants hold (receipts have no response to wait for) or time is up,
    then once more after a pause, so that a late duplicate is still caught."""
    deadline = time.monotonic() + wait_seconds
    while True:
        counts = await check(settings, expected, fault)
        if counts.clean or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    await asyncio.sleep(SETTLE_SECONDS)
    return await check(settings, expected, fault)


async def _revive_forever(platform: Platform) -> None:
    while True:
        await asyncio.sleep(2)
        platform.revive()
