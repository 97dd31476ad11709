"""The returns CLI: track a return, list a party's returns, print the reports, ask for a check.

    python -m services.returns.cli track --reference RRR-0000000001
    python -m services.returns.cli track --device 00-DB-00-00-00-00-00-01
    python -m services.returns.cli track --request 90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:7
    python -m services.returns.cli party 90-B3-D5-1F-30-01-00-00 --limit 20 --offset 0
    python -m services.returns.cli report open [--as-of 2026-01-01T00:00:00+00:00]
    python -m services.returns.cli report reasons
    python -m services.returns.cli check-overdue [--as-of ...]
"""
import argparse
import asyncio
import sys
from datetime import datetime, timezone

import asyncpg
import orjson

from services.returns import tracking
from services.returns.app import request_overdue_check
from shared import kafka
from shared.instants import parse_instant
from shared.settings import Settings


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="returns", description="Comms Hub returns")
    commands = top.add_subparsers(dest="command", required=True)
    track = commands.add_parser("track", help="a return's every hub, status and history")
    which = track.add_mutually_exclusive_group(required=True)
    which.add_argument("--reference", help="Returns Remedy Record reference")
    which.add_argument("--device", help="hub Device ID")
    which.add_argument("--request", help="RequestID of the return request")
    party = commands.add_parser("party", help="a party's return requests, newest first")
    party.add_argument("party")
    party.add_argument("--limit", type=int, default=50)
    party.add_argument("--offset", type=int, default=0)
    report = commands.add_parser("report", help="open and overdue by party and age, or reasons")
    report.add_argument("which", choices=["open", "reasons"])
    report.add_argument("--as-of", type=parse_instant)
    check = commands.add_parser("check-overdue", help="ask the service for an overdue check now")
    check.add_argument("--as-of", type=parse_instant)
    return top


async def run(args: argparse.Namespace, settings: Settings) -> object:
    now = datetime.now(timezone.utc)
    if args.command == "check-overdue":
        producer = kafka.plain_producer(settings)
        await producer.start()
        try:
            await request_overdue_check(producer, settings, args.as_of or now)
        finally:
            await producer.stop()
        return {"requested": "CheckOverdue", "as_of": (args.as_of or now).isoformat()}
    conn = await asyncpg.connect(settings.database_url)
    try:
        if args.command == "track":
            if args.reference:
                return await tracking.by_reference(conn, args.reference)
            if args.device:
                return await tracking.by_hub(conn, args.device)
            return await tracking.by_request(conn, args.request)
        if args.command == "party":
            return await tracking.party_requests(conn, args.party, args.limit, args.offset)
        if args.which == "open":
            return await tracking.open_report(conn, args.as_of or now)
        return await tracking.reasons_report(conn)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result = asyncio.run(run(args, Settings()))
    if result is None:
        print("no return found", file=sys.stderr)
        return 1
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
