"""`smi parties`: the party registry, read and changed without code changes."""
import asyncio
from pathlib import Path

import asyncpg
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from shared import parties as registry
from shared.settings import Settings

app = typer.Typer(no_args_is_help=True, help="The party registry: DCC Users and CSPs.")
console = Console()


async def _with_conn(work):
    conn = await asyncpg.connect(Settings().database_url)
    try:
        return await work(conn)
    finally:
        await conn.close()


@app.command("list")
def list_parties() -> None:
    """Every party with its kind, roles and alert format."""
    known = asyncio.run(_with_conn(registry.fetch_all))
    table = Table("EUI", "name", "kind", "roles", "alerts", "certificate")
    for party in sorted(known.values(), key=lambda p: p.eui):
        table.add_row(party.eui, party.name, party.kind, ",".join(sorted(party.roles)),
                      party.alert_format, "yes" if party.certificate else "")
    console.print(table)


@app.command()
def add(eui: str = typer.Option(..., help="the party's EUI-64"),
        name: str = typer.Option(...),
        kind: str = typer.Option("service_user", help="service_user or csp"),
        roles: str = typer.Option("", help="User Roles, comma-separated: IS,ES,GS,RSA,ED,GT,OU"),
        alert_format: str = typer.Option("xml", help="xml or json"),
        certificate: Path = typer.Option(None, exists=True, help="PEM signing certificate")) -> None:
    """Add a party, or change one (same EUI)."""
    try:
        party = registry.Party(eui=eui, name=name, kind=kind,
                               roles=frozenset(r.strip().upper() for r in roles.split(",") if r.strip()),
                               alert_format=alert_format,
                               certificate=certificate.read_text() if certificate else None)
    except ValidationError as error:
        console.print(f"[red]error:[/red] {error.errors(include_url=False)[0]['msg']}")
        raise typer.Exit(2)
    asyncio.run(_with_conn(lambda conn: registry.upsert(conn, [party])))
    console.print(f"{party.eui} {party.name}: saved")
