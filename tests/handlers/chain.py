"""Intake and inventory chained over PostgreSQL alone: inventory's real API is served over the
test's connection, and records are carried by hand from intake to inventory and back, as the
topics would carry them."""
import asyncio
from contextlib import asynccontextmanager
from functools import partial

from aiohttp.test_utils import TestServer

from services.intake.handlers import Intake, handle_requests, handle_responses
from services.intake.inventory_api import InventoryApi
from services.inventory import api, applied, executor, handlers
from shared.duis import build
from shared.kafka import Output
from tests.handlers.harness import Harness, Outcome, RegistryFile, context

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
JSON = (("content-type", "application/json"),)


class OneConnection:
    """The test's connection where inventory's API takes a pool: its rows are the test's own."""

    def __init__(self, conn) -> None:
        self.conn, self.lock = conn, asyncio.Lock()

    @asynccontextmanager
    async def acquire(self):
        async with self.lock:
            yield self.conn


@asynccontextmanager
async def inventory_api(settings, conn):
    """Inventory's API, served over the test's connection, as intake asks it."""
    table = handlers.table(settings)
    applier = applied.Applier(context(settings), table, OneConnection(conn))
    server = TestServer(api.build(OneConnection(conn), lambda: None, applier))
    await server.start_server()
    client = InventoryApi(str(server.make_url("")), 5.0, 5.0)
    try:
        yield client
    finally:
        await client.close()
        await server.close()


class Chain:
    """Intake, inventory and intake's response consumer, each fed what the one before produced."""

    def __init__(self, settings, conn, inventory: InventoryApi | None) -> None:
        ctx = Intake(settings, RegistryFile(settings), inventory=inventory)
        self.settings, self.topics, self.counter = settings, settings.topics, 0
        self.intake = Harness(settings, conn, partial(handle_requests, ctx))
        self.responses = Harness(settings, conn, partial(handle_responses, ctx))
        self.inventory = Harness(settings, conn, partial(executor.handle, context(settings),
                                                         handlers.table(settings)))

    def request(self, variant: str, body: dict, counter: int | None = None):
        if counter is None:
            self.counter += 1
        return self.intake.record(self.topics.requests,
                                  build.request(SUPPLIER, counter or self.counter, variant, body, "json"),
                                  headers=JSON)

    def routed(self, outcome: Outcome) -> list[Output]:
        return outcome.on(self.topics.inventory_commands)

    async def completed_by_inventory(self, commands: list[Output]) -> Outcome:
        """Inventory takes the commands; intake's response consumer sees what it answered."""
        done = await self.inventory.feed(*[self.inventory.record(o.topic, o.value, o.key.decode(), o.headers)
                                           for o in commands])
        await self.responses_seen(done)
        return done

    async def responses_seen(self, outcome: Outcome) -> None:
        """Intake's response consumer takes the responses of an outcome."""
        await self.responses.feed(*[self.responses.record(o.topic, o.value, o.key.decode(), o.headers)
                                    for o in outcome.on(self.topics.responses)])
