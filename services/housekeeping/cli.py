"""Ask a running housekeeping service before switching a policy on.

  python -m services.housekeeping.cli forecast POLICY.yaml --from 2025-01-01T00:00:00Z --to 2025-12-31T00:00:00Z
  python -m services.housekeeping.cli retention --as-of 2025-03-01T00:00:00Z
  python -m services.housekeeping.cli reload
"""
import argparse
import asyncio
import sys
from pathlib import Path

import aiohttp
import orjson


async def _call(method: str, url: str, body: dict | None = None) -> int:
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body) as response:
        answer = await response.json(loads=orjson.loads)
        sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0 if response.status == 200 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="housekeeping", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8103", help="the service's HTTP API")
    commands = parser.add_subparsers(dest="command", required=True)
    forecast = commands.add_parser("forecast", help="removals and retentions a policy would make")
    forecast.add_argument("policy", type=Path)
    forecast.add_argument("--from", dest="start", required=True)
    forecast.add_argument("--to", dest="end", required=True)
    retention = commands.add_parser("retention", help="hubs kept only because of the exclusion")
    retention.add_argument("--as-of", required=True)
    commands.add_parser("reload", help="re-read the policy file of the running service")
    args = parser.parse_args(argv)
    if args.command == "forecast":
        body = {"policy": args.policy.read_text(), "from": args.start, "to": args.end}
        return asyncio.run(_call("POST", f"{args.url}/forecasts", body))
    if args.command == "retention":
        return asyncio.run(_call("GET", f"{args.url}/retention?as_of={args.as_of}"))
    return asyncio.run(_call("POST", f"{args.url}/policy/reload"))


if __name__ == "__main__":
    sys.exit(main())
