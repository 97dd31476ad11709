"""The services' JSON APIs, as the CLI reaches them (addresses from SMI_CLI_* variables)."""
from typing import Any

import aiohttp
from pydantic_settings import BaseSettings, SettingsConfigDict


class Endpoints(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMI_CLI_")

    inventory_url: str = "http://127.0.0.1:8102"
    housekeeping_url: str = "http://127.0.0.1:8103"
    returns_url: str = "http://127.0.0.1:8104"


class ServiceError(RuntimeError):
    pass


async def call(method: str, url: str, json: Any = None, params: dict | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body); ServiceError when the service cannot be reached."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            async with session.request(method, url, json=json, params=params) as response:
                return response.status, await response.json(content_type=None)
    except aiohttp.ClientError as error:
        raise ServiceError(f"{url}: {error} (is the stack up? `smi stack status`)") from None
