"""Tracking a return over HTTP and the CLI, the party listing, the reports and their metrics."""
import socket
from datetime import datetime, timezone

import aiohttp
import pytest
from prometheus_client import REGISTRY

from services.returns import cli, metrics, tracking
from shared.duis import build
from tests.integration.test_returns_flow import connect, hub, return_command, returns_with_inventory
from tests.support import SUPPLIER, SUPPLIER_2

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_return_is_tracked_by_record_hub_and_request(settings, bus, capsys):
    settings = settings.model_copy(update={"http_port": free_port(), "returns_overdue_check_seconds": 0})
    topics, base = settings.topics, f"http://127.0.0.1:{settings.http_port}/returns"
    first, second = build.request_id(SUPPLIER, 1), build.request_id(SUPPLIER, 2)
    async with returns_with_inventory(settings, {hub(3): "E51"}):
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 1, "8.14.3", build.fault_return([hub(1), hub(2), hub(3)])))
        await bus.send(topics.returns_commands, *return_command(SUPPLIER_2, 1, "8.14.4", build.no_fault_return([hub(5)])))
        await bus.read(topics.responses, count=2)
        await bus.send(topics.returns_commands, *return_command(SUPPLIER, 2, "8.14.4", build.no_fault_return([hub(1), hub(4)])))
        await bus.read(topics.responses, count=3)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/requests/{first.lower()}") as answer:
                assert answer.status == 200
                by_request = await answer.json()
            reference = by_request["hubs"][0]["reference"]
            async with http.get(f"{base}/records/{reference}") as answer:
                by_reference = await answer.json()
            async with http.get(f"{base}/hubs/{hub(1)}") as answer:
                by_hub = await answer.json()
            async with http.get(f"{base}/parties/{SUPPLIER}/requests?limit=1&offset=1") as answer:
                page = await answer.json()
            async with http.get(f"{base}/reports/open?as_of=2024-07-01T00:00:00%2B00:00") as answer:
                report = await answer.json()
            async with http.get(f"{base}/reports/reasons") as answer:
                reasons = await answer.json()
            async with http.get(f"{base}/hubs/{hub(77)}") as answer:
                assert answer.status == 404
            async with http.get(f"{base}/hubs/not-an-eui") as answer:
                assert answer.status == 400

    assert by_request["request_id"] == first and by_request["response_code"] == "W081401"
    assert [(h["device_id"], h["code"], h["status"]) for h in by_request["hubs"]] == [
        (hub(1), "I0", "open"), (hub(2), "I0", "open"), (hub(3), "E51", "refused")]
    assert by_request["hubs"][0]["due_by"] == "2024-04-09"
    assert by_reference["device_id"] == hub(1) and by_reference["fault_reason"] == "LED Fault"
    assert by_reference["history"] == [{"at": "2024-01-10T09:30:00+00:00", "event": "opened",
                                        "detail": f"returned by {SUPPLIER} in {first}"}]
    assert by_hub["status"] == "open"
    assert [(r["request_id"], r["code"]) for r in by_hub["requests"]] == [(first, "I0"), (second, "E081405")]
    assert page["total"] == 2 and page["limit"] == 1 and len(page["requests"]) == 1
    listed = page["requests"][0]
    # newest first, then by RequestID: both share one event time, so page 2 holds the second
    assert (listed["request_id"], listed["hubs"], listed["accepted"], listed["refused"], listed["open"],
            listed["overdue"], listed["closed"], listed["awaiting_inventory"]) == (second, 2, 1, 1, 1, 0, 0, 0)
    assert {p["party"]: (p["open"], p["overdue"], p["open_by_age"]["91-180d"]) for p in report["parties"]} == {
        SUPPLIER: (3, 3, 3), SUPPLIER_2: (1, 1, 1)}
    assert sorted((r["kind"], r["return_type"], r["fault_reason"], r["records"]) for r in reasons["reasons"]) == [
        ("fault", "Fault identified post installation", "LED Fault", 2),
        ("no_fault", "No Fault Return (general)", "", 2)]

    conn = await connect(settings)
    try:
        metrics.show_reports(await tracking.open_report(conn, datetime(2024, 7, 1, tzinfo=timezone.utc)),
                             await tracking.reasons_report(conn))
    finally:
        await conn.close()
    assert REGISTRY.get_sample_value("smi_returns_open_records", {"party": SUPPLIER, "age": "91-180d"}) == 3
    assert REGISTRY.get_sample_value("smi_returns_overdue_records", {"party": SUPPLIER_2}) == 1
    assert REGISTRY.get_sample_value("smi_returns_records", {
        "kind": "no_fault", "return_type": "No Fault Return (general)", "fault_reason": ""}) == 2

    shown = await cli.run(cli.parser().parse_args(["track", "--device", hub(2)]), settings)
    assert shown["records"][0]["request_id"] == first and shown["status"] == "open"
    assert await cli.run(cli.parser().parse_args(["track", "--reference", "RRR-9999999999"]), settings) is None
