"""`smi return`: any number of hubs from a CSV file, sent as bulk returns of at most 999 hubs,
with a progress bar and a per-hub outcome file: the bulk upload MP117 asks for."""
import asyncio
import csv
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cli import topics
from shared import codes
from shared.duis import build, codec, enums
from shared.duis.models import MAX_BULK_IDS
from shared.eui import canonical_eui, is_eui
from shared.responses import response_topic
from shared.settings import Settings

console = Console()


def read_hubs(path: Path) -> tuple[list[tuple[str, str | None]], dict[str, str]]:
    """(hub, other device) pairs to send, and the hubs refused before sending with their code."""
    hubs: list[tuple[str, str | None]] = []
    refused: dict[str, str] = {}
    seen: set[str] = set()
    with path.open(newline="") as handle:
        for row in csv.reader(handle):
            if not row or not row[0].strip() or row[0].strip().lower() in ("deviceid", "device_id", "hub"):
                continue
            hub, other = row[0].strip(), (row[1].strip() if len(row) > 1 and row[1].strip() else None)
            if not is_eui(hub) or (other and not is_eui(other)):
                refused[hub] = "E11"
            elif canonical_eui(hub) in seen:
                refused[hub] = "E46"
            else:
                seen.add(canonical_eui(hub))
                hubs.append((canonical_eui(hub), canonical_eui(other) if other else None))
    return hubs, refused


def split(hubs: list) -> list[list]:
    """Requests of at most 999 hubs, as even as can be: a request of one hub is answered in pure
    DUIS 5.4, without the per-hub list that names its record and due date, so no request is
    left with a single hub unless there is only one."""
    count = -(-len(hubs) // MAX_BULK_IDS)
    size, larger = divmod(len(hubs), count) if count else (0, 0)
    chunks, start = [], 0
    for n in range(count):
        end = start + size + (n < larger)
        chunks.append(hubs[start:end])
        start = end
    return chunks


def run(fault: bool, party: str, csv_path: Path, out: Path, reason: str, return_type: str | None,
        connection: str, json_format: bool, timeout: float) -> int:
    settings = Settings()
    party = canonical_eui(party)
    hubs, refused = read_hubs(csv_path)
    chunks = split(hubs)
    base = time.time_ns() // 1000
    requests, members = [], {}
    for n, chunk in enumerate(chunks):
        ids = [h for h, _ in chunk]
        if fault:
            body = build.fault_return(ids, CHFFaultReason=reason, CHFConnectionMethod=connection,
                                      CHFFaultReturnType=return_type or enums.values(enums.CHFFaultReturnType)[1])
            if any(o for _, o in chunk):
                body["OtherDeviceID"] = [o or h for h, o in chunk]
        else:
            body = build.no_fault_return(ids, CHFNoFaultReturnType=return_type or "No Fault Return (general)")
        fmt = "json" if json_format else "xml"
        raw = build.request(party, base + n, "8.14.3" if fault else "8.14.4", body, fmt)
        request_id = build.request_id(party, base + n)
        requests.append((request_id, raw, f"application/{fmt}"))
        members[request_id] = ids
    with Progress(console=console) as progress:
        task = progress.add_task(f"{len(hubs)} hubs in {len(chunks)} requests", total=len(requests))
        answers = asyncio.run(topics.exchange(settings, requests, [response_topic(settings, party)],
                                              timeout, lambda: progress.advance(task)))
    return write_outcomes(out, members, answers, refused)


def write_outcomes(out: Path, members: dict[str, list[str]], answers: dict[str, topics.Answer],
                   refused: dict[str, str]) -> int:
    tally: dict[str, int] = {}
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["device_id", "request_id", "code", "meaning", "record_reference", "due_by"])
        for hub, code in refused.items():
            writer.writerow([hub, "", code, codes.meaning(code) + " (not sent)", "", ""])
            tally[code] = tally.get(code, 0) + 1
        for request_id, ids in members.items():
            for row in _hub_rows(request_id, ids, answers.get(request_id)):
                writer.writerow(row)
                tally[row[2]] = tally.get(row[2], 0) + 1
    table = Table("code", "hubs", "meaning")
    for code, count in sorted(tally.items()):
        table.add_row(code, str(count), codes.CODES[code].meaning if code in codes.CODES else "")
    console.print(table)
    console.print(f"per-hub outcomes: {out}")
    return 0 if set(tally) <= {"I0"} else 1


def _hub_rows(request_id: str, ids: list[str], answer: topics.Answer | None):
    if answer is None:
        return [[h, request_id, "-", "no response in time: check later with `smi track`", "", ""] for h in ids]
    document = codec.read(answer.value)
    overall = document["Header"]["ResponseCode"]
    message = (document.get("Body") or {}).get("ResponseMessage") or {}
    results = (message.get("CHFReturnResults") or {}).get("HubResult") or []
    results = results if isinstance(results, list) else [results]
    if not results:
        # The whole request was refused, or it returned one hub: then the Header's code is that
        # hub's own, and the answer names no record (`smi track` finds it by the hub).
        reason = answer.reason or _meaning(overall)
        if len(ids) == 1 and overall == "I0":
            reason += f"; record and due date: `smi track {ids[0]}`"
        return [[h, request_id, overall, reason, "", ""] for h in ids]
    return [[r["DeviceID"], request_id, r["ResponseCode"], _meaning(r["ResponseCode"]),
             r.get("ReturnsRemedyRecordReference", ""), r.get("ReturnDueDate", "")] for r in results]


def _meaning(code: str) -> str:
    return codes.meaning(code) if code in codes.CODES else ""
