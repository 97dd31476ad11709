"""Returns' handlers: one function per input; each loads, decides, saves and emits.

A return request is answered once: at once when this service refuses every hub itself, otherwise
when inventory's HubsReturned arrives, in the same transaction that opens the records. A request
already known is answered again with its saved response and opens nothing.
"""
from dataclasses import replace

import asyncpg
import orjson
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from services.returns import domain, metrics, store
from services.returns.domain import CheckOverdue, HubOutcome, ReturnReceived
from shared import codes, eui, kafka
from shared.duis import errors
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.instants import record_time
from shared.kafka import Output
from shared.messages import HandleServiceRequest, HubsReturned, ReplyTo, ReturnHubs, message_type
from shared.outcomes import Unusable
from shared.responses import alert, response
from shared.service import Context

SERVICE = "returns"



async def handle(returns: Context, conn: asyncpg.Connection,
                 records: list[ConsumerRecord]) -> list[list[Output]]:
    outputs = []
    for record in records:
        try:
            outputs.append(await _dispatch(returns, conn, record))
        except (Unusable, ValidationError) as error:
            outputs.append([kafka.dead_letter(returns.settings, record, str(error), SERVICE)])
    return outputs


async def _dispatch(returns: Context, conn: asyncpg.Connection, record: ConsumerRecord) -> list[Output]:
    topics, kind = returns.settings.topics, message_type(record.value or b"")
    if record.topic == topics.csp_events:
        # The CSP feed is shared with inventory, which owns every other event on it.
        return await on_return_received(returns, conn, record) if kind == "ReturnReceived" else []
    if record.topic == topics.inventory_replies:
        if kind is None:
            raise Unusable("not a JSON message with a type")
        return await on_hubs_returned(returns, conn, record) if kind == "HubsReturned" else []
    if kind == "HandleServiceRequest":
        return await on_return_request(returns, conn, record)
    if kind == "CheckOverdue":
        return await on_check_overdue(returns, conn, record)
    raise Unusable(f"returns takes HandleServiceRequest or CheckOverdue commands, not {kind!r:.40}")


async def on_return_request(returns: Context, conn: asyncpg.Connection,
                            record: ConsumerRecord) -> list[Output]:
    command = HandleServiceRequest.model_validate_json(record.value)
    request_id = canonical_request_id(command.reply.request_id)
    known = await store.request(conn, request_id)
    if known is not None:
        metrics.REQUESTS.labels(command.variant, "replayed").inc()
        return [_saved_response(known, command.reply)] if known["state"] == "answered" else []
    spec = SERVICE_REQUESTS.get(command.variant)
    if spec is None or spec.owner != SERVICE:
        return [_reject(returns, command.reply, "E42", f"{command.variant!r:.20} is not a return")]
    try:
        body = spec.model.model_validate(command.body.get(spec.element))
    except ValidationError as error:
        return [_reject(returns, command.reply, *errors.code_for(error, spec.element))]
    wanted = domain.read_request(command.variant, body)
    refused = domain.own_refusals(wanted.hubs, await store.hubs_under_return(conn, wanted.hubs))
    remaining = [hub for hub in wanted.hubs if hub not in refused]
    command_id = f"returns:{request_id}" if remaining else None
    await store.insert_request(
        conn, request_id=request_id, originator=command.reply.originator, variant=command.variant,
        reply=command.reply.model_dump(mode="json"), reason=wanted.reason,
        event_time=command.event_time, command_id=command_id, hubs=wanted.hubs,
        others=wanted.other_device_ids, codes=[refused.get(hub) for hub in wanted.hubs])
    if not remaining:
        return [await _answer(returns, conn, request_id, command.reply, command.variant)]
    ask = ReturnHubs(command_id=command_id, request_id=request_id, originator=command.reply.originator,
                     event_time=command.event_time, hubs=remaining)
    return [Output(returns.settings.topics.inventory_commands, ask.to_bytes(), request_id.encode())]


async def on_hubs_returned(returns: Context, conn: asyncpg.Connection,
                           record: ConsumerRecord) -> list[Output]:
    reply = HubsReturned.model_validate_json(record.value)
    req = await store.request(conn, reply.request_id)
    if req is None or req["command_id"] != reply.command_id:
        raise Unusable(f"no return request {reply.request_id} asked inventory with {reply.command_id}")
    if req["state"] == "answered":
        return []  # the same answer again: the request is settled
    awaiting = await store.awaiting_hubs(conn, reply.request_id)
    results = {r.device_id: r for r in reply.results}
    if set(results) != set(awaiting) or len(results) != len(reply.results):
        raise Unusable(f"inventory answered for {len(results)} hubs, {len(awaiting)} were asked")
    reason = domain.Reason.from_json(orjson.loads(req["reason"]))
    due = domain.due_by(req["event_time"], returns.settings.returns_due_days)
    accepted = [(r.device_id, r.gpf_id, awaiting[r.device_id]["other_device_id"])
                for r in reply.results if r.code == domain.ACCEPTED]
    references = await store.open_records(conn, req, reason, due, accepted)
    await store.set_hub_codes(conn, reply.request_id,
                              [awaiting[r.device_id]["position"] for r in reply.results],
                              [r.code for r in reply.results],
                              [references.get(r.device_id) for r in reply.results])
    reply_to = ReplyTo.model_validate(orjson.loads(req["reply"]))
    return [await _answer(returns, conn, reply.request_id, reply_to, req["variant"])]


async def on_return_received(returns: Context, conn: asyncpg.Connection,
                             record: ConsumerRecord) -> list[Output]:
    event = ReturnReceived.model_validate_json(record.value)
    at = record_time(record)
    if await store.receive(conn, event.device_id, event.outcome, at) is None:
        raise Unusable(f"hub {event.device_id} has no open Returns Remedy Record")
    metrics.RECEIVED.labels(event.outcome).inc()
    return []


async def on_check_overdue(returns: Context, conn: asyncpg.Connection,
                           record: ConsumerRecord) -> list[Output]:
    check = CheckOverdue.model_validate_json(record.value)
    outputs = []
    for row in await store.mark_overdue(conn, check.as_of):
        party = await returns.parties.get(row["originator"])
        fmt = party.alert_format if party else "xml"
        payload = domain.overdue_payload(row["device_id"], row["due_by"])
        output = alert(returns.settings, row["originator"], fmt, codes.RETURN_OVERDUE, payload, check.as_of)
        outputs.append(replace(output, headers=(*output.headers, ("request-id", row["request_id"]),
                                                ("returns-remedy-record", row["reference"]))))
    metrics.OVERDUE_ALERTS.inc(len(outputs))
    return outputs


async def _answer(returns: Context, conn: asyncpg.Connection, request_id: str, reply: ReplyTo,
                  variant: str) -> Output:
    hubs = [HubOutcome(r["device_id"], r["code"], r["reference"], r["due_by"])
            for r in await store.hub_outcomes(conn, request_id)]
    code = domain.overall_code([h.code for h in hubs])
    now = returns.clock()
    output = response(returns.settings, reply, code, now, payload=domain.response_payload(hubs))
    await store.answer(conn, request_id, code, output, now)
    metrics.answered(variant, code, [h.code for h in hubs])
    return output


def _reject(returns: Context, reply: ReplyTo, code: str, reason: str) -> Output:
    metrics.REQUESTS.labels("unknown", code).inc()
    return response(returns.settings, reply, code, returns.clock(), reason=reason)


def _saved_response(known: asyncpg.Record, reply: ReplyTo) -> Output:
    return Output(known["response_topic"], known["response"], reply.originator.encode(),
                  (("content-type", f"application/{reply.format}"), ("request-id", reply.request_id),
                   ("response-code", known["response_code"]),
                   ("response-reason", codes.meaning(known["response_code"]))))


def canonical_request_id(value: str) -> str:
    try:
        return eui.canonical_request_id(value)
    except ValueError as error:
        raise Unusable(str(error)) from None
