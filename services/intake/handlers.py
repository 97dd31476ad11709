"""Intake's handlers: a batch of requests in, one response or one routed command out per request.

Rejections before the originator is known (envelope, RequestID) are answered but not recorded,
so that nobody can spend another party's RequestID. From then on every RequestID is recorded
with its outcome; a replay gets the recorded response again and causes nothing else. Read
Inventory by Device ID may be answered here, and a change applied here, from inventory's API
(`inventory_api`).
"""
from dataclasses import dataclass, replace

import asyncpg
from aiokafka.structs import ConsumerRecord

from services.intake import domain, metrics, store
from services.intake.domain import Accepted, Refused
from services.intake.inventory_api import InventoryApi, Read
from services.intake.signatures import check_signature
from shared import kafka, logs
from shared.dispatch import owner_table
from shared.duis import codec
from shared.instants import record_time
from shared.kafka import Output
from shared.messages import HandleServiceRequest, ReplyTo
from shared.responses import answer_variant, response, response_topic
from shared.service import Context
from shared.settings import Topics

SERVICE = "intake"


@dataclass
class Intake(Context):
    """What intake's handlers work with: inventory's API too, where one is configured."""
    inventory: InventoryApi | None = None


@dataclass(eq=False)
class _Taken:
    """A request whose originator is known: recorded, then answered or routed. `reads` is the
    device of a Read Inventory that intake may answer itself, `reply` where that answer goes;
    `record` that of a change inventory's API may apply (`apply`: chosen to be)."""
    index: int
    row: store.NewRequest
    outputs: list[Output]
    reads: str | None = None
    reply: ReplyTo | None = None
    record: ConsumerRecord | None = None
    apply: bool = False


async def handle_requests(intake: Intake, conn: asyncpg.Connection,
                          records: list[ConsumerRecord]) -> list[list[Output]]:
    outputs: list[list[Output]] = [[] for _ in records]
    taken: list[_Taken] = []
    for index, record in enumerate(records):
        result = await _triage(intake, record)
        if isinstance(result, _Taken):
            result.index = index
            taken.append(result)
        else:
            outputs[index] = [result]
    if intake.inventory is not None:
        await _answer_here(intake, conn, [t for t in taken if t.reads or t.row.subject])
    new, replays = await _record(conn, taken)
    await _apply_changes(intake, conn, [t for t in new if t.row.subject])
    for item in new:
        outputs[item.index] = item.outputs
    await _answer_replays(conn, replays, outputs)
    return outputs


async def _triage(intake: Intake, record: ConsumerRecord) -> Output | _Taken:
    settings, raw = intake.settings, record.value or b""
    content_type = kafka.header(record, "content-type")
    if len(raw) > settings.max_request_bytes:
        return _too_large(intake, record, raw, content_type)
    try:
        document = codec.decode(raw, content_type)
    except codec.Undecodable as error:
        metrics.outcome("unknown", "dead_letter")
        return kafka.dead_letter(settings, record, str(error), SERVICE)
    token = logs.request_id.set(document.request_id)
    try:
        return await _check(intake, record, document)
    finally:
        logs.request_id.reset(token)


async def _check(intake: Intake, record: ConsumerRecord, document: codec.Document) -> Output | _Taken:
    settings = intake.settings
    variant = str(document.data["Header"].get("ServiceReferenceVariant", "unknown"))[:12]
    answered = answer_variant(document.data["Header"].get("ServiceReferenceVariant"))
    try:
        request_id = domain.check_envelope(document, settings.dcc_eui)
    except Refused as refusal:
        return _answer(intake, document, None, refusal, variant)
    reply = ReplyTo(request_id=document.request_id, originator=request_id.originator,
                    format=document.format, schema_version=document.schema_version or codec.SCHEMA_VERSION,
                    variant=answered)
    try:
        party = domain.check_originator(await intake.parties.get(request_id.originator), request_id)
        check_signature(record.value, document, party, settings.signature_mode)
    except Refused as refusal:  # not from a known party: nothing recorded under its RequestID
        return _answer(intake, document, reply, refusal, variant)
    try:
        accepted = domain.evaluate(document, request_id, party)
    except Refused as refusal:
        output = _answer(intake, document, reply, refusal, variant)
        return _Taken(0, _row(request_id, variant, document, record, "rejected", output), [output])
    output = _route(intake, accepted, reply, record)
    row = _row(request_id, accepted.spec.variant, document, record, "routed", None)
    if (device := _readable(intake, accepted)) is not None:
        return _Taken(0, row, [output], reads=device, reply=reply)
    if accepted.spec.owner == "inventory" and accepted.spec.variant != READ_INVENTORY:
        # A change, keyed by what it changes; counted once applied or routed.
        return _Taken(0, replace(row, subject=output.key.decode()), [output], reply=reply, record=record)
    metrics.outcome(accepted.spec.variant, "routed")
    return _Taken(0, row, [output])


def _readable(intake: Intake, accepted: Accepted) -> str | None:
    """The device of a Read Inventory by Device ID, when inventory's API is configured."""
    if intake.inventory is None or accepted.spec.variant != READ_INVENTORY:
        return None
    return accepted.body.DeviceID


async def _answer_here(intake: Intake, conn: asyncpg.Connection, taken: list[_Taken]) -> None:
    """Choose, in the batch's order, what inventory's API completes: a read of a device that
    nothing on its way to inventory's topic (routed in this batch or earlier, unanswered) is about
    and no change earlier in this batch touched, and a change of a device nothing on its way is
    about. Answer those reads now; the changes are applied once recorded (`_apply_changes`)."""
    subjects = [item.reads or item.row.subject for item in taken]
    room = sum(item.reads is None for item in taken) <= intake.settings.inventory_apply_max_changes
    asked = {subject for item, subject in zip(taken, subjects) if room or item.reads is not None}
    on_topic = await store.unanswered_subjects(conn, sorted(asked))  # a bulk load's batch asks nothing
    changed_here: set[str] = set()
    free: list[_Taken] = []
    for item, subject in zip(taken, subjects):
        if item.reads is not None:
            if subject in on_topic or subject in changed_here:
                metrics.read_routed("behind_change", 1)
                on_topic.add(subject)  # what comes after it waits behind it too
            else:
                free.append(item)
            continue
        changed_here.add(subject)
        if subject in on_topic or not room:
            metrics.change_routed("behind" if room else "busy", 1)
            on_topic.add(subject)
        else:
            item.apply = True
    reads = await intake.inventory.read(sorted({item.reads for item in free})) if free else {}
    if reads is None:
        metrics.read_routed("no_answer", len(free))
        routed = {item.reads for item in free}
        for item in taken:  # a change after a read routed now must not overtake it
            item.apply = item.apply and item.row.subject not in routed
    else:
        for item in free:
            _answer_read(intake, item, reads[item.reads])
    for item in taken:
        if item.reads is not None:
            metrics.outcome(item.row.variant, item.row.outcome)


async def _apply_changes(intake: Intake, conn: asyncpg.Connection, changes: list[_Taken]) -> None:
    """Apply the changes chosen to be through inventory's API; route the others, and all of them
    when inventory does not answer. Each is answered by what inventory produced for it (the
    response, the device events), published in this hop's Kafka transaction."""
    chosen = [item for item in changes if item.apply]
    produced = await intake.inventory.apply([(item.record, item.outputs[0]) for item in chosen]) if chosen else []
    if produced is None:
        metrics.change_routed("no_answer", len(chosen))
        produced = []
    answered = []
    for item, outputs in zip(chosen, produced):
        response = next((o for o in outputs if o.topic == response_topic(intake.settings, item.reply.originator)), None)
        if response is not None:  # else inventory had taken it from its topic: the command is harmless
            item.outputs, item.row = outputs, replace(item.row, outcome="answered")
            answered.append((item.row.request_id, response.value, response.topic))
    await store.answered(conn, answered)
    for item in changes:
        metrics.outcome(item.row.variant, "applied" if item.row.outcome == "answered" else "routed")


def _answer_read(intake: Intake, item: _Taken, read: Read) -> None:
    answer = response(intake.settings, item.reply, read.code, intake.clock(), payload=read.payload,
                      reason=read.reason)
    item.outputs = [answer]
    item.row = replace(item.row, outcome="answered", response=answer.value, response_topic=answer.topic)


def _answer(intake: Intake, document: codec.Document, reply: ReplyTo | None,
            refusal: Refused, variant: str) -> Output:
    metrics.rejected(variant, refusal.code)
    if reply is None:  # the RequestID itself is unusable: echo it, key by whatever sent it
        originator = document.request_id.split(":")[0][:64]
        header = document.data.get("Header") or {}
        reply = ReplyTo.model_construct(request_id=document.request_id, originator=originator,
                                        format=document.format,
                                        schema_version=document.schema_version or codec.SCHEMA_VERSION,
                                        variant=answer_variant(header.get("ServiceReferenceVariant")))
    return response(intake.settings, reply, refusal.code, intake.clock(), reason=refusal.reason)


def _too_large(intake: Intake, record: ConsumerRecord, raw: bytes, content_type: str | None) -> Output:
    request_id = codec.guess_request_id(raw[:65536])
    reason = f"{len(raw)} bytes; the limit is {intake.settings.max_request_bytes}"
    if request_id is None:
        metrics.outcome("unknown", "dead_letter")
        return kafka.dead_letter(intake.settings, record, f"too large and no RequestID: {reason}", SERVICE)
    try:
        fmt = codec.detect_format(raw, content_type)
    except codec.Undecodable:
        fmt = "xml"
    document = codec.Document(fmt, {"Header": {"RequestID": request_id}}, codec.SCHEMA_VERSION)
    return _answer(intake, document, None, Refused("E17", reason), "unknown")


def _route(intake: Intake, accepted: Accepted, reply: ReplyTo, record: ConsumerRecord) -> Output:
    body = accepted.body.model_dump(mode="json", exclude_none=True)
    command = HandleServiceRequest(
        reply=reply, variant=accepted.spec.variant, roles=sorted(accepted.party.roles),
        event_time=record_time(record),
        body={accepted.spec.element: body},
    )
    return ROUTES[accepted.spec.owner](intake.settings.topics, accepted, body, command)


def _to_inventory(topics: Topics, accepted: Accepted, body: dict, command: HandleServiceRequest) -> Output:
    """Keyed by the device (or place) it is about, so one device's requests stay in order."""
    key = body.get("DeviceID") or body.get("MPxN") or body.get("UPRN") or accepted.request_id.canonical
    return Output(topics.inventory_commands, command.to_bytes(), str(key).encode())


def _to_returns(topics: Topics, accepted: Accepted, body: dict, command: HandleServiceRequest) -> Output:
    return Output(topics.returns_commands, command.to_bytes(), accepted.request_id.canonical.encode())


# Where an accepted request goes: to the service the catalogue says owns its variant.
ROUTES = owner_table({"inventory": _to_inventory, "returns": _to_returns})
READ_INVENTORY = "8.2"  # the one request that changes nothing intake could answer itself


def _row(request_id: domain.RequestId, variant: str, document: codec.Document,
         record: ConsumerRecord, outcome: str, answer: Output | None) -> store.NewRequest:
    return store.NewRequest(
        request_id=request_id.canonical, originator=request_id.originator, variant=variant,
        format=document.format,
        received_at=record_time(record),
        outcome=outcome, response=answer.value if answer else None,
        response_topic=answer.topic if answer else None,
    )


async def _record(conn: asyncpg.Connection, taken: list[_Taken]) -> tuple[list[_Taken], list[_Taken]]:
    """Record the new RequestIDs; return the requests first to bring theirs, and the replays (of
    requests in this batch or of earlier ones)."""
    first: dict[str, _Taken] = {}
    for item in taken:
        first.setdefault(item.row.request_id, item)
    new = await store.insert_new(conn, [t.row for t in first.values()])
    firsts = [t for t in taken if t.row.request_id in new and first[t.row.request_id] is t]
    return firsts, [t for t in taken if t.row.request_id not in new or first[t.row.request_id] is not t]


async def _answer_replays(conn: asyncpg.Connection, replays: list[_Taken], outputs: list[list[Output]]) -> None:
    """A replay gets the response recorded, or waits for it."""
    if not replays:
        return
    # Registering a wait and finding no response must be one step: the response consumer may
    # record the response at any moment.
    ids = [t.row.request_id for t in replays]
    waiting = await store.await_response(conn, ids)
    known = await store.responses_of(conn, [i for i in ids if i not in waiting])
    for item in replays:
        metrics.outcome(item.row.variant, "replayed")
        if item.row.request_id in waiting:
            continue
        original = known[item.row.request_id]
        headers = (("content-type", f"application/{original['format']}"),
                   ("request-id", item.row.request_id))
        outputs[item.index] = [Output(original["response_topic"], original["response"],
                                      item.row.originator.encode(), headers)]


async def handle_responses(intake: Intake, conn: asyncpg.Connection,
                           records: list[ConsumerRecord]) -> list[list[Output]]:
    """Responses seen on the response topics: kept for replays, sent again to waiting replays."""
    ids = [_canonical(request_id, intake.settings.dcc_eui) if (request_id := kafka.header(r, "request-id"))
           else None for r in records]
    waiting = await store.record_responses(
        conn, [(i, r.value, r.topic) for i, r in zip(ids, records) if i is not None])
    outputs: list[list[Output]] = []
    for canonical, record in zip(ids, records):
        copies = waiting.pop(canonical, 0) if canonical else 0  # the first response of a request only
        outputs.append([Output(record.topic, record.value, record.key,
                               tuple((k, v.decode()) for k, v in record.headers)) for _ in range(copies)])
    return outputs


def _canonical(request_id: str, dcc_eui: str) -> str | None:
    try:
        return domain.parse_request_id(request_id, dcc_eui).canonical
    except Refused:
        return None
