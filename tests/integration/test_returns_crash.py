"""A returns worker killed between inventory's answer and its own response: after restart, exactly
one response per request and exactly one Returns Remedy Record per accepted hub."""
import signal
from datetime import datetime, timezone
from functools import partial

import asyncpg
import orjson
import pytest

from services.returns.handlers import handle, table
from shared import db
from shared.duis import build
from shared.messages import ReturnHubs
from shared.parties import PartyRegistry
from shared.processor import Processor
from shared.service import Context
from tests.integration.test_returns_flow import Inventory, hub, return_command
from tests.support import SUPPLIER, start_process, wait_ready

pytestmark = pytest.mark.integration


async def test_killed_mid_request_answers_once_and_opens_each_record_once(settings, bus, tmp_path):
    topics, now = settings.topics, datetime.now(timezone.utc)
    log = tmp_path / "returns.log"
    requests = {1: [hub(n) for n in range(1, 4)], 2: [hub(n) for n in range(4, 6)],
                3: [hub(n) for n in range(6, 10)]}
    worker = start_process("returns", settings, log)
    try:
        await wait_ready(worker.metrics_port, process=worker)
        for counter, hubs in requests.items():
            await bus.send(topics.returns_commands,
                           *return_command(SUPPLIER, counter, "8.14.4", build.no_fault_return(hubs), event_time=now))
        asked = [ReturnHubs.model_validate_json(r.value)
                 for r in await bus.read(topics.inventory_commands, count=3, timeout=40)]
        assert sorted(len(c.hubs) for c in asked) == [2, 3, 4]
        inventory = Inventory(settings, {hub(2): "E51"})
        by_request = {c.request_id: c for c in asked}
        first, second, third = (build.request_id(SUPPLIER, n) for n in (1, 2, 3))

        # Request 2: the worker is killed a moment after inventory's answer reaches it.
        await bus.send(topics.inventory_replies, inventory.answer(by_request[second]).to_bytes(), second.encode())
        await bus.flush()
        worker.send_signal(signal.SIGKILL)
        worker.wait()

        # Request 1: the answer is applied to the database, then the worker dies before publishing.
        await bus.send(topics.inventory_replies, inventory.answer(by_request[first]).to_bytes(), first.encode())
        replies = await bus.read(topics.inventory_replies,
                                 until=lambda rs: any(r.key == first.encode() for r in rs))
        [reply] = [r for r in replies if r.key == first.encode()]
        pool = await db.create_pool(settings.database_url)
        try:
            crashed = Processor(service="returns", group_id="smi-returns",
                                topics=[topics.returns_commands, topics.inventory_replies],
                                handler=partial(handle, Context(settings, PartyRegistry(pool)), table(settings)),
                                pool=pool, settings=settings, schema="returns")
            applied = await crashed._apply([reply])
        finally:
            await pool.close()
        assert [o.topic for o in applied] == [topics.responses]

        # Request 3: answered while no worker runs.
        await bus.send(topics.inventory_replies, inventory.answer(by_request[third]).to_bytes(), third.encode())

        worker = start_process("returns", settings, log)
        responses = await bus.read(topics.responses, count=3, timeout=120, settle=3.0)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    by_id = {}
    for record in responses:
        by_id.setdefault(dict(record.headers)["request-id"].decode(), []).append(record)
    assert sorted(len(v) for v in by_id.values()) == [1, 1, 1] and len(by_id) == 3, log.read_text()[-3000:]
    assert by_id[first][0].value == applied[0].value, "the saved response is the one published"
    codes = {rid: orjson.loads(r[0].value)["Header"]["ResponseCode"] for rid, r in by_id.items()}
    assert codes == {first: "W081401", second: "I0", third: "I0"}
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch("select device_id, count(*) as n from returns.records group by device_id")
    finally:
        await conn.close()
    assert {r["device_id"]: r["n"] for r in rows} == {h: 1 for hubs in requests.values() for h in hubs if h != hub(2)}
