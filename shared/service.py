"""What every service's entry point does: logs, metrics endpoint, signals, run until stopped."""
import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from shared import logs, metrics
from shared.parties import PartyRegistry
from shared.settings import Settings

Serve = Callable[[Settings, asyncio.Event], Awaitable[None]]
STOP_GRACE_SECONDS = 10.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Context:
    """What a service's handlers work with: its settings, the party registry and a clock."""
    settings: Settings
    parties: PartyRegistry
    clock: Callable[[], datetime] = utc_now


async def run_processors(processors, stop: asyncio.Event) -> None:
    """Run consumer loops until `stop` is set, then let each finish its batch in hand."""
    tasks = [asyncio.create_task(p.run()) for p in processors]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    for p in processors:
        p.stop()
    stopper.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result


def main(name: str, serve: Serve) -> None:
    settings = Settings()
    logs.configure(name, settings.log_level, settings.log_format)
    metrics.serve(settings.metrics_port)

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(serve(settings, stop))
        await asyncio.wait([task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        try:
            # A service still starting (waiting for its database, say) is not left hanging.
            await asyncio.wait_for(task, STOP_GRACE_SECONDS)
        except asyncio.TimeoutError:
            pass

    asyncio.run(_run())
