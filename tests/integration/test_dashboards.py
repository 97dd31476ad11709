"""The dashboards and alert rules, proven: the four services run as processes and serve metrics,
a short scenario drives them (CSP deliveries, requests through intake, a rejection, a dead
letter, a bulk return, a receipt, an overdue check, a housekeeping run), a real Prometheus scrapes
them, and every PromQL expression of every dashboard and alert rule must parse and return data."""
import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson
import pytest
import yaml

from deploy.dashboards import DASHBOARDS_DIR
from deploy.local.services import available
from shared.duis import build, codec
from shared.settings import REPO_ROOT
from tests.conftest import unavailable
from tests.support import CSP_NORTH, SUPPLIER, free_port, service_env, wait_ready

pytestmark = pytest.mark.integration

SERVICES = tuple(available())  # the four services, and the SSI where it is built
PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
ALERT_RULES = PROMETHEUS_DIR / "alerts.yml"
GRAFANA_RANGE_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
COMPARISON = re.compile(r"^(?P<query>.+?)\s+(?P<op>==|!=|>=|<=|>|<)\s+(?P<threshold>-?[0-9.]+)$", re.S)


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every target of every dashboard, Grafana variables filled in."""
    found = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for variable, value in GRAFANA_RANGE_VARIABLES.items():
                    expr = expr.replace(variable, value)
                found.append((f"{path.name}: {panel['title']}", expr))
    return found


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERT_RULES.read_text())["groups"] for rule in group["rules"]]


def alert_queries() -> list[tuple[str, str]]:
    """Each rule's query side: the rule itself returns data only while it fires."""
    found = []
    for rule in alert_rules():
        match = COMPARISON.match(rule["expr"].strip())
        assert match, f"{rule['alert']}: expected `<query> <op> <threshold>`, got {rule['expr']!r}"
        found.append((f"alert {rule['alert']}", match["query"]))
    return found


def prometheus_config(ports: dict[str, int]) -> dict:
    """The deployed scrape config (same jobs, same rule file) aimed at this test's processes."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(ALERT_RULES)]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == set(SERVICES), jobs
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    return config


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs, self.running = logs, []
        self.by_name: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=open(self.logs / f"{name}.log", "ab"),
                                   stderr=subprocess.STDOUT)
        self.running.append(process)
        self.by_name[name] = process
        return process

    async def wait_ready(self, ports: dict[str, int]) -> None:
        """The scenario's clocks start once every service can work, however loaded the machine."""
        for name, port in ports.items():
            try:
                await wait_ready(port, 300, self.by_name[name])
            except AssertionError as error:
                raise AssertionError(f"{name}: {error}\n{self.log_tails()}") from None

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(self.logs.glob("*.log")))


async def get_json(session: aiohttp.ClientSession, url: str, **params) -> dict:
    async with session.get(url, params=params) as reply:
        return await reply.json()


async def metric_value(session: aiohttp.ClientSession, port: int, name: str) -> float:
    """A service's own /metrics, read directly: the sum of one metric's samples."""
    try:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as reply:
            text = await reply.text()
    except aiohttp.ClientError:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and line[len(name)] in " {")


async def wait_for(check, timeout: float, what: str, logs: Processes) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{logs.log_tails()}")


def alert_codes(records) -> list[str]:
    return [codec.read(r.value)["Body"]["DCCAlertMessage"]["DCCAlertCode"] for r in records]


def response_codes(records) -> list[str]:
    return [dict(r.headers)["response-code"].decode() for r in records]


def delivered(chf: str, gpf: str) -> bytes:
    return orjson.dumps({"type": "CommsHubDelivered", "chf_id": chf, "gpf_id": gpf, "csp_id": CSP_NORTH,
                         "ordering_party": SUPPLIER, "csp_region": "North", "manufacturer": "ACME",
                         "model": "CH-1", "firmware_version": "1.0"})


async def drive_scenario(settings, bus, session, ports, logs: Processes) -> None:
    topics = settings.topics
    now = datetime.now(UTC).replace(microsecond=0)
    two_years_ago = int((now - timedelta(days=730)).timestamp() * 1000)
    a_year_ago = int((now - timedelta(days=365)).timestamp() * 1000)
    hubs = [build.device_id(n, "00-CC") for n in (1, 2, 3)]
    meter = build.device_id(1, "00-E1")
    for chf in hubs:
        await bus.send(topics.csp_events, delivered(chf, "00-CD" + chf[5:]), key=chf.encode(),
                       timestamp_ms=two_years_ago)
    json_request = {"content-type": "application/json"}
    await bus.send(topics.requests, build.request(SUPPLIER, 1, "12.2", build.prenotification(meter)),
                   timestamp_ms=two_years_ago)
    await bus.send(topics.requests, build.request(SUPPLIER, 2, "12.2", build.prenotification(
        build.device_id(2, "00-E1"), device_type="NotAType")), timestamp_ms=two_years_ago)
    await bus.send(topics.requests, b"this is not a Service Request")
    responses = await bus.read(topics.responses, count=2, timeout=60)
    assert sorted(response_codes(responses)) == ["E12", "I0"]
    await bus.send(topics.requests, build.request(SUPPLIER, 3, "8.14.3", build.fault_return(
        [hubs[0], hubs[1], build.device_id(9, "00-CC")]), "json"), headers=json_request, timestamp_ms=a_year_ago)
    responses = await bus.read(topics.responses, count=3, timeout=60)
    assert sorted(response_codes(responses)) == ["E12", "I0", "W081401"]
    await bus.send(topics.csp_events, orjson.dumps({"type": "ReturnReceived", "device_id": hubs[0],
                                                    "outcome": "fault_confirmed"}), key=hubs[0].encode())

    async def housekeeping_tracks_every_device():
        return await metric_value(session, ports["housekeeping"], "smi_housekeeping_device_events_total") >= 7
    await wait_for(housekeeping_tracks_every_device, 90, "housekeeping to track the device events", logs)
    await bus.send(topics.housekeeping_runs, orjson.dumps({"as_of": now.isoformat()}))
    alerts = await bus.read(topics.alerts, timeout=60, until=lambda rs: {"N8", "N999"} <= set(alert_codes(rs)))
    assert sorted(set(alert_codes(alerts))) == ["N8", "N999"], logs.log_tails()


async def test_every_dashboard_and_alert_query_returns_data_from_a_real_prometheus(settings, bus, tmp_path):
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        unavailable("the `prometheus` binary is not installed (Debian: apt-get install prometheus)")
    ports = {name: free_port() for name in SERVICES}
    logs = Processes(tmp_path)
    try:
        for name in SERVICES:
            env = service_env(settings) | {
                "SMI_METRICS_PORT": str(ports[name]), "SMI_HTTP_PORT": "0",
                "SMI_INSTANCE_ID": f"{name}-{settings.group_suffix}",
                "SMI_RETURNS_OVERDUE_CHECK_SECONDS": "1",
                "SMI_HOUSEKEEPING_DATA_DIR": str(tmp_path / "housekeeping-data")}
            logs.start(name, [sys.executable, "-m", f"services.{name}"], env)
        await logs.wait_ready(ports)
        prometheus_port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config(ports)))
        logs.start("prometheus", [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                  f"--web.listen-address=127.0.0.1:{prometheus_port}"])
        api = f"http://127.0.0.1:{prometheus_port}/api/v1"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await drive_scenario(settings, bus, session, ports, logs)

            queries = dashboard_queries() + alert_queries()
            empty: list[str] = []

            async def every_query_has_data():
                empty.clear()
                for where, expr in queries:
                    answer = await get_json(session, f"{api}/query", query=expr)
                    assert answer["status"] == "success", f"{where}: {expr}: {answer}"
                    if not answer["data"]["result"]:
                        empty.append(f"{where}: {expr}")
                return not empty
            try:
                await wait_for(every_query_has_data, 90, "data for every query", logs)
            except AssertionError:
                raise AssertionError("queries without data:\n" + "\n".join(empty)) from None

            for rule in alert_rules():
                answer = await get_json(session, f"{api}/query", query=rule["expr"])
                assert answer["status"] == "success", f"{rule['alert']}: {answer}"
            rules = await get_json(session, f"{api}/rules")
            loaded = {r["name"]: r for g in rules["data"]["groups"] for r in g["rules"]}
            assert set(loaded) == {r["alert"] for r in alert_rules()}
            assert {name: r["health"] for name, r in loaded.items() if r["health"] != "ok"} == {}

            async def dead_letter_alert_fires():
                alerts = (await get_json(session, f"{api}/alerts"))["data"]["alerts"]
                return any(a["labels"]["alertname"] == "SmiDeadLetters" and a["labels"]["service"] == "intake"
                           and a["state"] == "firing" for a in alerts)
            await wait_for(dead_letter_alert_fires, 20, "the alert on the scenario's broken record", logs)
    finally:
        logs.stop()
    assert len(dashboard_queries()) >= 30


def test_the_alert_rules_pass_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("`promtool` is not installed (Debian: apt-get install prometheus)")
    result = subprocess.run([promtool, "check", "rules", str(ALERT_RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout
