"""Returns over the real broker and database, with the test playing inventory's part:
per-hub codes, 999 hubs, every reason carried, replay, overdue alerts once, CSP receipt."""
import asyncio
import contextlib
from datetime import datetime, timedelta, timezone
from functools import partial

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from lxml import etree

from services.returns import tracking
from services.returns.app import serve
from shared import codes
from shared.duis import build
from shared.duis.enums import (CHFConnectionMethod, CHFFaultReason, CHFFaultReturnType,
                               CHFNoFaultReturnType, values)
from shared.messages import CheckOverdue, HandleServiceRequest, HubResult, HubsReturned, ReplyTo, ReturnHubs
from tests.support import SUPPLIER, running

pytestmark = pytest.mark.integration

JSON_ALERTS_SUPPLIER = "90-B3-D5-1F-30-01-00-02"
EVENT_TIME = datetime(2024, 1, 10, 9, 30, tzinfo=timezone.utc)
NS = {"sr": "http://www.dccinterface.co.uk/ServiceUserGateway"}


def hub(n: int) -> str:
    return build.device_id(n, "00-CC")


def gpf_of(device_id: str) -> str:
    return "00-CD" + device_id[5:]


def return_command(originator: str, counter: int, variant: str, body: dict, fmt: str = "json",
                   event_time: datetime = EVENT_TIME) -> tuple[bytes, bytes]:
    """What intake routes to returns for an accepted bulk return."""
    element = "CHFFaultReturn" if variant == "8.14.3" else "CHFNoFaultReturn"
    request_id = build.request_id(originator, counter)
    command = HandleServiceRequest(
        reply=ReplyTo(request_id=request_id, originator=originator, format=fmt, schema_version="5.4",
                      variant=variant),
        variant=variant, roles=["GS", "IS"], event_time=event_time, body={element: body})
    return command.to_bytes(), request_id.encode()


class Inventory:
    """Inventory's part: answers each ReturnHubs with I0, or the code set for the hub."""

    def __init__(self, settings, codes: dict[str, str] | None = None) -> None:
        self.settings, self.codes, self.asked = settings, codes or {}, []

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(self.settings.topics.inventory_commands,
                                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    auto_offset_reset="earliest", isolation_level="read_committed")
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers, linger_ms=1)
        await consumer.start()
        await producer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                for record in (r for part in batch.values() for r in part):
                    command = ReturnHubs.model_validate_json(record.value)
                    self.asked.append(command)
                    await producer.send(self.settings.topics.inventory_replies,
                                        self.answer(command).to_bytes(), key=record.key)
        finally:
            await consumer.stop()
            await producer.stop()

    def answer(self, command: ReturnHubs) -> HubsReturned:
        results = []
        for device_id in command.hubs:
            code = self.codes.get(device_id, "I0")
            results.append(HubResult(device_id=device_id, code=code,
                                     gpf_id=gpf_of(device_id) if code == "I0" else None))
        return HubsReturned(command_id=command.command_id, request_id=command.request_id, results=results)


@contextlib.asynccontextmanager
async def returns_with_inventory(settings, codes=None, clock=None):
    inventory = Inventory(settings, codes)
    task = asyncio.create_task(inventory.run())
    try:
        async with running(partial(serve, clock=clock or (lambda: EVENT_TIME + timedelta(seconds=1))),
                           settings):
            yield inventory
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"returns_overdue_check_seconds": 0})


def hub_results(record) -> tuple[str, list[dict]]:
    answer = orjson.loads(record.value)
    results = answer["Body"]["ResponseMessage"]["CHFReturnResults"]["HubResult"]
    return answer["Header"]["ResponseCode"], results if isinstance(results, list) else [results]


def record_headers(record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def codes_of(results: list[dict]) -> dict[str, str]:
    return {r["DeviceID"]: r["ResponseCode"] for r in results}


async def connect(settings) -> asyncpg.Connection:
    return await asyncpg.connect(settings.database_url)


async def until_closed(settings, device_id: str, timeout: float = 20.0) -> None:
    conn = await connect(settings)
    try:
        for _ in range(int(timeout / 0.1)):
            view = await tracking.by_hub(conn, device_id)
            if view and view["status"] == "closed":
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"hub {device_id} was not closed")
    finally:
        await conn.close()


async def test_mixed_request_gets_exact_per_hub_codes(settings, bus):
    topics = settings.topics
    other_party_hub, unknown_hub = hub(3), hub(4)
    async with returns_with_inventory(settings, {other_party_hub: "E51", unknown_hub: "E081401"}) as inventory:
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 1, "8.14.4", build.no_fault_return([hub(9)])))
        await bus.read(topics.responses, count=1)
        mixed = [hub(1), hub(2), other_party_hub, unknown_hub, hub(9)]
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 2, "8.14.3", build.fault_return(mixed)))
        responses = await bus.read(topics.responses, count=2, settle=1.0)

    assert len(responses) == 2
    assert [r.key for r in responses] == [SUPPLIER.encode()] * 2
    code, results = hub_results(responses[1])
    assert code == "W081401"
    assert [r["DeviceID"] for r in results] == mixed, "hubs are answered in request order"
    assert codes_of(results) == {hub(1): "I0", hub(2): "I0", other_party_hub: "E51",
                                 unknown_hub: "E081401", hub(9): "E081405"}
    accepted = [r for r in results if r["ResponseCode"] == "I0"]
    assert all(r["ReturnsRemedyRecordReference"].startswith("RRR-") for r in accepted)
    assert {r["ReturnDueDate"] for r in accepted} == {"2024-04-09"}
    assert all("ReturnsRemedyRecordReference" not in r for r in results if r["ResponseCode"] != "I0")
    assert [c.hubs for c in inventory.asked] == [[hub(9)], [hub(1), hub(2), other_party_hub, unknown_hub]], \
        "a hub already under return is refused without asking inventory"

    conn = await connect(settings)
    try:
        view = await tracking.by_request(conn, build.request_id(SUPPLIER, 2))
        record = await tracking.by_hub(conn, hub(1))
    finally:
        await conn.close()
    assert [(h["device_id"], h["status"]) for h in view["hubs"]] == [
        (hub(1), "open"), (hub(2), "open"), (other_party_hub, "refused"), (unknown_hub, "refused"),
        (hub(9), "refused")]
    assert record["status"] == "open" and record["records"][0]["gpf_id"] == gpf_of(hub(1))
    assert record["records"][0]["created_at"] == EVENT_TIME.isoformat()
    assert [e["event"] for e in record["records"][0]["history"]] == ["opened"]


async def test_every_hub_refused_here_is_answered_without_inventory(settings, bus):
    topics = settings.topics
    async with returns_with_inventory(settings) as inventory:
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 1, "8.14.4", build.no_fault_return([hub(1)])))
        await bus.read(topics.responses, count=1)
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 2, "8.14.4", build.no_fault_return([hub(1)])))
        responses = await bus.read(topics.responses, count=2, settle=0.5)
    # A single hub's return is answered in pure DUIS 5.4: the hub's own code and no per-hub list.
    answer = orjson.loads(responses[1].value)
    assert answer["Header"]["ResponseCode"] == "E081405"
    assert answer["Body"]["ResponseMessage"] == {"ServiceReference": "8.14", "ServiceReferenceVariant": "8.14.4"}
    assert record_headers(responses[1])["response-reason"] == codes.meaning("E081405")
    assert len(inventory.asked) == 1


async def test_999_hubs_all_accepted(settings, bus):
    topics = settings.topics
    hubs = [hub(n) for n in range(1, 1000)]
    async with returns_with_inventory(settings):
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 5, "8.14.3", build.fault_return(hubs), "xml"))
        responses = await bus.read(topics.responses, count=1, settle=0.5)
    assert len(responses) == 1
    document = etree.fromstring(responses[0].value)
    assert document.findtext("sr:Header/sr:ResponseCode", namespaces=NS) == "I0"
    results = document.findall("sr:Body/sr:ResponseMessage/sr:CHFReturnResults/sr:HubResult", NS)
    assert [r.findtext("sr:DeviceID", namespaces=NS) for r in results] == hubs
    assert {r.findtext("sr:ResponseCode", namespaces=NS) for r in results} == {"I0"}
    references = {r.findtext("sr:ReturnsRemedyRecordReference", namespaces=NS) for r in results}
    assert len(references) == 999
    conn = await connect(settings)
    try:
        assert await conn.fetchval("select count(*) from returns.records where status = 'open'") == 999
        assert await conn.fetchval("select count(*) from returns.records where reference = any($1)"
                                   " and due_by = '2024-04-09'", list(references)) == 999
    finally:
        await conn.close()


async def test_fault_and_no_fault_reasons_are_carried_into_the_records(settings, bus):
    topics = settings.topics
    sent = []
    counter = 100
    for n, reason in enumerate(values(CHFFaultReason)):
        body = build.fault_return(
            [hub(100 + n)], CHFFaultReason=reason,
            CHFFaultReturnType=values(CHFFaultReturnType)[n % 2],
            CHFConnectionMethod=values(CHFConnectionMethod)[n % 3],
            OtherDeviceID=[build.device_id(n, "00-EE")], IncidentReference=f"INC-{n}",
            UserRefID=f"U-{n}", UserRefDateTime="2024-01-09T08:00:00Z", AdditionalInformation=f"box {n}")
        sent.append(("8.14.3", body))
    for n, return_type in enumerate(values(CHFNoFaultReturnType)):
        sent.append(("8.14.4", build.no_fault_return([hub(200 + n)], CHFNoFaultReturnType=return_type)))
    async with returns_with_inventory(settings):
        for variant, body in sent:
            counter += 1
            await bus.send(topics.returns_commands, *return_command(SUPPLIER, counter, variant, body))
        await bus.read(topics.responses, count=len(sent))
    conn = await connect(settings)
    try:
        rows = {r["device_id"]: r for r in await conn.fetch("select * from returns.records")}
    finally:
        await conn.close()
    assert len(rows) == len(sent) == 14
    for variant, body in sent:
        row = rows[body["DeviceID"][0]]
        if variant == "8.14.3":
            n = values(CHFFaultReason).index(body["CHFFaultReason"])
            assert (row["kind"], row["return_type"], row["fault_reason"], row["connection_method"]) == \
                ("fault", values(CHFFaultReturnType)[n % 2], body["CHFFaultReason"], values(CHFConnectionMethod)[n % 3])
            assert (row["other_device_id"], row["incident_reference"], row["user_ref_id"],
                    row["additional_information"]) == (build.device_id(n, "00-EE"), f"INC-{n}", f"U-{n}", f"box {n}")
            assert row["user_ref_datetime"] == datetime(2024, 1, 9, 8, tzinfo=timezone.utc)
        else:
            assert (row["kind"], row["return_type"], row["fault_reason"], row["incident_reference"]) == \
                ("no_fault", body["CHFNoFaultReturnType"], None, None)
    assert {r["return_type"] for r in rows.values()} == set(values(CHFFaultReturnType)) | set(values(CHFNoFaultReturnType))


async def test_replayed_request_gets_the_original_response_and_opens_nothing(settings, bus):
    topics = settings.topics
    command = return_command(SUPPLIER, 7, "8.14.4", build.no_fault_return([hub(1), hub(2)]))
    async with returns_with_inventory(settings) as inventory:
        await bus.send(topics.returns_commands, *command)
        await bus.read(topics.responses, count=1)
        await bus.send(topics.returns_commands, *command)
        responses = await bus.read(topics.responses, count=2, settle=1.0)
    assert len(responses) == 2 and responses[0].value == responses[1].value
    assert len(inventory.asked) == 1
    conn = await connect(settings)
    try:
        assert await conn.fetchval("select count(*) from returns.records") == 2
    finally:
        await conn.close()


async def test_overdue_hubs_alert_their_party_once_across_checks(settings, bus):
    topics = settings.topics
    async with returns_with_inventory(settings):
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 1, "8.14.4", build.no_fault_return([hub(1), hub(2), hub(3)]), "xml"))
        await bus.send(topics.returns_commands, *return_command(JSON_ALERTS_SUPPLIER, 1, "8.14.4", build.no_fault_return([hub(4)])))
        await bus.read(topics.responses, count=2)
        await bus.send(topics.csp_events, orjson.dumps({"type": "ReturnReceived", "device_id": hub(3), "outcome": "no_fault_found"}))
        await until_closed(settings, hub(3))  # the receipt is consumed by its own worker
        for as_of in ("2024-04-09T23:00:00+00:00", "2024-04-10T00:00:01+00:00", "2024-06-01T00:00:00+00:00"):
            await bus.send(topics.returns_commands, CheckOverdue(as_of=as_of).model_dump_json().encode(), key=b"overdue-check")
        alerts = await bus.read(topics.alerts, count=3, settle=2.0)
        conn = await connect(settings)
        report = await tracking.open_report(conn, datetime(2024, 6, 1, tzinfo=timezone.utc))
        references = {h: (await tracking.by_hub(conn, h))["records"][0]["reference"]
                      for h in (hub(1), hub(2), hub(4))}
        await conn.close()

    assert len(alerts) == 3, "one alert per overdue hub, once; the received hub is not overdue"
    by_party = {}
    for alert in alerts:
        by_party.setdefault(alert.key.decode(), []).append(alert.value)
    xml = [etree.fromstring(v) for v in by_party[SUPPLIER]]
    assert [etree.QName(d).localname for d in xml] == ["Response"] * 2
    messages = [d.find("sr:Body/sr:DCCAlertMessage", NS) for d in xml]
    assert {m.findtext("sr:DCCAlertCode", namespaces=NS) for m in messages} == {"N999"}
    hub_alerts = [m.find("sr:DCCAlert/sr:CommsHubAlert", NS) for m in messages]
    assert {a.findtext("sr:CommsHubDeviceID", namespaces=NS) for a in hub_alerts} == {hub(1), hub(2)}
    assert {a.findtext("sr:AlertCode", namespaces=NS) for a in hub_alerts} == {"0814"}
    assert {a.findtext("sr:TimeStamp", namespaces=NS) for a in hub_alerts} == {"2024-04-09T00:00:00+00:00"}
    [json_alert] = [orjson.loads(v) for v in by_party[JSON_ALERTS_SUPPLIER]]
    assert json_alert["Header"]["ResponseCode"] == "I0"
    assert json_alert["Body"]["DCCAlertMessage"]["DCCAlertCode"] == "N999"
    assert json_alert["Body"]["DCCAlertMessage"]["DCCAlert"]["CommsHubAlert"]["CommsHubDeviceID"] == hub(4)
    # The record and the request of an overdue hub travel as record headers (CommsHubAlert has no place for them).
    by_record = {headers["returns-remedy-record"]: headers for headers in map(record_headers, alerts)}
    assert set(by_record) == {references[hub(1)], references[hub(2)], references[hub(4)]}
    assert {headers["alert-code"] for headers in by_record.values()} == {"N999"}
    assert by_record[references[hub(1)]]["request-id"] == build.request_id(SUPPLIER, 1)
    assert by_record[references[hub(4)]]["request-id"] == build.request_id(JSON_ALERTS_SUPPLIER, 1)
    assert {p["party"]: (p["open"], p["overdue"], p["open_by_age"]["91-180d"]) for p in report} == {
        SUPPLIER: (2, 2, 2), JSON_ALERTS_SUPPLIER: (1, 1, 1)}


async def test_csp_receipt_closes_the_record_and_bad_receipts_are_dead_lettered(settings, bus):
    topics = settings.topics
    received_at = int(datetime(2024, 2, 1, tzinfo=timezone.utc).timestamp() * 1000)
    async with returns_with_inventory(settings):
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 1, "8.14.3", build.fault_return([hub(1)])))
        await bus.read(topics.responses, count=1)
        receipt = orjson.dumps({"type": "ReturnReceived", "device_id": hub(1).lower(), "outcome": "fault_confirmed"})
        await bus.send(topics.csp_events, receipt, key=hub(1).encode(), timestamp_ms=received_at)
        await bus.send(topics.csp_events, receipt, key=hub(1).encode())  # nothing open any more
        await bus.send(topics.csp_events, orjson.dumps({"type": "ReturnReceived", "device_id": hub(8), "outcome": "no_fault_found"}))
        await bus.send(topics.csp_events, orjson.dumps({"type": "ReturnReceived", "device_id": hub(1), "outcome": "lost"}))
        await bus.send(topics.csp_events, orjson.dumps({"type": "CommsHubDelivered", "chf_id": hub(9)}))
        letters = await bus.read(topics.dead_letters, count=3, settle=1.5)
        conn = await connect(settings)
        view = await tracking.by_hub(conn, hub(1))
        await conn.close()

    record = view["records"][0]
    assert (view["status"], record["outcome"], record["received_at"]) == \
        ("closed", "fault_confirmed", "2024-02-01T00:00:00+00:00")
    assert [e["event"] for e in record["history"]] == ["opened", "received", "closed"]
    reasons = [dict((k, v.decode()) for k, v in letter.headers)["dlq-reason"] for letter in letters]
    assert len(letters) == 3
    assert sum(f"hub {hub(1)} has no open Returns Remedy Record" in r for r in reasons) == 1
    assert sum(f"hub {hub(8)} has no open Returns Remedy Record" in r for r in reasons) == 1
    assert sum("outcome" in r for r in reasons) == 1


async def test_bad_commands_and_replies_are_dead_lettered_or_answered(settings, bus):
    topics = settings.topics
    too_many = build.no_fault_return([hub(n) for n in range(1, 1001)])
    async with returns_with_inventory(settings) as inventory:
        await bus.send(topics.returns_commands, b"\x00not json", key=b"k")
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 1, "8.14.4", too_many))
        stray = HubsReturned(command_id="returns:nobody", request_id="nobody", results=[])
        await bus.send(topics.inventory_replies, stray.to_bytes(), key=b"nobody")
        await bus.send(topics.inventory_replies, b'{"type": "SomethingElse"}')
        letters = await bus.read(topics.dead_letters, count=2, settle=1.0)
        responses = await bus.read(topics.responses, count=1, settle=0.5)
    reasons = sorted(dict((k, v.decode()) for k, v in r.headers)["dlq-reason"] for r in letters)
    assert len(reasons) == 2
    assert reasons[0].startswith("no return request nobody")
    assert reasons[1] == "returns takes HandleServiceRequest or CheckOverdue commands, not None"
    answer = orjson.loads(responses[0].value)
    assert answer["Header"]["ResponseCode"] == "E45" and inventory.asked == []


async def test_replay_through_intake_gets_the_original_response(settings, bus):
    from services.intake.app import serve as intake

    topics = settings.topics
    request = build.request(SUPPLIER, 42, "8.14.3", build.fault_return([hub(1), hub(2)]))
    async with running(intake, settings), returns_with_inventory(settings) as inventory:
        await bus.send(topics.requests, request)
        await bus.read(topics.responses, count=1)
        await bus.send(topics.requests, request)
        responses = await bus.read(topics.responses, count=2, settle=1.5)
    assert len(responses) == 2 and responses[0].value == responses[1].value
    assert etree.fromstring(responses[0].value).findtext("sr:Header/sr:ResponseCode", namespaces=NS) == "I0"
    assert len(inventory.asked) == 1
