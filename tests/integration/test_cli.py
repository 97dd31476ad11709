"""The `smi` CLI as a person runs it: a real process against a running platform."""
import asyncio
import csv
import os
import socket
import sys

import orjson
import pytest

from services.intake.app import serve as intake
from services.inventory.app import serve as inventory
from services.returns.app import serve as returns
from shared.duis import build
from shared.duis.build import device_id
from shared.settings import REPO_ROOT
from tests.support import CSP_NORTH, SUPPLIER, running, service_env

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def smi(env: dict, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", *args, cwd=REPO_ROOT, env={**env, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode()


def hub(n: int) -> str:
    return device_id(n, "00-CE")


async def test_send_return_track_and_parties(settings, bus, tmp_path):
    returns_port, inventory_port = free_port(), free_port()
    env = {**service_env(settings), "SMI_CLI_RETURNS_URL": f"http://127.0.0.1:{returns_port}",
           "SMI_CLI_INVENTORY_URL": f"http://127.0.0.1:{inventory_port}"}
    with_api = settings.model_copy(update={"http_port": returns_port, "returns_overdue_check_seconds": 0})
    inventory_api = settings.model_copy(update={"http_port": inventory_port})
    async with running(intake, settings), running(inventory, inventory_api), running(returns, with_api):
        for n in range(3):
            await bus.send(settings.topics.csp_events, orjson.dumps({
                "type": "CommsHubDelivered", "chf_id": hub(n), "gpf_id": device_id(n, "00-CF"),
                "csp_id": CSP_NORTH, "ordering_party": SUPPLIER, "csp_region": "North",
                "manufacturer": "ACME", "model": "CH-1"}))
        await bus.read(settings.topics.device_events, count=6)

        code, out = await smi(env, "report", "stock-charge")
        assert code == 0 and SUPPLIER in out and '"total": 3' in out, out

        good, bad = tmp_path / "prenotify.xml", tmp_path / "decommission.json"
        good.write_bytes(build.request(SUPPLIER, 1, "12.2", build.prenotification(device_id(77))))
        bad.write_bytes(build.request(SUPPLIER, 2, "8.3", {"DeviceID": "not-an-eui"}, "json"))
        code, out = await smi(env, "send", str(good), str(bad))
        assert code == 1, out
        assert "I0" in out and "E11" in out and build.request_id(SUPPLIER, 1) in out

        hubs_csv, outcomes = tmp_path / "hubs.csv", tmp_path / "outcomes.csv"
        hubs_csv.write_text("DeviceID\n" + "\n".join([hub(0), hub(1), hub(2), "nope", hub(1).lower()]) + "\n")
        code, out = await smi(env, "return", "--fault", "--party", SUPPLIER, "--csv", str(hubs_csv),
                              "--out", str(outcomes))
        assert code == 1, out  # two lines were refused before sending
        rows = list(csv.DictReader(outcomes.open()))
        by_hub = {r["device_id"]: r for r in rows}
        assert {h: by_hub[h]["code"] for h in (hub(0), hub(1), hub(2))} == {hub(0): "I0", hub(1): "I0", hub(2): "I0"}
        assert by_hub["nope"]["code"] == "E11" and by_hub[hub(1).lower()]["code"] == "E46"
        assert all(by_hub[hub(n)]["record_reference"] and by_hub[hub(n)]["due_by"] for n in range(3))

        code, out = await smi(env, "track", hub(0))
        assert code == 0 and by_hub[hub(0)]["record_reference"] in out, out
        code, out = await smi(env, "track", "RRR-0999999999")
        assert code == 1 and "not found" in out, out

    code, out = await smi(env, "parties", "add", "--eui", "90-b3-d5-1f-30-01-00-99", "--name", "New Supplier",
                          "--roles", "IS,GS")
    assert code == 0, out
    code, out = await smi(env, "parties", "list")
    assert code == 0 and "90-B3-D5-1F-30-01-00-99" in out and "New Supplier" in out
    code, out = await smi(env, "parties", "add", "--eui", "bad", "--name", "x")
    assert code == 2 and "error" in out


@pytest.mark.parametrize("command", [[], ["send"], ["return"], ["track"], ["alerts"], ["parties", "add"],
                                     ["report", "forecast"], ["stack", "status"]])
async def test_every_command_explains_itself(command):
    code, out = await smi(dict(os.environ), *command, "--help")
    assert code == 0 and "Usage" in out, out
