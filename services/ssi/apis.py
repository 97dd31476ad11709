"""The owning services' HTTP JSON APIs, as the SSI asks them: every read is scoped to the
signed-in party by the owning service itself, and a 404 there is a 404 here."""
from datetime import datetime
from urllib.parse import quote

import aiohttp
import orjson

from services.ssi.config import SSISettings


class Unavailable(RuntimeError):
    """An owning service did not answer (down, or too slow)."""


class Apis:
    def __init__(self, config: SSISettings) -> None:
        self.config = config
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.api_timeout_seconds),
                                          json_serialize=lambda v: orjson.dumps(v).decode())

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()

    async def _get(self, service: str, base: str, path: str, **query) -> dict | None:
        """The JSON answer, or None for a 404; Unavailable when the service fails to answer."""
        params = {k: str(v) for k, v in query.items() if v is not None}
        try:
            async with self.http.get(base + path, params=params) as response:
                if response.status == 404:
                    return None
                body = await response.read()
                if response.status >= 500:
                    raise Unavailable(f"{service} answered {response.status}")
                answer = orjson.loads(body)
                if response.status >= 400:
                    raise ValueError(answer.get("reason") or answer.get("error") or f"{service} refused")
                return answer
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as error:
            raise Unavailable(f"{service} is not answering ({type(error).__name__})") from None

    # --- returns ---
    async def returns(self, party: str, limit: int, offset: int) -> dict:
        return await self._get("returns", self.config.returns_url,
                               f"/returns/parties/{quote(party)}/requests", limit=limit, offset=offset)

    async def return_hubs(self, party: str, request_id: str, status: str | None, limit: int,
                          offset: int, history: bool = True) -> dict | None:
        return await self._get("returns", self.config.returns_url,
                               f"/returns/parties/{quote(party)}/requests/{quote(request_id, safe=':')}",
                               status=status, limit=limit, offset=offset,
                               history=None if history else "false")

    async def record(self, party: str, reference: str) -> dict | None:
        found = await self._get("returns", self.config.returns_url, f"/returns/records/{quote(reference)}")
        return found if found is not None and found.get("originator") == party else None

    # --- inventory ---
    async def device(self, party: str, device_id: str) -> list[dict] | None:
        found = await self._get("inventory", self.config.inventory_url,
                                f"/parties/{quote(party)}/devices/{quote(device_id)}")
        return found["Device"] if found else None

    async def devices_at(self, party: str, mpxn: str) -> list[dict] | None:
        found = await self._get("inventory", self.config.inventory_url,
                                f"/parties/{quote(party)}/devices", mpxn=mpxn)
        return found["Device"] if found else None

    # --- housekeeping ---
    async def pending_age(self, device: dict, as_of: datetime) -> dict | None:
        return await self._get("housekeeping", self.config.housekeeping_url, "/pending-age",
                               device_type=device["DeviceType"], pending_since=device["StatusSince"],
                               ever_left_pending=str(device.get("EverLeftPending", False)).lower(),
                               as_of=as_of.isoformat())
