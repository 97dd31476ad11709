"""`make run`: a narrated demonstration of the mission on the local stack (already up)."""
import asyncio
import sys
import time
from datetime import datetime, timezone

from rich.console import Console
from rich.table import Table

from deploy.demo import feed, steps
from deploy.demo.synthetic import generate
from deploy.local import services
from deploy.local.layout import Layout
from shared.settings import Settings

console = Console()


def addresses() -> dict[str, str]:
    urls = {}
    for name in ("inventory", "housekeeping", "returns", "ssi"):
        urls[name] = f"http://127.0.0.1:{services.http_port(name)}"
    for name in ("intake", "inventory", "housekeeping", "returns"):
        urls[f"{name}_metrics"] = f"http://127.0.0.1:{services.metrics_port(name)}/metrics"
    return urls


async def demonstrate() -> list[tuple[str, str, float]]:
    layout = Layout.resolve()
    settings = Settings(kafka_bootstrap_servers=layout.bootstrap, database_url=layout.database_url)
    urls, now, done = addresses(), datetime.now(timezone.utc), []
    run = int(time.time())
    data = generate(now, first=(run % 100_000) * 1_000_000, counter=run * 1_000_000)
    watcher = feed.Watcher(settings)
    await watcher.start()
    try:
        for title, step in (
            ("1. Load a synthetic SMI", lambda: steps.load(watcher, settings, data, urls)),
            ("2. Forecast housekeeping as of today", lambda: steps.forecast(urls, now)),
            ("3. Run housekeeping", lambda: steps.housekeep(watcher, settings, urls, now, done[1][3], data)),
            ("4. Bulk Comms Hub returns", lambda: steps.returns(watcher, settings, urls, data)),
            ("5. Reports", lambda: steps.reports(urls, now)),
        ):
            console.rule(f"[bold]{title}")
            started = time.monotonic()
            result = await step()
            extra = None
            if isinstance(result, tuple):
                result, extra = result
            done.append((title, result, time.monotonic() - started, extra))
    finally:
        await watcher.stop()
    return done


def main() -> int:
    started = time.monotonic()
    try:
        done = asyncio.run(demonstrate())
    except Exception as error:  # a failed step ends the demonstration with its reason
        console.print(f"[red]demonstration failed:[/red] {error}")
        return 1
    table = Table("step", "what happened", "seconds", title="Summary")
    for title, result, seconds, _ in done:
        table.add_row(title, result, f"{seconds:.0f}")
    console.print(table)
    urls = addresses()
    console.print("Metrics: " + ", ".join(urls[f"{n}_metrics"] for n in ("intake", "inventory", "housekeeping", "returns")))
    console.print(f"APIs: inventory {urls['inventory']}, housekeeping {urls['housekeeping']}, returns {urls['returns']}; "
                  f"Self-Service Interface {urls['ssi']} (when running). "
                  "Under docker compose, Grafana is on http://127.0.0.1:3000.")
    console.print(f"Finished in {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
