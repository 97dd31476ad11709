"""The Self-Service Interface in headless Chromium, over intake, inventory and returns running
for real: a supplier signs in, opens the bulk return it made, checks every hub and code against
the DUIS response it got, downloads the CSV, looks up its SMETS1 meter and its pending devices,
reads its alerts, and is refused another supplier's return, record and device.

Screenshots of the main pages go to docs/screenshots/ (the README shows them)."""
import asyncio
import contextlib
import shutil
import socket
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import pytest
from aiohttp import web

from services.housekeeping.api import routes as housekeeping_routes
from services.housekeeping.config import HousekeepingSettings
from services.housekeeping.policy import RunningPolicy
from services.intake.app import serve as intake
from services.inventory.app import serve as inventory
from services.returns.app import request_overdue_check, serve as returns
from services.ssi.app import serve as ssi
from services.ssi.config import SSISettings
from shared import kafka
from shared.duis import build
from shared.messages import EnrolSMETS1Device
from shared.settings import REPO_ROOT
from tests.support import CSP_NORTH, SUPPLIER, SUPPLIER_2, running

pytestmark = pytest.mark.integration

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
RETURNED_AT = datetime(2024, 1, 10, 9, 30, tzinfo=timezone.utc)
TODAY = datetime(2024, 5, 2, 12, 0, tzinfo=timezone.utc)  # the SSI's clock: past every due date
SECRET = {SUPPLIER: "smi-dev-0000", SUPPLIER_2: "smi-dev-0001"}


def hub(n: int) -> str:
    return build.device_id(n, "00-CC")


def gpf_of(chf: str) -> str:
    return "00-CD" + chf[5:]


def meter(n: int) -> str:
    return build.device_id(n, "00-DB")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@contextlib.asynccontextmanager
async def housekeeping_api(port: int):
    """Housekeeping's HTTP API with the policy in force (the pages ask it only about the policy)."""
    runner = web.AppRunner(housekeeping_routes(None, RunningPolicy(HousekeepingSettings().policy_file)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.2)
    raise AssertionError("timed out waiting")


@pytest.fixture
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian's chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the browser tests drive Chromium with selenium: pip install selenium")

    profile, downloads = tempfile.mkdtemp(prefix="ssi-chromium-"), tempfile.mkdtemp(prefix="ssi-downloads-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": downloads,
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.downloads = Path(downloads)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(downloads, ignore_errors=True)


async def test_a_supplier_tracks_its_return_and_looks_up_its_devices_in_a_browser(settings, bus, browser):
    topics = settings.topics
    ports = {name: free_port() for name in ("inventory", "housekeeping", "returns", "ssi")}
    settings = settings.model_copy(update={"returns_overdue_check_seconds": 0})
    config = SSISettings(inventory_url=f"http://127.0.0.1:{ports['inventory']}",
                         housekeeping_url=f"http://127.0.0.1:{ports['housekeeping']}",
                         returns_url=f"http://127.0.0.1:{ports['returns']}", page_size=5)
    own, theirs, unknown = [hub(n) for n in range(1, 6)], hub(7), hub(9)
    smets1, their_smets1, pending_meter = meter(40), meter(41), meter(42)

    async with running(intake, settings), \
            running(inventory, settings.model_copy(update={"http_port": ports["inventory"]})), \
            running(returns, settings.model_copy(update={"http_port": ports["returns"]})), \
            housekeeping_api(ports["housekeeping"]), \
            running(lambda s, stop: ssi(s, stop, config, lambda: TODAY),
                    settings.model_copy(update={"http_port": ports["ssi"]})):
        # Given: hubs delivered, a SMETS1 meter each, a meter pre-notified, all before the returns.
        for chf, party in [*[(h, SUPPLIER) for h in own], (hub(6), SUPPLIER), (theirs, SUPPLIER_2)]:
            await bus.send(topics.csp_events, orjson.dumps({
                "type": "CommsHubDelivered", "chf_id": chf, "gpf_id": gpf_of(chf), "csp_id": CSP_NORTH,
                "ordering_party": party, "csp_region": "North", "manufacturer": "ACME", "model": "CH-1"}),
                key=chf.encode(), timestamp_ms=millis(RETURNED_AT - timedelta(days=400)))
        for device, party, mpxn, s1sp in [(smets1, SUPPLIER, "1900000001", "S1SP-A"),
                                          (their_smets1, SUPPLIER_2, "1900000002", "S1SP-B")]:
            enrol = EnrolSMETS1Device(command_id=f"mig-{device}", device_id=device, device_type="ESME",
                                      manufacturer="S1M", model="S1", s1sp=s1sp, responsible_supplier=party,
                                      mpxn=mpxn, event_time=RETURNED_AT - timedelta(days=30))
            await bus.send(topics.inventory_commands, enrol.model_dump_json().encode(), key=device.encode())
        await bus.send(topics.requests, build.request(SUPPLIER, 1, "12.2", build.prenotification(pending_meter), "json"),
                       headers={"content-type": "application/json"},
                       timestamp_ms=millis(datetime(2024, 3, 1, tzinfo=timezone.utc)))
        await bus.read(topics.device_events, count=17)
        # When: the other supplier returns its hub, then this supplier returns five, theirs and an unknown one.
        await bus.send(topics.requests, build.request(SUPPLIER_2, 1, "8.14.4", build.no_fault_return([theirs]), "json"),
                       headers={"content-type": "application/json"}, timestamp_ms=millis(RETURNED_AT))
        await bus.read(topics.responses, count=2, timeout=30)
        mixed = [*own, theirs, unknown]
        await bus.send(topics.requests, build.request(SUPPLIER, 2, "8.14.3", build.fault_return(mixed), "json"),
                       headers={"content-type": "application/json"}, timestamp_ms=millis(RETURNED_AT))
        responses = await bus.read(topics.responses, count=3, timeout=30)
        await bus.send(topics.csp_events, orjson.dumps({"type": "ReturnReceived", "device_id": own[0],
                                                        "outcome": "fault_confirmed"}),
                       key=own[0].encode(), timestamp_ms=millis(RETURNED_AT + timedelta(days=20)))
        await bus.flush()
        await wait_for(lambda: _closed(f"http://127.0.0.1:{ports['returns']}/returns/hubs/{own[0]}"))
        producer = kafka.plain_producer(settings)
        await producer.start()
        try:
            await request_overdue_check(producer, settings, TODAY)
        finally:
            await producer.stop()
        await bus.read(topics.alerts, count=5, timeout=30)
        conn = await asyncpg.connect(settings.database_url)
        try:
            await wait_for(lambda: _kept_alerts(conn, 5))
        finally:
            await conn.close()

        answers = {orjson.loads(r.value)["Header"]["RequestID"]: orjson.loads(r.value) for r in responses}
        ours = answers[build.request_id(SUPPLIER, 2)]
        theirs_answer = answers[build.request_id(SUPPLIER_2, 1)]
        # A single hub's return is answered in pure DUIS 5.4, without its record: returns' API names it.
        assert theirs_answer["Header"]["ResponseCode"] == "I0" and "CHFReturnResults" not in \
            theirs_answer["Body"]["ResponseMessage"]
        their_reference = await _record_reference(f"http://127.0.0.1:{ports['returns']}/returns/hubs/{theirs}")
        base = f"http://127.0.0.1:{ports['ssi']}"
        seen = await asyncio.to_thread(use_the_pages, browser, base, ours, build.request_id(SUPPLIER_2, 1),
                                       their_reference, smets1, their_smets1, pending_meter)
        refused = await _statuses_with(browser.get_cookies(), base, [
            f"/returns/{build.request_id(SUPPLIER_2, 1)}",
            f"/returns/{build.request_id(SUPPLIER_2, 1)}/hubs.csv",
            f"/records/{their_reference}",
            f"/inventory?q={their_smets1}", "/inventory?q=1900000002",
            f"/returns/{build.request_id(SUPPLIER, 2)}"])
        anonymous = await _statuses_with([], base, ["/returns", f"/returns/{build.request_id(SUPPLIER, 2)}/hubs.csv"])

    results = ours["Body"]["ResponseMessage"]["CHFReturnResults"]["HubResult"]
    assert ours["Header"]["ResponseCode"] == "W081401"
    assert [(r["DeviceID"], r["ResponseCode"]) for r in results] == [
        *[(h, "I0") for h in own], (theirs, "E081405"), (unknown, "E081401")]
    due = results[0]["ReturnDueDate"]
    assert due == "2024-04-09"
    statuses = ["closed", "overdue", "overdue", "overdue", "overdue", "refused", "refused"]
    expected_rows = [[str(n + 1), r["DeviceID"], r["ResponseCode"], r.get("ReturnsRemedyRecordReference") or "",
                      r.get("ReturnDueDate") or "", status]
                     for n, (r, status) in enumerate(zip(results, statuses))]
    assert seen["list_row"] == [build.request_id(SUPPLIER, 2), "2024-01-10", "Fault return",
                                "7", "5", "2", "1", "1", "4 Overdue", "W081401"]
    assert seen["hub_rows"] == [[n, d, c, ref, due_by, status.capitalize()]
                                for n, d, c, ref, due_by, status in expected_rows]
    assert seen["overdue_rows_marked"] == 4
    assert seen["overdue_filter"] == [row[1] for row in expected_rows if row[5] == "overdue"]
    assert seen["csv"] == "position,device_id,code,reference,due_by,status\r\n" + "".join(
        ",".join(row) + "\r\n" for row in expected_rows)
    assert seen["record_history"] == ["opened", "received", "closed"]
    assert seen["smets1"]["S1SP"] == "S1SP-A" and seen["smets1"]["CSP region"] == "SMETS1"
    assert seen["smets1"]["SMI Status"] == "Commissioned" and seen["smets1"]["MPxN"] == "1900000001"
    assert seen["by_mpxn"] == [smets1]
    assert seen["pending_meter"]["Housekeeping"] == (
        "Pending 2 months; removed if still Pending on 2025-03-01 (policy 2025.1, 12 months)")
    assert seen["pending_hub"]["Housekeeping"].endswith(
        "retained: its type is excluded from housekeeping (policy 2025.1)")
    assert seen["alerts"] == [("N999: Comms Hub return overdue", h) for h in own[1:]]
    assert seen["wrong_secret"] == "That party ID and credential do not match."
    assert seen["refused_titles"] == ["Not found"] * 3 + ["Inventory"]
    assert refused == [404, 404, 404, 404, 404, 200]
    assert anonymous == [303, 303]


async def _closed(url: str) -> bool:
    """The receipt is applied before the overdue check is asked (else the hub is alerted too)."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status == 200 and (await response.json())["status"] == "closed"


async def _record_reference(url: str) -> str:
    """The Returns Remedy Record of a hub, as returns' API tracks it."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["records"][-1]["reference"]


async def _kept_alerts(conn, count: int) -> bool:
    return await conn.fetchval("select count(*) from ssi.alerts") >= count


async def _statuses_with(cookies: list[dict], base: str, paths: list[str]) -> list[int]:
    jar = {c["name"]: c["value"] for c in cookies}
    async with aiohttp.ClientSession(cookies=jar) as http:
        statuses = []
        for path in paths:
            async with http.get(base + path, allow_redirects=False) as response:
                statuses.append(response.status)
        return statuses


def use_the_pages(driver, base: str, ours: dict, their_request_id: str, their_reference: str, smets1: str,
                  their_smets1: str, pending_meter: str) -> dict:
    """What a person sees, page by page (runs in a thread: Selenium blocks)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.wait import WebDriverWait

    def arrived(fragment: str) -> None:
        """Wait until the browser shows the page whose URL holds `fragment`, fully loaded."""
        WebDriverWait(driver, 15).until(lambda d: fragment in d.current_url
                                        and d.execute_script("return document.readyState") == "complete")

    def text(css: str) -> str:
        return driver.find_element(By.CSS_SELECTOR, css).text

    def table_rows(table_id: str) -> list[list[str]]:
        return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
                for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]

    def details() -> dict[str, str]:
        names = driver.find_elements(By.CSS_SELECTOR, "dl dt")
        values = driver.find_elements(By.CSS_SELECTOR, "dl dd")
        return {n.text: v.text for n, v in zip(names, values)}

    def shoot(name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    seen: dict = {}
    request_id = ours["Header"]["RequestID"]
    driver.get(base + "/returns")  # signed out: sent to sign in
    assert driver.current_url == base + "/sign-in"
    driver.find_element(By.ID, "party").send_keys(SUPPLIER)
    driver.find_element(By.ID, "secret").send_keys("not the secret", Keys.ENTER)
    seen["wrong_secret"] = text("[role=alert]")
    shoot("sign-in")
    driver.find_element(By.ID, "secret").send_keys(SECRET[SUPPLIER], Keys.ENTER)  # the keyboard alone
    arrived("/returns")
    assert driver.current_url == base + "/returns"
    [seen["list_row"]] = [row for row in table_rows("returns") if row[0] == request_id]
    shoot("returns")

    driver.find_element(By.LINK_TEXT, request_id).click()
    arrived(f"/returns/{request_id}")
    rows = table_rows("hubs")
    seen["overdue_rows_marked"] = len(driver.find_elements(By.CSS_SELECTOR, "#hubs tr.overdue"))
    shoot("return")
    page = 1
    while driver.find_elements(By.CSS_SELECTOR, "a[rel=next]"):  # five a page here: every page
        driver.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
        page += 1
        arrived(f"page={page}")
        rows += table_rows("hubs")
    seen["hub_rows"] = [row[:6] for row in rows]

    driver.get(f"{base}/returns/{request_id}")
    driver.find_element(By.ID, "status").send_keys("Overdue")
    driver.find_element(By.CSS_SELECTOR, "form[action^='/returns/'] button").click()
    arrived("status=overdue")
    seen["overdue_filter"] = [row[1] for row in table_rows("hubs")]

    driver.find_element(By.ID, "csv").click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not list(driver.downloads.glob("*.csv")):
        time.sleep(0.1)
    [downloaded] = list(driver.downloads.glob("*.csv"))
    seen["csv"] = downloaded.read_bytes().decode()

    first_reference = ours["Body"]["ResponseMessage"]["CHFReturnResults"]["HubResult"][0]["ReturnsRemedyRecordReference"]
    driver.get(f"{base}/returns/{request_id}")
    driver.find_element(By.LINK_TEXT, first_reference).click()
    arrived(f"/records/{first_reference}")
    seen["record_history"] = [item.text.split(" ", 2)[2].split(":")[0]
                              for item in driver.find_elements(By.CSS_SELECTOR, "ol.history li")]

    driver.find_element(By.LINK_TEXT, "Inventory").click()
    arrived("/inventory")
    driver.find_element(By.ID, "q").send_keys(smets1, Keys.ENTER)
    arrived(f"q={smets1}")
    seen["smets1"] = details()
    shoot("inventory")
    driver.get(f"{base}/inventory?q=1900000001")
    seen["by_mpxn"] = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "section h2")]
    driver.get(f"{base}/inventory?q={pending_meter}")
    seen["pending_meter"] = details()
    driver.get(f"{base}/inventory?q={hub(6)}")
    seen["pending_hub"] = details()

    driver.find_element(By.LINK_TEXT, "Alerts").click()
    arrived("/alerts")
    seen["alerts"] = [(row[1], row[2]) for row in table_rows("alerts")]
    seen["alerts"].sort(key=lambda a: a[1])
    shoot("alerts")

    titles = []
    for path in [f"/returns/{their_request_id}", f"/records/{their_reference}",
                 f"/returns/{their_request_id}/hubs.csv", f"/inventory?q={their_smets1}"]:
        driver.get(base + path)
        titles.append(text("h1"))
    seen["refused_titles"] = titles
    return seen
