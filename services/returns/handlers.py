"""Returns' handlers: one function per input, found in the service's table; each loads,
decides, saves and emits.

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
from services.returns.domain import HubOutcome
from shared import codes, eui
from shared.dispatch import EveryOtherType, HandlerTable, Row, one_by_one, variant_table
from shared.duis import errors
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.feeds import ReturnReceived
from shared.instants import record_time
from shared.kafka import Output
from shared.duis.models import CHFFaultReturn, CHFNoFaultReturn
from shared.messages import CheckOverdue, HandleServiceRequest, HubsReturned, ReplyTo, ReturnHubs
from shared.outcomes import Unusable
from shared.responses import alert, response
from shared.service import Context
from shared.settings import Settings

SERVICE = "returns"


def table(settings: Settings) -> HandlerTable:
    topics = settings.topics
    return HandlerTable(SERVICE, {
        topics.returns_commands: {
            "HandleServiceRequest": Row(HandleServiceRequest, on_return_request),
            "CheckOverdue": Row(CheckOverdue, on_check_overdue),
        },
        topics.inventory_replies: {"HubsReturned": Row(HubsReturned, on_hubs_returned)},
        topics.csp_events: {"ReturnReceived": Row(ReturnReceived, on_return_received)},
    }, serves=SERVES, takes={topics.returns_commands: "HandleServiceRequest or CheckOverdue commands"},
        # The CSP feed is shared with inventory, which owns every other event on it.
        others={topics.csp_events: EveryOtherType(untyped_too=True), topics.inventory_replies: EveryOtherType()})


async def handle(returns: Context, handlers: HandlerTable, conn: asyncpg.Connection,
                 records: list[ConsumerRecord]) -> list[list[Output]]:
    return await one_by_one(handlers, returns.settings, conn, records, returns)


async def on_return_request(returns: Context, conn: asyncpg.Connection, record: ConsumerRecord,
                            command: HandleServiceRequest) -> list[Output]:
    request_id = canonical_request_id(command.reply.request_id)
    known = await store.request(conn, request_id)
    if known is not None:
        metrics.REQUESTS.labels(command.variant, "replayed").inc()
        return [_saved_response(known, command.reply)] if known["state"] == "answered" else []
    handler = VARIANTS.get(command.variant)
    if handler is None:
        return [_reject(returns, command.reply, "E42", f"{command.variant!r:.20} is not a return")]
    spec = SERVICE_REQUESTS[command.variant]
    try:
        body = spec.model.model_validate(command.body.get(spec.element))
    except ValidationError as error:
        return [_reject(returns, command.reply, *errors.code_for(error, spec.element))]
    return await handler(returns, conn, request_id, command, body)


async def open_return(returns: Context, conn: asyncpg.Connection, request_id: str,
                      command: HandleServiceRequest, body: CHFFaultReturn | CHFNoFaultReturn) -> list[Output]:
    """SR 8.14.3 and 8.14.4: refuse what this service refuses itself, ask inventory for the rest."""
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


async def on_hubs_returned(returns: Context, conn: asyncpg.Connection, record: ConsumerRecord,
                           reply: HubsReturned) -> list[Output]:
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


async def on_return_received(returns: Context, conn: asyncpg.Connection, record: ConsumerRecord,
                             event: ReturnReceived) -> list[Output]:
    at = record_time(record)
    if await store.receive(conn, event.device_id, event.outcome, at) is None:
        raise Unusable(f"hub {event.device_id} has no open Returns Remedy Record")
    metrics.RECEIVED.labels(event.outcome).inc()
    return []


async def on_check_overdue(returns: Context, conn: asyncpg.Connection, record: ConsumerRecord,
                           check: CheckOverdue) -> list[Output]:
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


# The Service Requests returns completes, and the message types it serves.
VARIANTS = variant_table(SERVICE, {"8.14.3": open_return, "8.14.4": open_return})
SERVES = ("HandleServiceRequest", "CheckOverdue", "HubsReturned", "ReturnReceived")


def canonical_request_id(value: str) -> str:
    try:
        return eui.canonical_request_id(value)
    except ValueError as error:
        raise Unusable(str(error)) from None
