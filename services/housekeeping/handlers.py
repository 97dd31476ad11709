"""What housekeeping does with each piece of work: load, decide, save, emit.

- partition work (from the faust tracker): a run removes the due devices of one table partition
  by RemoveDevice commands and records every decision with the policy version; forecasts and
  retention reports answer for one partition into PostgreSQL;
- confirmed removals (from the alert relay): an N8 to the Notifying Party when it is a Service User.
"""
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from services.housekeeping import metrics, planning, store, work
from services.housekeeping.domain import (
    Decision, from_micros, n8_payload, removal_command_id,
)
from services.housekeeping.policy import RunningPolicy
from shared import kafka
from shared.feeds import RunRequest
from shared.kafka import Output
from shared.messages import DeviceEvent, RemoveDevice
from shared.parties import PartyRegistry
from shared.codes import DEVICE_REMOVED
from shared.dispatch import MissingHandler
from shared.instants import utc_instant
from shared.responses import alert
from shared.settings import Settings

log = logging.getLogger(__name__)
SERVICE = "housekeeping"


def parse_run_request(value: bytes | None) -> datetime:
    try:
        return utc_instant(RunRequest.model_validate_json(value or b"").as_of)
    except ValidationError as error:
        raise ValueError(f'a housekeeping run is {{"as_of": "<ISO-8601 instant>"}}: {error}') from None


class PartitionWork:
    def __init__(self, settings: Settings, policy: RunningPolicy, pool: asyncpg.Pool,
                 producer: AIOKafkaProducer) -> None:
        self.settings, self.policy, self.pool, self.producer = settings, policy, pool, producer
        # One handler per kind of partition work.
        self.kinds: dict[str, Callable[..., Awaitable[None]]] = {
            "run": self.run, "forecast": self.forecast, "retention": self.retention}
        if missing := set(work.KINDS) - self.kinds.keys():
            raise MissingHandler(f"housekeeping has no handler for partition work {', '.join(sorted(missing))}")

    async def handle(self, partition: int, message: work.Work, covered: int,
                     entries: Callable[[], Iterable]) -> None:
        """`covered`: the table holds every device event of the partition below this offset."""
        await self.kinds[message.kind](partition, message, covered, entries)

    async def forecast(self, partition: int, message: work.Forecast, covered: int, entries) -> None:
        result = planning.forecast(entries(), partition, message.policy, message.start, message.end)
        async with self.pool.acquire() as conn:
            await store.save_query_part(conn, message.query_id, partition, result)

    async def retention(self, partition: int, message: work.Retention, covered: int, entries) -> None:
        result = planning.retention(entries(), partition, message.policy, message.as_of)
        async with self.pool.acquire() as conn:
            await store.save_query_part(conn, message.query_id, partition, result)

    async def run(self, partition: int, message: work.Run, covered: int, entries) -> None:
        """Decided on a table that holds every device event of the partition below offset
        `covered`. Asked again, a run decides again on the table as it is then: a device removed
        since is no longer there, one still due is asked for with the same command ID, which
        inventory answers once, and the N8 relay alerts once per removal."""
        as_of, policy = message.as_of, message.policy
        started = time.perf_counter()
        plan = planning.plan_run(entries(), partition, policy, as_of)
        decisions = []
        for device in plan.removals:
            command = RemoveDevice(
                command_id=removal_command_id(device.device_id, device.pending_since),
                device_id=device.device_id, pending_since=device.pending_since, as_of=as_of,
                policy_version=policy.version,
                reason=f"Pending since {device.pending_since.isoformat()}, "
                       f"{policy.months_for(device.device_type)} months or more as of {as_of.isoformat()}")
            await self.producer.send(self.settings.topics.inventory_commands, command.to_bytes(),
                                     key=device.device_id.encode())
            decisions.append((device.device_id, device.device_type, device.pending_since,
                              device.notifying_party, str(Decision.REMOVE), command.command_id))
        await self.producer.flush()
        async with self.pool.acquire() as conn:
            await store.save_run(conn, as_of, partition, policy.version, decisions, dict(plan.retained),
                                 plan.count(Decision.RETAIN_EXCLUDED), plan.count(Decision.RETAIN_BY_RULE),
                                 covered)
        metrics.REMOVALS_REQUESTED.inc(len(decisions))
        for device in plan.removals:
            metrics.DECISIONS.labels(Decision.REMOVE, device.device_type, policy.version).inc()
        for key, count in plan.retained.items():
            decision, device_type, _ = key.split("|")
            metrics.DECISIONS.labels(decision, device_type, policy.version).inc(count)
        metrics.RUNS.inc()
        metrics.RUN_SECONDS.set(time.perf_counter() - started)
        log.info("run as of %s, partition %d, policy %s, device events below offset %d: %d removals "
                 "asked, %d kept by exclusion, %d kept by rule", as_of.isoformat(), partition,
                 policy.version, covered, len(decisions), plan.count(Decision.RETAIN_EXCLUDED),
                 plan.count(Decision.RETAIN_BY_RULE))

    async def dead_letter(self, message, reason: str) -> None:
        log.warning("dead letter from %s[%d]@%d: %s", message.topic, message.partition,
                    message.offset, reason)
        out = kafka.dead_letter(self.settings, message, reason, SERVICE)
        await self.producer.send(out.topic, out.value, key=out.key, headers=out.kafka_headers())


# --- Confirmed removals: N8 ---

def housekeeping_removal(record: ConsumerRecord) -> DeviceEvent | None:
    """A DeviceRemoved answering one of housekeeping's RemoveDevice commands, else None."""
    value = record.value or b""
    if b'"DeviceRemoved"' not in value or b"housekeeping:" not in value:
        return None
    try:
        event = DeviceEvent.model_validate_json(value)
    except ValidationError:
        return None  # the tracker dead-letters malformed events
    if event.type != "DeviceRemoved" or not (event.command_id or "").startswith("housekeeping:"):
        return None
    return event


def pending_since_of(command_id: str) -> datetime:
    return from_micros(int(command_id.rsplit(":", 1)[1]))


async def handle_removals(settings: Settings, registry: PartyRegistry, conn: asyncpg.Connection,
                          records: list[ConsumerRecord]) -> list[Output]:
    """Each confirmed removal is recorded once per Pending spell; the record that recorded it
    (or that same record delivered again) sends the N8, so a repeated event alerts nothing."""
    removals, seen = [], set()
    for record in records:
        event = housekeeping_removal(record)
        if event is None:
            continue
        spell = (event.device_id, pending_since_of(event.command_id))
        if spell in seen:
            continue
        seen.add(spell)
        removals.append((record, event, spell[1]))
    owned = await store.record_removals(conn, [
        (e.device_id, since, e.notifying_party, e.policy_version,
         e.notifying_party_kind == "service_user", r.partition, r.offset, e.occurred_at)
        for r, e, since in removals])
    outputs = []
    for record, event, _ in removals:
        if (record.partition, record.offset) not in owned or event.notifying_party_kind != "service_user":
            continue
        party = await registry.get(event.notifying_party)
        fmt = party.alert_format if party else "xml"
        outputs.append(alert(settings, event.notifying_party, fmt, DEVICE_REMOVED,
                             n8_payload(event.device_id), event.occurred_at))
    metrics.ALERTS.inc(len(outputs))
    return outputs
