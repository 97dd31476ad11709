"""The executor of inventory's handler table: a batch of records, in order, to their outputs.

A message handled before (its RequestID or command ID is recorded, in the same transaction as
its effect) changes nothing and emits nothing again, unless it was a Service Request applied
through the API, whose kept outputs it emits (`applied`). Each row of the table says how its handler
runs, and so how it meets the batch's working set (the devices the batch reads and changes,
written set-wise at the end, see `working_set`):
- ADDS: the batch's additions wait in the working set and are applied together, set-based,
  when a request needs them or the batch ends (`additions`);
- ON_WORKING_SET: decided one at a time against the working set;
- ALONE: changes the SMI itself, so the working set is written before it and read again after it;
- BY_VARIANT: a Service Request; validated, then run as its variant's row says.
"""
from collections.abc import Awaitable, Callable
from enum import StrEnum

import asyncpg
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel

from services.inventory import additions, metrics, store
from services.inventory import service_requests as sr
from services.inventory.context import SERVICE
from services.inventory.working_set import WorkingSet
from shared import kafka
from shared.dispatch import HandlerTable, Parsed, Row
from shared.eui import canonical_request_id
from shared.kafka import Output
from shared.messages import HandleServiceRequest
from shared.outcomes import Unusable
from shared.service import Context

# A Service Request's row: its validated request, or the answer refusing it.
RouteRequest = Callable[[Context, ConsumerRecord, HandleServiceRequest], tuple[Row, sr.Request] | Output]


class Mode(StrEnum):
    ADDS = "adds"
    ON_WORKING_SET = "on working set"
    ALONE = "alone"
    BY_VARIANT = "by variant"


async def handle(inv: Context, handlers: HandlerTable, conn: asyncpg.Connection,
                 records: list[ConsumerRecord]) -> list[list[Output]]:
    outputs: list[list[Output]] = [[] for _ in records]
    parsed: list[tuple[int, Parsed, str | None]] = []
    for index, record in enumerate(records):
        try:
            found = handlers.parse(record)
        except Unusable as error:
            outputs[index] = [kafka.dead_letter(inv.settings, record, str(error), SERVICE)]
            continue
        if found is not None:
            parsed.append((index, found, message_id(found.message)))
    fresh = await store.mark_handled(conn, list(dict.fromkeys(mid for *_, mid in parsed if mid)))
    run: list[additions.Addition] = []
    ws = WorkingSet(lambda existing: additions.apply(inv, conn, run, outputs, existing))
    await ws.load(conn, {device_id for _, p, _ in parsed for device_id in _named(p)})
    handled_before: dict[str, int] = {}
    for index, p, mid in parsed:
        if mid is not None:
            if mid not in fresh:  # handled before, or earlier in this batch
                metrics.DUPLICATES.inc()
                handled_before.setdefault(mid, index)
                continue
            fresh.discard(mid)
        row, message = p.row, p.message
        if row.mode == Mode.BY_VARIANT:
            routed = row.handler(inv, p.record, message)
            if isinstance(routed, Output):
                outputs[index] = [routed]
                continue
            row, message = routed
        if row.mode == Mode.ADDS:
            run.append(additions.Addition(index, p.record, message, row.handler))
            ws.adding(additions.device_ids(message))
            continue
        try:
            outputs[index] = await _run(inv, conn, ws, row, p.record, message)
        except Unusable as error:
            metrics.COMMANDS.labels(type(message).__name__, "dead_letter").inc()
            outputs[index] = [kafka.dead_letter(inv.settings, p.record, str(error), SERVICE)]
    await ws.flush(conn)
    await _outputs_kept(conn, handled_before, outputs)
    return outputs


async def _outputs_kept(conn: asyncpg.Connection, handled_before: dict[str, int],
                        outputs: list[list[Output]]) -> None:
    """A request handled before through the API (`applied`) publishes what it produced then,
    once: its caller may have given up on the call and routed it here."""
    requests = [mid for mid in handled_before if mid.startswith("request:")]
    if requests:
        for mid, kept in (await store.applied_outputs(conn, requests)).items():
            outputs[handled_before[mid]] = kept


def _named(p: Parsed) -> list[str]:
    """The devices a message names, looked up with the batch's others before any is handled."""
    if isinstance(p.message, HandleServiceRequest):
        return [device_id] if (device_id := sr.device_named(p.message)) else []
    return additions.device_ids(p.message) if p.row.mode == Mode.ADDS else []


def _run(inv: Context, conn: asyncpg.Connection, ws: WorkingSet, row: Row, record: ConsumerRecord,
         message: BaseModel) -> Awaitable[list[Output]]:
    if row.mode == Mode.ON_WORKING_SET:
        return row.handler(inv, conn, ws, message)
    return _alone(inv, conn, ws, row, record, message)


async def _alone(inv: Context, conn: asyncpg.Connection, ws: WorkingSet, row: Row, record: ConsumerRecord,
                 message: BaseModel) -> list[Output]:
    async with ws.writing_directly(conn):
        return await row.handler(inv, conn, record, message)


def message_id(message: BaseModel) -> str | None:
    if isinstance(message, HandleServiceRequest):
        return request_message_id(message.reply.request_id)
    command_id = getattr(message, "command_id", None)
    return f"command:{type(message).__name__}:{command_id}" if command_id else None


def request_message_id(request_id: str) -> str:
    try:
        return f"request:{canonical_request_id(request_id)}"
    except ValueError:
        return f"request:{request_id}"
