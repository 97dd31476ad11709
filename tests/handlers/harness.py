"""Handler tests without a broker: records go straight to a service's handler table, over
PostgreSQL alone, and what the handlers produced is read back as answers, events and dead letters.

A test reads as given / when / then: `given` feeds the records that set the scene, `when` the
record under test, and the Outcome it returns is what `then` checks, beside the database.
"""
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import asyncpg
import orjson
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel

from shared import parties
from shared.kafka import Output
from shared.parties import Party
from shared.service import Context
from shared.settings import Settings

def at(text: str) -> datetime:
    """An instant of a test, written without its offset: UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


Handle = Callable[[asyncpg.Connection, list[ConsumerRecord]], Awaitable[list[list[Output]]]]


class RegistryFile:
    """The party registry of the settings' registry file, without a database pool: the test's
    transaction holds the only connection."""

    def __init__(self, settings: Settings) -> None:
        self._parties = {p.eui: p for p in parties.load_file(settings.parties_file)}

    async def get(self, eui: str) -> Party | None:
        return self._parties.get(eui.upper())


def context(settings: Settings, clock=None) -> Context:
    return Context(settings, RegistryFile(settings), *([clock] if clock else []))


@dataclass
class Outcome:
    """What one feed produced, per record in order, and read by kind."""
    settings: Settings
    per_record: list[list[Output]]

    @property
    def outputs(self) -> list[Output]:
        return [o for outs in self.per_record for o in outs]

    def on(self, topic: str) -> list[Output]:
        return [o for o in self.outputs if o.topic == topic]

    @property
    def codes(self) -> list[str]:
        """The response code of every response, in order."""
        return [dict(o.headers)["response-code"] for o in self.on(self.settings.topics.responses)]

    @property
    def answers(self) -> list[dict]:
        """Every response (JSON requests are answered in JSON), decoded."""
        return [orjson.loads(o.value) for o in self.on(self.settings.topics.responses)]

    @property
    def events(self) -> list[dict]:
        return [orjson.loads(o.value) for o in self.on(self.settings.topics.device_events)]

    @property
    def dead_letters(self) -> list[str]:
        """The reason of every dead letter."""
        return [dict(o.headers)["dlq-reason"] for o in self.on(self.settings.topics.dead_letters)]

    def json_on(self, topic: str) -> list[dict]:
        return [orjson.loads(o.value) for o in self.on(topic)]


class Harness:
    """Feeds records to a handler (`handle(conn, records)`, as the processor calls it) on the
    test's connection; offsets grow per topic so every record has a position of its own."""

    def __init__(self, settings: Settings, conn: asyncpg.Connection, handle: Handle) -> None:
        self.settings, self.conn, self.handle = settings, conn, handle
        self._offsets: dict[str, int] = {}

    def record(self, topic: str, value: BaseModel | dict | bytes, key: str | None = None,
               headers: Iterable[tuple[str, str]] = (), at_ms: int | None = None) -> ConsumerRecord:
        if isinstance(value, BaseModel):
            value = value.model_dump_json(exclude_none=True).encode()
        elif isinstance(value, dict):
            value = orjson.dumps(value)
        offset = self._offsets[topic] = self._offsets.get(topic, -1) + 1
        return ConsumerRecord(topic=topic, partition=0, offset=offset,
                              timestamp=at_ms if at_ms is not None else int(time.time() * 1000),
                              timestamp_type=0, key=key.encode() if key else None, value=value,
                              checksum=None, serialized_key_size=len(key or ""),
                              serialized_value_size=len(value),
                              headers=[(k, v.encode()) for k, v in headers])

    async def feed(self, *records: ConsumerRecord) -> Outcome:
        """One batch, as the processor would hand it over."""
        produced = await self.handle(self.conn, list(records))
        assert len(produced) == len(records), "one output list per record"
        return Outcome(self.settings, produced)

    given = when = feed
