"""The reports on a known dataset, with the exact numbers expected, and the device-count gauges.

Party A (SUPPLIER) and B (SUPPLIER_2) receive hubs h1..h7:
  h1 A 2023-01-10 pending          h5 A 2024-02-10 installed no SM WAN 2024-03-01
  h2 A 2023-03-10 returned 2023-12-01
  h3 A 2023-06-10 pending          h6 B 2023-02-01 installed 2023-03-01
  h4 A 2024-01-10 installed 2024-02-01   h7 B 2024-02-01 pending
and A pre-notifies an ESME (2024-05-01), a GSME (2021-01-01) and an IHD (no status).
"""
import asyncio

import asyncpg
import pytest

from services.inventory import metrics, reports, store
from services.inventory.app import serve
from shared.duis import build
from shared.duis.build import device_id
from shared.messages import ReturnHubs
from tests.integration.test_inventory_flow import Inputs, at
from tests.support import SUPPLIER as A, SUPPLIER_2 as B, running

pytestmark = pytest.mark.integration

HUBS = {  # name: (party, delivered)
    "h1": (A, "2023-01-10T09:00:00"), "h2": (A, "2023-03-10T09:00:00"), "h3": (A, "2023-06-10T00:00:00"),
    "h4": (A, "2024-01-10T09:00:00"), "h5": (A, "2024-02-10T09:00:00"),
    "h6": (B, "2023-02-01T09:00:00"), "h7": (B, "2024-02-01T00:00:00"),
}
CHF = {name: device_id(n + 1, "00-AA") for n, name in enumerate(HUBS)}
GPF = {name: device_id(n + 1, "00-AB") for n, name in enumerate(HUBS)}


@pytest.fixture
async def dataset(settings, bus):
    inputs = Inputs(settings, bus)
    async with running(serve, settings):
        for name, (party, delivered) in HUBS.items():
            await inputs.hub(CHF[name], GPF[name], delivered, ordering_party=party)
        await inputs.request("12.2", build.prenotification(device_id(1)), "2024-05-01T00:00:00")
        await inputs.request("12.2", build.prenotification(device_id(2), "GSME"), "2021-01-01T00:00:00")
        await inputs.request("12.2", build.prenotification(device_id(3), "IHD"), "2024-01-01T00:00:00")
        await inputs.events(17, settle=0)
        await inputs.request("8.14.1", build.install_success(CHF["h4"]), "2024-02-01T00:00:00")
        await inputs.request("8.14.2", build.install_no_sm_wan(CHF["h5"]), "2024-03-01T00:00:00")
        await inputs.request("8.14.1", build.install_success(CHF["h6"]), "2023-03-01T00:00:00", party=B)
        await inputs.command(ReturnHubs(command_id="ret-1", request_id="R1", originator=A,
                                        event_time=at("2023-12-01T00:00:00"), hubs=[CHF["h2"]]), "R1")
        await inputs.events(25, settle=0)
    conn = await asyncpg.connect(settings.database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def test_ch_stock_level_charge_counts_hubs_delivered_and_not_commissioned(dataset):
    report = await reports.ch_stock_level(dataset, at("2023-12-31T00:00:00").date())
    assert report["parties"] == [{"ordering_party": A, "hubs": 2}] and report["total"] == 2
    report = await reports.ch_stock_level(dataset, at("2024-02-15T00:00:00").date())
    assert report["parties"] == [{"ordering_party": A, "hubs": 3}, {"ordering_party": B, "hubs": 1}]
    report = await reports.ch_stock_level(dataset, at("2024-03-31T00:00:00").date())
    assert report["parties"] == [{"ordering_party": A, "hubs": 3}, {"ordering_party": B, "hubs": 1}]
    report = await reports.ch_stock_level(dataset, at("2023-03-05T00:00:00").date())
    assert report["parties"] == [{"ordering_party": A, "hubs": 1}], "h6 was commissioned on 2023-03-01"


async def test_stock_ageing_by_type_party_and_age(dataset):
    report = await reports.stock_ageing(dataset, at("2024-06-10T00:00:00"))
    assert [(r["device_type"], r["party"], r["age_months"], r["devices"]) for r in report["rows"]] == [
        ("CHF", A, "12-24", 2), ("CHF", B, "3-6", 1), ("ESME", A, "0-3", 1),
        ("GPF", A, "12-24", 2), ("GPF", B, "3-6", 1), ("GSME", A, "36+", 1)]
    assert report["total"] == 8


async def test_lifo_names_parties_installing_newer_stock_while_older_stays_pending(dataset):
    report = await reports.lifo(dataset, at("2023-06-10T00:00:00"), at("2024-06-10T00:00:00"))
    assert report["parties"] == [{
        "ordering_party": A, "oldest_pending_delivered_at": "2023-01-10T09:00:00+00:00",
        "pending_hubs": 2, "installed": 2, "installed_newer_than_oldest_pending": 2,
        "pending_older_than_newest_installed": 2}]
    wider = await reports.lifo(dataset, at("2023-01-01T00:00:00"), at("2024-06-10T00:00:00"))
    assert [p["ordering_party"] for p in wider["parties"]] == [A], "B installed its oldest hub first"


async def test_gauges_come_from_one_count_of_the_smi(dataset):
    tally = await store.device_tally(dataset, at("2024-06-10T00:00:00"))
    metrics.set_tally(tally, reports.IN_STOCK, reports.age_bucket)
    value = lambda gauge, *labels: gauge.labels(*labels)._value.get()  # noqa: E731
    assert [value(metrics.DEVICES, t, s) for t, s in (
        ("CHF", "Pending"), ("CHF", "Commissioned"), ("CHF", "Withdrawn"), ("CHF", "InstalledNotCommissioned"),
        ("IHD", "none"), ("ESME", "Pending"), ("GPF", "Commissioned"))] == [3, 2, 1, 1, 1, 1, 2]
    report = await reports.stock_ageing(dataset, at("2024-06-10T00:00:00"))
    by_type_and_age: dict[tuple[str, str], int] = {}
    for row in report["rows"]:
        key = (row["device_type"], row["age_months"])
        by_type_and_age[key] = by_type_and_age.get(key, 0) + row["devices"]
    assert {labels: value(metrics.PENDING, *labels) for labels in by_type_and_age} == by_type_and_age, \
        "the pending gauge buckets ages as the stock ageing report does"
    assert (value(metrics.HUBS_IN_STOCK, A), value(metrics.HUBS_IN_STOCK, B)) == (3, 1)


async def test_the_count_taken_slice_by_slice_is_one_snapshot_of_the_whole_table(dataset, settings, monkeypatch):
    """Thousands of devices over many pages, counted two pages at a time while another session
    keeps moving rows to new pages: every device is counted once, as in one plain count."""
    await dataset.execute(
        """insert into inventory.devices
           select (jsonb_populate_record(null::inventory.devices,
                   to_jsonb(d) || jsonb_build_object('device_id', d.device_id || '-' || n))).*
             from inventory.devices d, generate_series(1, 200) n""")
    as_of = at("2024-06-10T00:00:00")
    whole = {tuple(r.values())[:-1]: r["devices"] for r in await dataset.fetch(
        store._TALLY.format(upper="").replace("where ctid >= $2::tid", ""), as_of)}
    pages = await dataset.fetchval("select pg_relation_size('inventory.devices') / 8192")
    assert pages > 20, "the devices span many slices"
    monkeypatch.setattr(store, "TALLY_SLICE_PAGES", 2)
    mover = await asyncpg.connect(settings.database_url)
    try:
        async def move_rows():
            while True:  # a changed indexed column: each update writes the rows anew, on other pages
                await mover.execute("update inventory.devices set mpxn = case when mpxn = 'a' then 'b' else 'a' end"
                                    " where device_id like '%-1' or device_id like '%-2'")
        moving = asyncio.create_task(move_rows())
        try:
            await asyncio.sleep(0.05)
            tally = await store.device_tally(dataset, as_of)
        finally:
            moving.cancel()
            await asyncio.gather(moving, return_exceptions=True)
    finally:
        await mover.close()
    assert {(r["device_type"], r["status"], r["hub_party"], r["pending_months"]): r["devices"]
            for r in tally} == whole
    assert sum(whole.values()) == await dataset.fetchval("select count(*) from inventory.devices") > 3000
