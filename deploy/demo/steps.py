"""The demonstration's steps: each prints what happened and returns a one-line result."""
import asyncio
import time
from datetime import datetime

import orjson
import yaml
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from deploy.demo import feed
from deploy.demo.synthetic import SUPPLIERS, Dataset, Record, chf
from shared.duis import build, codec
from shared.settings import REPO_ROOT

console = Console()
PARTY_NAMES = {SUPPLIERS[0]: "Supplier A", SUPPLIERS[1]: "Supplier B", SUPPLIERS[2]: "Supplier C"}


async def load(watcher: feed.Watcher, settings, data: Dataset, urls: dict) -> str:
    expected = 0
    for phase in data.phases:
        started = time.monotonic()
        with Progress(console=console) as progress:
            sent = progress.add_task(f"{phase.name}: sending", total=len(phase.records))
            await feed.produce(settings, phase.records, lambda n: progress.advance(sent, n))
            progress.update(sent, completed=len(phase.records))
            request_ids = [r.request_id for r in phase.records if r.request_id]
            answered = progress.add_task(f"{phase.name}: answered", total=len(request_ids) or 1)
            await _wait(lambda: sum(r in watcher.responses for r in request_ids), len(request_ids),
                        lambda done: progress.update(answered, completed=done), phase.name, watcher)
            codes = watcher.codes(request_ids)
            expected += sum(r.events for r in phase.records
                            if r.request_id is None or _code(watcher, r) == "I0")
            applied = progress.add_task(f"{phase.name}: applied to the SMI", total=expected)
            await _wait(lambda: watcher.events, expected,
                        lambda done: progress.update(applied, completed=done), phase.name, watcher)
        refused = {c: n for c, n in codes.items() if c != "I0"}
        console.print(f"  {phase.name}: {len(phase.records):,} records in {time.monotonic() - started:.0f} s, "
                      f"responses {dict(codes)}"
                      + (f" [yellow](refused: {refused})" if refused else ""))
    console.print("  waiting for housekeeping to have every device event in its table ...")
    inventory_events = await feed.metric_total(urls["inventory_metrics"], "smi_inventory_device_events_total")
    await _housekeeping_caught_up(urls, inventory_events)
    return f"{data.devices:,} devices through the real topics ({watcher.events:,} device events)"


def _code(watcher: feed.Watcher, record: Record) -> str | None:
    raw = watcher.responses.get(record.request_id)
    return codec.read(raw)["Header"]["ResponseCode"] if raw else None


async def _wait(count, total: int, show, what: str, watcher: feed.Watcher | None = None,
                timeout: float = 240) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (done := count()) < total:
        show(done)
        if watcher and watcher.dead_letters:
            raise RuntimeError(f"{what}: {len(watcher.dead_letters)} dead letters, e.g. {watcher.dead_letters[0]}")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what}: {done:,} of {total:,} within {timeout:.0f} s")
        await asyncio.sleep(0.25)
    show(total)


async def _housekeeping_caught_up(urls: dict, events: float, timeout: float = 240) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (seen := await feed.metric_total(urls["housekeeping_metrics"],
                                           "smi_housekeeping_device_events_total")) < events:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"housekeeping has {seen:,.0f} of {events:,.0f} device events")
        await asyncio.sleep(0.5)


def policies() -> dict[str, str]:
    default = yaml.safe_load((REPO_ROOT / "deploy" / "housekeeping" / "policy.yaml").read_text())
    tactical = {**default, "version": f"{default['version']}-tactical-36", "default_months": 36}
    alternative = {**default, "version": f"{default['version']}-previously-active", "rule": "previously-active-only"}
    return {"default (12 months)": yaml.safe_dump(default), "tactical (36 months)": yaml.safe_dump(tactical),
            "previously-active-only": yaml.safe_dump(alternative)}


async def forecast(urls: dict, now: datetime) -> tuple[str, int]:
    table = Table("policy", "would remove", "by type", "would retain", "retained by reason")
    removals = {}
    for name, text in policies().items():
        body = await feed.api("POST", urls["housekeeping"] + "/forecasts",
                              json={"policy": text, "from": now.isoformat(), "to": now.isoformat()})
        removed, retained = body["removed"], body["retained"]
        removals[name] = removed["total"]
        table.add_row(name, f"{removed['total']:,}", _pairs(removed["by_type"]), f"{retained['total']:,}",
                      _pairs(retained["by_reason"]))
    console.print(table)
    default = removals["default (12 months)"]
    return (f"default would remove {default:,}; 36-month {removals['tactical (36 months)']:,}; "
            f"previously-active-only {removals['previously-active-only']:,}", default)


def _pairs(counts: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "-"


async def housekeep(watcher: feed.Watcher, settings, urls: dict, now: datetime, expected: int,
                    data: Dataset) -> str:
    producer_records = [Record("housekeeping", b"run", orjson.dumps({"as_of": now.isoformat()}), now)]
    await _send_raw(settings, settings.topics.housekeeping_runs, producer_records[0])
    with Progress(console=console) as progress:
        task = progress.add_task("housekeeping run: N8 alerts", total=expected or 1)
        await _wait(lambda: sum(n for (_, code), n in watcher.alerts.items() if code == "N8"), expected,
                    lambda done: progress.update(task, completed=done), "N8 alerts")
    table = Table("supplier", "N8 alerts")
    for (party, code), n in sorted(watcher.alerts.items()):
        if code == "N8":
            table.add_row(f"{PARTY_NAMES.get(party, party)} ({party})", f"{n:,}")
    console.print(table)
    retention = await feed.api("GET", urls["housekeeping"] + "/retention", params={"as_of": now.isoformat()})
    console.print(f"  retained only because Comms Hubs are excluded: {retention['total']:,} devices "
                  f"({_pairs(retention['by_type'])}), pending since {retention.get('oldest_pending_since')}")
    oldest_hub = data.hubs_by_party[SUPPLIERS[0]][-1]
    status = await read_inventory(watcher, settings, SUPPLIERS[0], oldest_hub, data)
    console.print(f"  the oldest retained hub {oldest_hub} reads as: {status}")
    return f"{expected:,} removed with N8; {retention['total']:,} hub devices retained; a retained hub reads {status}"


async def _send_raw(settings, topic: str, record: Record) -> None:
    from aiokafka import AIOKafkaProducer
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, record.value, key=record.key)
    finally:
        await producer.stop()


async def read_inventory(watcher: feed.Watcher, settings, party: str, device: str, data: Dataset) -> str:
    data.counter += 1
    raw = build.request(party, data.counter, "8.2", {"DeviceID": device})
    request_id = build.request_id(party, data.counter)
    await feed.produce(settings, [Record("requests", party.encode(), raw, datetime.now().astimezone(),
                                         request_id, "application/xml")])
    await feed.wait_until(lambda: request_id in watcher.responses, 60, "Read Inventory")
    answer = codec.read(watcher.responses[request_id])
    devices = _listed(_response_message(answer).get("DSPInventory", {}).get("Device"))
    status = devices[0].get("DeviceStatus") if devices else None
    return f"{answer['Header']['ResponseCode']} {status or ''}".strip()


def _response_message(answer: dict) -> dict:
    """Body/ResponseMessage of a DUIS 5.4 response: ServiceReference, its variant and the SR's payload."""
    return (answer.get("Body") or {}).get("ResponseMessage") or {}


def _listed(value) -> list:
    """A repeated element decodes to a list, a single one to itself."""
    return value if isinstance(value, list) else [] if value is None else [value]


async def returns(watcher: feed.Watcher, settings, urls: dict, data: Dataset) -> str:
    a, b, c = SUPPLIERS
    bulk = data.hubs_by_party[a][:999]
    mixed = (data.hubs_by_party[b][:5] + bulk[:2] + data.hubs_by_party[c][:2]
             + [chf(data.first + 10_000_000), data.smets1_example])
    answers = {}
    for party, hubs, label in ((a, bulk, "bulk fault return, 999 hubs"), (b, mixed, "mixed return")):
        data.counter += 1
        body = build.fault_return(hubs, CHFFaultReason="Manufacturing defect", CHFConnectionMethod="Hot-shoe")
        request_id = build.request_id(party, data.counter)
        raw = build.request(party, data.counter, "8.14.3", body)
        started = asyncio.get_running_loop().time()
        await feed.produce(settings, [Record("requests", party.encode(), raw, datetime.now().astimezone(),
                                             request_id, "application/xml")])
        await feed.wait_until(lambda: request_id in watcher.responses, 120, label, poll=0.02)
        took = asyncio.get_running_loop().time() - started
        answers[label] = answer = codec.read(watcher.responses[request_id])
        results = _listed(_response_message(answer).get("CHFReturnResults", {}).get("HubResult"))
        tally = {}
        for hub in results:
            tally[hub["ResponseCode"]] = tally.get(hub["ResponseCode"], 0) + 1
        console.print(f"  {label} from {PARTY_NAMES[party]}: overall {answer['Header']['ResponseCode']} "
                      f"in {took * 1000:.0f} ms; per hub {tally}")
    tracked = await feed.api("GET", urls["returns"] + f"/returns/hubs/{bulk[0]}")
    record = tracked["records"][-1]
    console.print(f"  tracking hub {bulk[0]}: record {record['reference']}, {record['status']}, "
                  f"due by {record['due_by']}")
    return (f"999-hub return {answers['bulk fault return, 999 hubs']['Header']['ResponseCode']}, "
            f"mixed return {answers['mixed return']['Header']['ResponseCode']}; hub tracked to {record['reference']}")


async def reports(urls: dict, now: datetime) -> str:
    stock = await feed.api("GET", urls["inventory"] + "/reports/ch-stock-level",
                           params={"date": now.date().isoformat()})
    table = Table("ordering party", "hubs in stock (CH Stock Level Charge)")
    for row in stock["parties"]:
        table.add_row(f"{PARTY_NAMES.get(row['ordering_party'], row['ordering_party'])}", f"{row['hubs']:,}")
    console.print(table)
    ageing = await feed.api("GET", urls["inventory"] + "/reports/stock-ageing", params={"as_of": now.isoformat()})
    by_type: dict[str, dict[str, int]] = {}
    for row in ageing["rows"]:
        cell = by_type.setdefault(row["device_type"], {})
        cell[row["age_months"]] = cell.get(row["age_months"], 0) + row["devices"]
    table = Table("pending devices", *ageing["buckets"])
    for device_type, cells in sorted(by_type.items()):
        table.add_row(device_type, *(f"{cells.get(b, 0):,}" for b in ageing["buckets"]))
    console.print(table)
    return f"{stock['total']:,} hubs in stock; {ageing['total']:,} devices pending"
