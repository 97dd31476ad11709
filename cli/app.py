"""`smi`: the platform from a terminal. Every command has --help; exit codes: 0 done,
1 done but something was refused or failed, 2 could not be done (bad input, timeout, no stack)."""
import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cli import bulk_return, parties, reports, stack, topics
from shared import codes
from shared.duis import codec
from shared.responses import alert_topic, response_topic
from shared.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(parties.app, name="parties")
app.add_typer(stack.app, name="stack")
app.add_typer(reports.app, name="report")
app.command("track")(reports.track)
console = Console()


def settings() -> Settings:
    return Settings()


def fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


@app.command()
def send(files: list[Path] = typer.Argument(..., exists=True, readable=True, help="DUIS XML or JSON requests"),
         timeout: float = typer.Option(30.0, help="seconds to wait for the responses")) -> None:
    """Put Service Requests on the request topic and show the response to each."""
    config = settings()
    requests = []
    for path in files:
        raw = path.read_bytes()
        try:
            document = codec.decode(raw)
        except codec.Undecodable as error:
            fail(f"{path}: {error}")
        requests.append((document.request_id, raw, f"application/{document.format}"))
    originators = {request_id.split(":")[0].upper() for request_id, _, _ in requests}
    answers = asyncio.run(topics.exchange(
        config, requests, sorted({response_topic(config, party) for party in originators}), timeout))
    table = Table("RequestID", "code", "meaning")
    worst = 0
    for request_id, _, _ in requests:
        if request_id not in answers:
            table.add_row(request_id, "[yellow]-", f"no response within {timeout:g} s")
            worst = 2
            continue
        answer = answers[request_id]
        code = codec.read(answer.value)["Header"].get("ResponseCode", "?")
        style = "green" if code == "I0" else "yellow" if code.startswith("W") else "red"
        table.add_row(request_id, f"[{style}]{code}", answer.reason or _meaning(code))
        worst = max(worst, 0 if code == "I0" else 1)
    console.print(table)
    raise typer.Exit(worst)


def _meaning(code: str) -> str:
    return codes.CODES[code].meaning if code in codes.CODES else ""


@app.command()
def alerts(party: str = typer.Option(None, help="only this party's alerts (EUI)"),
           follow: bool = typer.Option(False, "--follow", "-f", help="keep waiting for new alerts"),
           idle: float = typer.Option(3.0, help="without --follow: stop after this many quiet seconds")) -> None:
    """DCC Alerts sent to parties (N8 removals, overdue returns), oldest first."""
    config = settings()
    topic = alert_topic(config, party.upper()) if party else config.topics.alerts
    table_rows = []

    async def read() -> None:
        async for record in topics.follow(config, [topic], True, None if follow else idle):
            key = (record.key or b"").decode()
            if party and key.upper() != party.upper():
                continue
            message = alert_message(codec.read(record.value))
            device = alert_device(message.get("DCCAlert") or {})
            row = (key, str(message.get("DCCAlertCode", "?")), device, str(record.timestamp))
            if follow:
                console.print("  ".join(row))
            table_rows.append(row)

    try:
        asyncio.run(read())
    except KeyboardInterrupt:
        pass
    if not follow:
        table = Table("party", "code", "device", "timestamp (ms)")
        for row in table_rows:
            table.add_row(*row)
        console.print(table)


def alert_message(document: dict) -> dict:
    """The DCCAlertMessage {DCCAlertCode, DCCAlert} of a DCC Alert (a DUIS `Response`)."""
    message = (document.get("Body") or {}).get("DCCAlertMessage") if isinstance(document, dict) else None
    return message if isinstance(message, dict) else {}


# Where each DCCAlert payload names its device: N8's DeviceStatusChangeEvent, the overdue
# return's CommsHubAlert.
ALERT_DEVICE_FIELDS = (("DeviceStatusChangeEvent", "DeviceID"), ("CommsHubAlert", "CommsHubDeviceID"))


def alert_device(payload: object) -> str:
    if not isinstance(payload, dict):
        return ""
    for event, field in ALERT_DEVICE_FIELDS:
        if isinstance(payload.get(event), dict) and payload[event].get(field):
            return str(payload[event][field])
    return ""


@app.command("return")
def bulk(fault: bool = typer.Option(False, "--fault", help="SR 8.14.3 fault return"),
         no_fault: bool = typer.Option(False, "--no-fault", help="SR 8.14.4 no-fault return"),
         party: str = typer.Option(..., help="the returning supplier's EUI"),
         csv_file: Path = typer.Option(..., "--csv", exists=True, help="hubs: DeviceID[,OtherDeviceID] per line"),
         out: Path = typer.Option(Path("return-outcomes.csv"), help="per-hub outcome file"),
         reason: str = typer.Option("Manufacturing defect", help="CHFFaultReason (fault returns)"),
         return_type: str = typer.Option(None, help="CHFFaultReturnType or CHFNoFaultReturnType"),
         connection: str = typer.Option("Hot-shoe", help="CHFConnectionMethod (fault returns)"),
         json_format: bool = typer.Option(False, "--json", help="send JSON instead of XML"),
         timeout: float = typer.Option(120.0, help="seconds to wait for the responses")) -> None:
    """Return any number of hubs, in requests of at most 999, and write each hub's outcome."""
    if fault == no_fault:
        fail("say --fault or --no-fault")
    raise typer.Exit(bulk_return.run(fault, party, csv_file, out, reason, return_type, connection,
                                     json_format, timeout))


def main() -> None:
    app()
