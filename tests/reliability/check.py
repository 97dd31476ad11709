"""The invariants, checked against the reference model from a fresh read of every output topic
(read_committed, from the beginning) and of the SMI and returns tables."""
import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.settings import Settings
from tests.reliability.encoding import alert, header, response_code
from tests.reliability.model import Expected


@dataclass
class Counts:
    fault: str
    sent: int = 0             # Service Request records sent, replays included
    answered: int = 0         # RequestIDs with at least one response
    duplicated: int = 0       # responses beyond one per request record sent
    lost: int = 0             # request records sent that got no response
    wrong: int = 0            # first response with another code than the model's, or a repeat unlike it
    smi_diffs: int = 0        # devices whose presence or status differs from the model
    rrr_missing: int = 0
    rrr_duplicated: int = 0   # records beyond one per accepted hub, or with the wrong status
    n8_missing: int = 0
    n8_duplicated: int = 0    # beyond one per removed device, or for a device not removed
    dead_unexpected: int = 0  # for an input not meant to be a dead letter
    dead_duplicated: int = 0  # an input meant to be a dead letter, dead-lettered more than once
    dead_duplicated_by: list[str] = field(default_factory=list)  # the services that did
    dead_missing: int = 0
    reads_by_intake: int = 0  # Read Inventory requests intake answered itself (the rest went on)
    changes_by_intake: int = 0  # changes intake applied through inventory's API in its own hop
    changes_kept: int = 0  # of those routed after a call: applied by the call, published from the topic
    strikes: int = 0
    struck: dict[str, int] = field(default_factory=dict)  # strikes by target, where there are several
    exits: list[str] = field(default_factory=list)
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.duplicated or self.lost or self.wrong or self.smi_diffs or self.rrr_missing
                    or self.rrr_duplicated or self.n8_missing or self.n8_duplicated
                    or self.dead_unexpected or self.dead_duplicated or self.dead_missing)


async def read_all(settings: Settings, topic: str) -> list:
    """Every committed record of the topic up to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                isolation_level="read_committed", enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for part in batch.values() for r in part]
        return records
    finally:
        await consumer.stop()


async def check(settings: Settings, expected: Expected, fault: str) -> Counts:
    counts = Counts(fault, sent=sum(expected.sends.values()))
    t = settings.topics
    responses, alerts, letters = await asyncio.gather(
        read_all(settings, t.responses), read_all(settings, t.alerts), read_all(settings, t.dead_letters))
    _responses(counts, expected, responses)
    _alerts(counts, expected, alerts)
    _dead_letters(counts, expected, letters)
    conn = await asyncpg.connect(settings.database_url)
    try:
        smi = {r["device_id"]: r["status"] for r in await conn.fetch("select device_id, status from inventory.devices")}
        records = await conn.fetch("select device_id, status from returns.records")
        counts.reads_by_intake, counts.changes_by_intake = await conn.fetchrow(
            "select count(*) filter (where variant = '8.2'), count(*) filter (where variant <> '8.2')"
            " from intake.requests where outcome = 'answered'")
        counts.changes_kept = await conn.fetchval(
            "select count(distinct a.message_id) from inventory.applied_outputs a"
            " join intake.requests r on a.message_id = 'request:' || r.request_id where r.outcome = 'routed'")
    finally:
        await conn.close()
    diffs = [d for d in smi.keys() | expected.smi.keys() if smi.get(d) != expected.smi.get(d)]
    counts.smi_diffs = len(diffs)
    counts.examples += [f"SMI {d}: {smi.get(d)} != model {expected.smi.get(d)}" for d in diffs[:3]]
    _records(counts, expected, records)
    return counts


def _responses(counts: Counts, expected: Expected, records: list) -> None:
    by_id = defaultdict(list)
    for r in records:
        by_id[header(r, "request-id")].append(r.value)
    counts.answered = sum(1 for rid in expected.sends if by_id.get(rid))
    for rid, sends in expected.sends.items():
        got = by_id.get(rid, [])
        counts.lost += max(0, sends - len(got))
        counts.duplicated += max(0, len(got) - sends)
        if got and (response_code(got[0]) != expected.codes[rid] or any(v != got[0] for v in got[1:])):
            counts.wrong += 1
            counts.examples.append(f"{rid}: {response_code(got[0])} != model {expected.codes[rid]}")
        if len(got) != sends:
            counts.examples.append(f"{rid}: {len(got)} responses for {sends} sent")
    strays = [rid for rid in by_id if rid not in expected.sends]
    counts.duplicated += sum(len(by_id[rid]) for rid in strays)


def _alerts(counts: Counts, expected: Expected, records: list) -> None:
    n8 = Counter()
    for r in records:
        code, device = alert(r.value)
        if code != "N8" or expected.n8.get(device) != r.key.decode():
            counts.n8_duplicated += 1
            counts.examples.append(f"unexpected alert {code} {device} to {r.key.decode()}")
        else:
            n8[device] += 1
    counts.n8_missing = sum(1 for d in expected.n8 if not n8[d])
    counts.n8_duplicated += sum(n - 1 for n in n8.values() if n > 1)


def _dead_letters(counts: Counts, expected: Expected, records: list) -> None:
    want, got = Counter(expected.dead_letters), Counter(r.value for r in records)
    counts.dead_missing = sum((want - got).values())
    extra = got - want
    counts.dead_unexpected = sum(n for v, n in extra.items() if v not in want)
    counts.dead_duplicated = sum(n for v, n in extra.items() if v in want)
    counts.dead_duplicated_by = sorted({header(r, "dlq-service") for r in records
                                        if r.value in want and extra[r.value]})
    counts.examples += [f"dead letter x{got[v]} {v[:60]!r}" for v in extra][:3]


def _records(counts: Counts, expected: Expected, rows) -> None:
    found = defaultdict(list)
    for row in rows:
        found[row["device_id"]].append(row["status"])
    counts.rrr_missing = sum(1 for hub in expected.records if hub not in found)
    for hub, statuses in found.items():
        if statuses != [expected.records.get(hub)]:
            counts.rrr_duplicated += max(1, len(statuses) - 1)
            counts.examples.append(f"RRR {hub}: {statuses} != model {expected.records.get(hub)}")
