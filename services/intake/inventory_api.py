"""Inventory's API as intake asks it: Read Inventory by Device ID, and changes applied in
intake's own hop (`services.inventory.applied`).

Intake routes every request about a device to inventory keyed by that device, so that one
device's requests are completed in the order they were taken. A request about a device nothing
is on its way to inventory about (routed and not yet answered) meets the same SMI whether it
waits behind others on inventory's topic or not: intake then asks inventory's API, answers at
once and saves the request its second Kafka transaction. A request behind one still on its way,
a read by MPxN, and a request inventory does not answer in time are routed as before.
"""
import asyncio
import logging
from dataclasses import dataclass

import aiohttp
import orjson
from aiokafka.structs import ConsumerRecord

from services.intake import metrics
from shared import applying
from shared.kafka import Output

log = logging.getLogger(__name__)
UNANSWERED = (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError, KeyError, TypeError, ValueError)


@dataclass(frozen=True)
class Read:
    """What 8.2 answers: I0 with its payload (`DSPInventory`), or a refusal with its reason."""
    code: str
    payload: dict | None = None
    reason: str | None = None


class InventoryApi:
    """`None` from a call means: inventory did not answer, route the requests."""

    def __init__(self, url: str, read_timeout_seconds: float, apply_timeout_seconds: float) -> None:
        """Made in the service's event loop, which its connections belong to."""
        self.url = url.rstrip("/")
        self.http = aiohttp.ClientSession()
        self._read_timeout = aiohttp.ClientTimeout(total=read_timeout_seconds)
        self._apply_timeout = aiohttp.ClientTimeout(total=apply_timeout_seconds)

    async def close(self) -> None:
        await self.http.close()

    async def read(self, device_ids: list[str]) -> dict[str, Read] | None:
        """What 8.2 answers for each device, in one call."""
        with metrics.INVENTORY_READ_SECONDS.time():
            body = await self._post("/read-inventory", orjson.dumps({"DeviceID": device_ids}), self._read_timeout)
            try:
                return {device_id: Read(**body[device_id]) for device_id in device_ids} if body else None
            except UNANSWERED as error:
                log.debug("inventory's answer to a read is not one: %r", error)
                return None

    async def apply(self, changes: list[tuple[ConsumerRecord, Output]]) -> list[list[Output]] | None:
        """Apply each change (its request's record, the command intake would route) in order,
        in one call: what each produced, nothing for one inventory had taken from its topic."""
        with metrics.INVENTORY_APPLY_SECONDS.time():
            body = await self._post("/service-requests", applying.encode_requests(changes),
                                    self._apply_timeout, raw=True)
        try:
            produced = applying.decode_outputs(body) if body is not None else None
        except ValueError as error:
            log.warning("inventory's answer to applied changes is not one: %s", error)
            return None
        if produced is not None and len(produced) != len(changes):
            log.warning("inventory answered %d of %d applied changes", len(produced), len(changes))
            return None
        return produced

    async def _post(self, path: str, data: bytes, timeout: aiohttp.ClientTimeout, raw: bool = False):
        try:
            async with self.http.post(self.url + path, data=data, timeout=timeout,
                                      headers={"content-type": "application/json"}) as answer:
                body = await answer.read()
                if answer.status == 200:
                    return body if raw else orjson.loads(body)
                log.debug("inventory answered %s to %s: %s", answer.status, path, body[:500])
        except UNANSWERED as error:
            log.debug("inventory did not answer %s: %r", path, error)
        return None
