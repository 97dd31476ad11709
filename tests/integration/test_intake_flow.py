"""Intake over the real broker and database: route, reject, replay, dead-letter, survive SIGKILL."""
import asyncio
import os
import signal

import orjson
import pytest

from services.intake.app import serve
from shared.duis import build, codec
from shared.duis.build import device_id
from tests.support import SUPPLIER, running, start_process, wait_ready

pytestmark = pytest.mark.integration


def headers(record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def test_valid_request_is_routed_and_invalid_one_answered(settings, bus):
    topics = settings.topics
    async with running(serve, settings):
        await bus.send(topics.requests, build.request(SUPPLIER, 1, "12.2", build.prenotification(device_id(1))),
                       timestamp_ms=1_700_000_000_000)
        bad = build.request(SUPPLIER, 2, "12.2", build.prenotification(device_id(2), DeviceType="TOASTER"), "json")
        await bus.send(topics.requests, bad, headers={"content-type": "application/json"})
        commands = await bus.read(topics.inventory_commands, count=1)
        responses = await bus.read(topics.responses, count=1, settle=1.0)

    assert len(commands) == 1 and commands[0].key == device_id(1).encode()
    command = orjson.loads(commands[0].value)
    assert command["type"] == "HandleServiceRequest" and command["variant"] == "12.2"
    assert command["reply"] == {"request_id": build.request_id(SUPPLIER, 1), "originator": SUPPLIER,
                                "format": "xml", "schema_version": "5.4", "variant": "12.2"}
    assert command["event_time"].startswith("2023-11-14T22:13:20")
    assert command["body"]["DevicePrenotification"]["DeviceType"] == "ESME"

    assert len(responses) == 1 and responses[0].key == SUPPLIER.encode()
    answer = orjson.loads(responses[0].value)
    assert answer["Header"]["RequestID"] == build.request_id(SUPPLIER, 2)
    assert answer["Header"]["ResponseCode"] == "E12"
    assert "DeviceType" in headers(responses[0])["response-reason"]
    assert headers(responses[0])["content-type"] == "application/json"


async def test_replays_get_the_original_response_and_cause_nothing(settings, bus):
    topics = settings.topics
    rejected = build.request(SUPPLIER, 10, "8.3", {"DeviceID": "bad"})
    routed = build.request(SUPPLIER, 11, "8.2", {"DeviceID": device_id(5)})
    async with running(serve, settings):
        await bus.send(topics.requests, rejected)
        await bus.send(topics.requests, rejected)
        await bus.send(topics.requests, routed)
        await bus.read(topics.inventory_commands, count=1)
        await bus.send(topics.requests, routed)  # in flight: answered once the owner answers
        await asyncio.sleep(1.0)
        owner_answer = b"<owner's response>"
        await bus.send(topics.responses, owner_answer, key=SUPPLIER.encode(),
                       headers={"request-id": build.request_id(SUPPLIER, 11)})
        await bus.send(topics.requests, routed)  # after the answer: answered at once
        responses = await bus.read(topics.responses, count=5, settle=1.5)
        commands = await bus.read(topics.inventory_commands, count=1, settle=0.5)

    by_id: dict[str, list[bytes]] = {}
    for record in responses:
        by_id.setdefault(headers(record)["request-id"], []).append(record.value)
    assert len(by_id[build.request_id(SUPPLIER, 10)]) == 2
    assert len(set(by_id[build.request_id(SUPPLIER, 10)])) == 1, "a replay gets the very same response"
    assert by_id[build.request_id(SUPPLIER, 11)] == [owner_answer] * 3
    assert len(commands) == 1, "a replay is never routed again"


async def test_input_without_request_id_is_dead_lettered_with_its_source(settings, bus):
    topics = settings.topics
    async with running(serve, settings):
        await bus.send(topics.requests, b"\x00not a request", key=b"k")
        await bus.send(topics.requests, b'<Request xmlns="x"><Header/></Request>')
        letters = await bus.read(topics.dead_letters, count=2, settle=0.5)
        assert await bus.read(topics.responses, timeout=1.0) == []
    assert sorted(r.value for r in letters) == sorted([b"\x00not a request", b'<Request xmlns="x"><Header/></Request>'])
    for record in letters:
        meta = headers(record)
        assert meta["dlq-source-topic"] == topics.requests
        assert int(meta["dlq-source-offset"]) >= 0 and meta["dlq-reason"]


async def test_oversized_request_is_answered_when_its_request_id_is_findable(settings, bus):
    raw = build.request(SUPPLIER, 3, "12.2", build.prenotification(device_id(3), AdditionalInformation="x"))
    padded = raw.replace(b"<sr:Body>", b"<sr:Body>" + b" " * settings.max_request_bytes)
    async with running(serve, settings):
        await bus.send(settings.topics.requests, padded)
        responses = await bus.read(settings.topics.responses, count=1)
    assert codec.read(responses[0].value)["Header"]["ResponseCode"] == "E17"


async def test_sigkill_mid_batch_loses_and_repeats_nothing(settings, bus, tmp_path):
    topics, total = settings.topics, 3000
    for n in range(total):
        variant_body = (("12.2", build.prenotification(device_id(n))) if n % 3
                        else ("8.3", {"DeviceID": "bad"}))  # every third one is rejected
        await bus.send(topics.requests, build.request(SUPPLIER, n, *variant_body), key=SUPPLIER.encode())
    await bus.flush()

    process = start_process("intake", settings, tmp_path / "intake.log")
    try:
        await wait_ready(process.metrics_port, process=process)
        await bus.read(topics.inventory_commands, count=1, timeout=60)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process = start_process("intake", settings, tmp_path / "intake.log")
        commands = await bus.read(topics.inventory_commands, count=total - total // 3, timeout=120, settle=2)
        responses = await bus.read(topics.responses, count=total // 3, timeout=60, settle=1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    routed = [orjson.loads(c.value)["reply"]["request_id"] for c in commands]
    answered = [headers(r)["request-id"] for r in responses]
    assert len(routed) == len(set(routed)) == total - total // 3
    assert len(answered) == len(set(answered)) == total // 3
    assert set(routed) | set(answered) == {build.request_id(SUPPLIER, n) for n in range(total)}


async def test_per_party_topics_keep_each_party_to_its_own_responses(kafka_bootstrap, database_url):
    from tests.support import SUPPLIER_2, Bus, drop_database, isolated_settings
    settings = await isolated_settings(kafka_bootstrap, database_url, topic_mode="per-party")
    bus = Bus(settings)
    mine, theirs = (f"{settings.topics.responses}.{party}" for party in (SUPPLIER, SUPPLIER_2))
    try:
        async with running(serve, settings):
            await bus.send(settings.topics.requests, build.request(SUPPLIER, 1, "8.3", {"DeviceID": "x"}))
            routed = build.request(SUPPLIER_2, 2, "8.2", {"DeviceID": device_id(2)})
            await bus.send(settings.topics.requests, routed)
            await bus.read(settings.topics.inventory_commands, count=1)
            await bus.send(theirs, b"owner's answer", headers={"request-id": build.request_id(SUPPLIER_2, 2)})
            await asyncio.sleep(1.5)
            await bus.send(settings.topics.requests, routed)  # replay: answered on the party's topic
            assert [r.value for r in await bus.read(theirs, count=2, settle=1)] == [b"owner's answer"] * 2
            answers = await bus.read(mine, count=1, settle=0.5)
        assert [codec.read(r.value)["Header"]["ResponseCode"] for r in answers] == ["E11"]
        assert await bus.read(settings.topics.responses, timeout=0.5) == []
    finally:
        await bus.close()
        await drop_database(settings, database_url)


async def test_signatures_required_refuse_unsigned_and_wrongly_signed_requests(kafka_bootstrap, database_url):
    import asyncpg

    from tests.pki import CertificateAuthority, sign
    from tests.support import SUPPLIER_2, Bus, drop_database, isolated_settings
    ca = CertificateAuthority()
    mine, other = ca.issue(SUPPLIER), ca.issue(SUPPLIER_2)
    settings = await isolated_settings(kafka_bootstrap, database_url, signature_mode="required")
    conn = await asyncpg.connect(settings.database_url)
    await conn.execute("update registry.parties set certificate = $1 where eui = $2", mine[1], SUPPLIER)
    await conn.close()
    bus = Bus(settings)
    request = lambda n: build.request(SUPPLIER, n, "8.2", {"DeviceID": device_id(n)})  # noqa: E731
    try:
        async with running(serve, settings):
            await bus.send(settings.topics.requests, sign(request(1), *mine))
            await bus.send(settings.topics.requests, request(2))
            await bus.send(settings.topics.requests, sign(request(3), *other))
            await bus.send(settings.topics.requests, sign(request(1), *mine))  # the signed one, replayed
            commands = await bus.read(settings.topics.inventory_commands, count=1, settle=1)
            answers = await bus.read(settings.topics.responses, count=2, settle=1)
        assert [orjson.loads(c.value)["reply"]["request_id"] for c in commands] == [build.request_id(SUPPLIER, 1)]
        assert sorted(codec.read(a.value)["Header"]["ResponseCode"] for a in answers) == ["E49", "E50"]
    finally:
        await bus.close()
        await drop_database(settings, database_url)
