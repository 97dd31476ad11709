"""Self-Service Interface page times with 100,000 hubs under return and 1,000,000 devices.

The owning services' tables are filled directly with SQL (fixture data of the shape they write),
then the returns, inventory and housekeeping HTTP APIs and the SSI run in this process on local
ports, and a signed-in client times each page (the 95th percentile of repeated loads; target
300 ms). Kafka is not involved: no page reads it.
"""
import contextlib
import statistics
import time
from datetime import datetime, timezone

import aiohttp
import asyncpg
from aiohttp import web

from services.housekeeping.api import routes as housekeeping_routes
from services.housekeeping.config import HousekeepingSettings
from services.housekeeping.policy import RunningPolicy
from services.inventory import api as inventory_api
from services.returns import api as returns_api
from services.ssi import web as ssi_web
from services.ssi.apis import Apis
from services.ssi.config import SSISettings
from shared import db
from tests.bench.workload import free_port
from tests.support import SUPPLIER, SUPPLIER_2, drop_database, isolated_settings

HUBS_PER_REQUEST = 999
LOADS = 30
TARGET_MS = 300
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)
_EUI = "upper(regexp_replace(lpad(to_hex({n}), 12, '0'), '(..)(?!$)', '\\1-', 'g'))"


async def seed(conn: asyncpg.Connection, hubs: int, devices: int) -> None:
    requests = max(hubs // HUBS_PER_REQUEST, 2)
    await conn.execute(f"""
        insert into returns.requests (request_id, originator, variant, reply, reason, event_time, state, response_code)
        select case when r % 2 = 0 then '{SUPPLIER}' else '{SUPPLIER_2}' end
                 || ':90-B3-D5-1F-30-00-00-02:' || r,
               case when r % 2 = 0 then '{SUPPLIER}' else '{SUPPLIER_2}' end,
               '8.14.3', '{{}}', '{{}}', timestamptz '2024-01-01' + r * interval '1 hour', 'answered', 'I0'
        from generate_series(1, {requests}) r""")
    await conn.execute(f"""
        insert into returns.request_hubs (request_id, position, device_id, code, reference)
        select q.request_id, p, '00-CC-' || {_EUI.format(n="r * 1000 + p")}, 'I0',
               'RRR-' || lpad((r * 1000 + p)::text, 10, '0')
        from generate_series(1, {requests}) r
        join returns.requests q on q.request_id like '%:' || r
        cross join generate_series(0, {HUBS_PER_REQUEST - 1}) p""")
    await conn.execute("""
        insert into returns.records (reference, device_id, request_id, originator, kind, return_type,
                                     fault_reason, connection_method, created_at, due_by, status)
        select h.reference, h.device_id, h.request_id, q.originator, 'fault', 'Fault identified post installation',
               'LED Fault', 'Cradle', q.event_time, (q.event_time + interval '90 days')::date,
               case when h.position % 7 = 0 then 'overdue' when h.position % 11 = 0 then 'closed' else 'open' end
        from returns.request_hubs h join returns.requests q using (request_id)""")
    await conn.execute("""
        insert into returns.record_history (reference, seq, at, event, detail)
        select reference, 1, created_at, 'opened', 'returned by ' || originator || ' in ' || request_id
        from returns.records""")
    await conn.execute(f"""
        insert into inventory.devices (device_id, device_type, status, status_since, manufacturer, model,
                                       csp_region, s1sp, mpxn, notifying_party, notifying_party_kind,
                                       responsible_supplier, added_at)
        select '00-DB-' || {_EUI.format(n="n")}, (array['ESME','GSME','PPMID','HCALCS'])[n % 4 + 1],
               case when n % 3 = 0 then 'Pending' else 'Commissioned' end,
               timestamptz '2023-01-01' + (n % 500) * interval '1 day', 'ACME', 'M1',
               case when n % 10 = 0 then 'SMETS1' end, case when n % 10 = 0 then 'S1SP-A' end,
               (1000000000 + n)::text, case when n % 2 = 0 then '{SUPPLIER}' else '{SUPPLIER_2}' end,
               'service_user', case when n % 2 = 0 then '{SUPPLIER}' else '{SUPPLIER_2}' end,
               timestamptz '2023-01-01'
        from generate_series(1, {devices}) n""")
    await conn.execute(f"""
        insert into ssi.alerts (topic, partition, "offset", party, sent_at, code, device_id, payload)
        select 'smi.alerts', 0, n, '{SUPPLIER}', timestamptz '2024-01-01' + n * interval '1 minute', 'N8',
               '00-DB-' || {_EUI.format(n="n")},
               jsonb_build_object('DeviceStatusChangeEvent', jsonb_build_object('DeviceID', 'x'))
        from generate_series(1, {max(devices // 100, 10)}) n""")
    await conn.execute("analyze")


@contextlib.asynccontextmanager
async def _serving(app: web.Application, port: int):
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def _p95(http: aiohttp.ClientSession, url: str, loads: int) -> tuple[float, int]:
    times, status = [], 0
    for _ in range(loads):
        started = time.perf_counter()
        async with http.get(url, allow_redirects=False) as response:
            await response.read()
            status = response.status
        times.append((time.perf_counter() - started) * 1000)
    return statistics.quantiles(times, n=20)[18] if len(times) >= 2 else times[0], status


async def main(bootstrap: str, database_url: str, scale: float = 1.0) -> list[dict]:
    hubs, devices = max(int(100_000 * scale), 2 * HUBS_PER_REQUEST), max(int(1_000_000 * scale), 1000)
    settings = await isolated_settings(bootstrap, database_url)
    pool = await db.create_pool(settings.database_url, max_size=8)
    try:
        async with pool.acquire() as conn:
            started = time.monotonic()
            await seed(conn, hubs, devices)
            seeded_in = time.monotonic() - started
            under_return = await conn.fetchval("select count(*) from returns.records where status <> 'closed'")
            in_smi = await conn.fetchval("select count(*) from inventory.devices")
            request_id = await conn.fetchval(
                "select request_id from returns.requests where originator = $1 order by event_time desc limit 1",
                SUPPLIER)
            device = await conn.fetchval(
                "select device_id from inventory.devices where responsible_supplier = $1 and status = 'Pending'"
                " order by device_id desc limit 1", SUPPLIER)
            smets1 = await conn.fetchrow(
                "select device_id, mpxn from inventory.devices where responsible_supplier = $1"
                " and csp_region = 'SMETS1' order by device_id desc limit 1", SUPPLIER)
        ports = {name: free_port() for name in ("inventory", "housekeeping", "returns", "ssi")}
        config = SSISettings(inventory_url=f"http://127.0.0.1:{ports['inventory']}",
                             housekeeping_url=f"http://127.0.0.1:{ports['housekeeping']}",
                             returns_url=f"http://127.0.0.1:{ports['returns']}")
        apis = Apis(config)
        await apis.start()
        clock = lambda: NOW  # noqa: E731
        pages = {
            "returns list": "/returns",
            "one return (999 hubs, first page)": f"/returns/{request_id}",
            "one return, overdue hubs": f"/returns/{request_id}?status=overdue",
            "one return as CSV": f"/returns/{request_id}/hubs.csv",
            "device lookup (pending age)": f"/inventory?q={device}",
            "SMETS1 lookup by MPxN": f"/inventory?q={smets1['mpxn']}",
            "alerts": "/alerts",
        }
        results = []
        try:
            async with _serving(returns_api.routes(pool, clock), ports["returns"]), \
                    _serving(inventory_api.build(pool, clock), ports["inventory"]), \
                    _serving(housekeeping_routes(None, RunningPolicy(HousekeepingSettings().policy_file)),
                             ports["housekeeping"]), \
                    _serving(ssi_web.build(config, pool, apis, clock), ports["ssi"]), \
                    aiohttp.ClientSession(base_url=f"http://127.0.0.1:{ports['ssi']}",
                                          cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.post("/sign-in", data={"party": SUPPLIER, "secret": "smi-dev-0000"},
                                     allow_redirects=False) as response:
                    assert response.status == 303, f"sign-in answered {response.status}"
                note = (f"{under_return:,} hubs under return, {in_smi:,} devices; p95 of {LOADS} loads; "
                        f"APIs and SSI in one process; shared, busy machine")
                for name, path in pages.items():
                    p95, status = await _p95(http, path, LOADS)
                    assert status == 200, f"{path} answered {status}"  # 303: not signed in
                    results.append({"name": f"page: {name}", "value": round(p95, 1), "unit": "ms",
                                    "target": TARGET_MS, "note": note})
        finally:
            await apis.close()
        results.append({"name": "seed (returns + SMI fixture data)", "value": round(seeded_in, 1), "unit": "s",
                        "target": None, "note": f"{hubs:,} hubs, {devices:,} devices by SQL"})
        return results
    finally:
        await pool.close()
        await drop_database(settings, database_url)


if __name__ == "__main__":
    import asyncio
    import os
    import sys
    for row in asyncio.run(main(os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"],
                                float(sys.argv[1]) if len(sys.argv) > 1 else 0.05)):
        print(row)
