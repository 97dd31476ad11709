"""Read Inventory (8.2) by Device ID, answered in intake's own hop from inventory's read API.

Intake routes every request about a device to inventory keyed by that device, so that one
device's requests are completed in the order they were taken. A read of a device with no change
still on its way there (routed and not yet answered) sees the same SMI whether it waits behind
others on inventory's topic or not: intake then asks inventory's read API, answers at once and
saves the read its second Kafka transaction. A read behind an unanswered change, a read by MPxN,
and a read inventory does not answer in time are routed as before.
"""
import asyncio
import logging
from dataclasses import dataclass
import aiohttp
import orjson

from services.intake import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Read:
    """What 8.2 answers: I0 with its payload (`DSPInventory`), or a refusal with its reason."""
    code: str
    payload: dict | None = None
    reason: str | None = None


class InventoryReads:
    """Inventory's read API as intake asks it; `None` from `read` means: route the request."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        """Made in the service's event loop, which its connections belong to."""
        self.url = url.rstrip("/")
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_seconds))

    async def close(self) -> None:
        await self.http.close()

    async def read(self, device_ids: list[str]) -> dict[str, Read] | None:
        """What 8.2 answers for each device, in one call; None when inventory did not answer."""
        with metrics.INVENTORY_READ_SECONDS.time():
            return await self._read(device_ids)

    async def _read(self, device_ids: list[str]) -> dict[str, Read] | None:
        try:
            async with self.http.post(f"{self.url}/read-inventory",
                                      data=orjson.dumps({"DeviceID": device_ids}),
                                      headers={"content-type": "application/json"}) as answer:
                body = orjson.loads(await answer.read())
                if answer.status == 200:
                    return {device_id: Read(**body[device_id]) for device_id in device_ids}
                log.debug("inventory answered %s to a read: %s", answer.status, body)
        except (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError, KeyError, TypeError) as error:
            log.debug("inventory did not answer a read: %r", error)
        return None
