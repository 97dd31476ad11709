"""A service's handler table: which handler takes each message type on each of its topics.

Every row names the message's model and its handler; there is no default row, so a message
type nobody declared is unusable (dead-lettered with the reason) rather than handed to
whichever handler happens to come last. A service states the types it serves; a table missing
a handler for one of them refuses to be built, so the service stops at start-up instead of
dead-lettering its traffic.

A topic read by two services (the CSP feed) names the types that belong to the other one: those
are left alone, without output.
"""
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from shared import kafka
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.kafka import Output
from shared.messages import message_type
from shared.outcomes import Unusable
from shared.settings import Settings


class MissingHandler(RuntimeError):
    """A served message type has no row in the service's table: a bug, found at start-up."""


class EveryOtherType:
    """On a shared topic: every typed message not in the table belongs to another service."""

    def __init__(self, *, untyped_too: bool = False) -> None:
        self.untyped_too = untyped_too

    def __contains__(self, kind: object) -> bool:
        return kind is not None or self.untyped_too


@dataclass(frozen=True)
class Row:
    model: type[BaseModel]
    handler: Callable[..., Any]
    # How the service's executor runs the handler (e.g. inventory's batching); None: on its own.
    mode: str | None = None


@dataclass(frozen=True)
class Parsed:
    record: ConsumerRecord
    row: Row
    message: BaseModel


class HandlerTable:
    def __init__(self, service: str, rows: Mapping[str, Mapping[str, Row]], *, serves: Iterable[str],
                 others: Mapping[str, Collection[str | None]] | None = None,
                 takes: Mapping[str, str] | None = None) -> None:
        """`rows`: topic -> message type -> row; `serves`: every type the service declares;
        `others`: per shared topic, the types left to another service; `takes`: per topic, how
        a dead letter's reason names what the service takes there (default: the types)."""
        self.service, self.rows, self.others = service, rows, dict(others or {})
        self.takes = {topic: ", ".join(by_type) for topic, by_type in rows.items()} | dict(takes or {})
        declared = {kind for by_type in rows.values() for kind in by_type}
        if missing := set(serves) - declared:
            raise MissingHandler(f"{service} serves {', '.join(sorted(missing))} but has no handler for it")

    def types(self, topic: str) -> list[str]:
        return list(self.rows.get(topic, {}))

    def parse(self, record: ConsumerRecord) -> Parsed | None:
        """The record's row and message; None when the record belongs to another service.
        Raises Unusable with the reason for an undeclared type or an invalid message."""
        kind = message_type(record.value or b"")
        row = self.rows.get(record.topic, {}).get(kind)
        if row is None:
            if kind in self.others.get(record.topic, ()):
                return None
            if kind is None and isinstance(self.others.get(record.topic), EveryOtherType):
                raise Unusable("not a JSON message with a type")
            raise Unusable(f"{self.service} takes {self.takes.get(record.topic, 'nothing')}, not {kind!r:.40}")
        try:
            return Parsed(record, row, row.model.model_validate_json(record.value))
        except ValidationError as error:
            raise Unusable(str(error)) from None


def variant_table(service: str, rows: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """A service's Service Request variants -> handlers, checked against the catalogue: every
    variant the catalogue gives the service has a handler, and no other variant does."""
    owned = {variant for variant, spec in SERVICE_REQUESTS.items() if spec.owner == service}
    if missing := owned - rows.keys():
        raise MissingHandler(f"{service} owns SR {', '.join(sorted(missing))} but has no handler for it")
    if foreign := rows.keys() - owned:
        raise MissingHandler(f"{service} has handlers for SR {', '.join(sorted(foreign))}, which it does not own")
    return dict(rows)


def owner_table(rows: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Service that owns an SR -> how a request is routed to it, checked against the catalogue."""
    owners = {spec.owner for spec in SERVICE_REQUESTS.values()}
    if missing := owners - rows.keys():
        raise MissingHandler(f"no route to {', '.join(sorted(missing))}, which owns Service Requests")
    return dict(rows)


async def one_by_one(table: HandlerTable, settings: Settings, conn: asyncpg.Connection,
                     records: list[ConsumerRecord], *context: Any) -> list[list[Output]]:
    """The executor of a table whose handlers take one record at a time:
    `handler(*context, conn, record, message)` -> its outputs."""
    outputs: list[list[Output]] = []
    for record in records:
        try:
            parsed = table.parse(record)
            outputs.append([] if parsed is None else
                           await parsed.row.handler(*context, conn, record, parsed.message))
        except (Unusable, ValidationError) as error:
            outputs.append([kafka.dead_letter(settings, record, str(error), table.service)])
    return outputs
