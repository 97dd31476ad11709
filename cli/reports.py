"""`smi track` and `smi report`: what the services' JSON APIs answer, as tables."""
import asyncio
import re
from datetime import date, datetime, timezone

import typer
from rich.console import Console
from rich.json import JSON
from rich.table import Table

from cli.services import Endpoints, ServiceError, call
from shared.eui import is_eui

app = typer.Typer(no_args_is_help=True, help="Reports: stock, ageing, retention, forecasts, returns.")
console = Console()


def fetch(method: str, url: str, **kwargs):
    try:
        status, body = asyncio.run(call(method, url, **kwargs))
    except ServiceError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2)
    if status == 404:
        console.print(f"[yellow]not found:[/yellow] {body.get('error', body) if isinstance(body, dict) else body}")
        raise typer.Exit(1)
    if status >= 400:
        console.print(f"[red]refused ({status}):[/red] {body}")
        raise typer.Exit(2)
    return body


def track(what: str) -> None:
    """Every hub of a return by Returns Remedy Record reference, hub Device ID or RequestID."""
    base = Endpoints().returns_url
    if ":" in what:
        path = f"/returns/requests/{what}"
    elif is_eui(what):
        path = f"/returns/hubs/{what}"
    elif re.fullmatch(r"[A-Za-z]+-\d+", what):
        path = f"/returns/records/{what}"
    else:
        console.print(f"[red]error:[/red] {what!r} is not a record reference, a Device ID or a RequestID")
        raise typer.Exit(2)
    body = fetch("GET", base + path)
    hubs = body.get("hubs")
    if hubs is None:
        console.print(JSON.from_data(body))
        return
    console.print(f"{body['request_id']} ({body['variant']}) from {body['originator']}: "
                  f"{body['state']}, response {body['response_code']}")
    table = Table("hub", "code", "record", "status", "due by", "last change")
    for hub in hubs:
        last = hub["history"][-1] if hub.get("history") else {}
        table.add_row(hub["device_id"], hub["code"] or "I0", hub["reference"] or "", hub["status"],
                      hub["due_by"] or "", str(last.get("at", last.get("status", ""))))
    console.print(table)


def _today() -> str:
    return date.today().isoformat()


@app.command("stock-charge")
def stock_charge(day: str = typer.Option(None, "--date", help="YYYY-MM-DD (default: today)")) -> None:
    """CH Stock Level Charge: hubs delivered and accepted, not commissioned, per ordering party."""
    console.print(JSON.from_data(fetch("GET", Endpoints().inventory_url + "/reports/ch-stock-level",
                                       params={"date": day or _today()})))


@app.command()
def ageing(as_of: str = typer.Option(None, help="ISO-8601 instant (default: now)")) -> None:
    """Pending devices by type, party and age; hubs installed while older stock waits."""
    params = {"as_of": as_of} if as_of else None
    console.print(JSON.from_data(fetch("GET", Endpoints().inventory_url + "/reports/stock-ageing", params=params)))
    console.print(JSON.from_data(fetch("GET", Endpoints().inventory_url + "/reports/lifo", params=params)))


@app.command()
def retention(as_of: str = typer.Option(None, help="ISO-8601 instant (default: now)")) -> None:
    """Hubs kept only because their type is excluded from housekeeping, with their ages."""
    as_of = as_of or datetime.now(timezone.utc).isoformat()
    console.print(JSON.from_data(fetch("GET", Endpoints().housekeeping_url + "/retention",
                                       params={"as_of": as_of})))


@app.command()
def forecast(policy: typer.FileText = typer.Option(None, help="policy YAML (default: the running one)"),
             start: str = typer.Option(..., "--from", help="ISO-8601 instant"),
             end: str = typer.Option(..., "--to", help="ISO-8601 instant")) -> None:
    """What a policy would remove and retain between two instants, changing nothing."""
    body = {"from": start, "to": end, **({"policy": policy.read()} if policy else {})}
    console.print(JSON.from_data(fetch("POST", Endpoints().housekeeping_url + "/forecasts", json=body)))


@app.command()
def returns(as_of: str = typer.Option(None, help="ISO-8601 instant (default: now)")) -> None:
    """Open and overdue returns by party and age, and the reasons given."""
    params = {"as_of": as_of} if as_of else None
    base = Endpoints().returns_url
    console.print(JSON.from_data(fetch("GET", base + "/returns/reports/open", params=params)))
    console.print(JSON.from_data(fetch("GET", base + "/returns/reports/reasons")))
