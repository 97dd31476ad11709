"""The party registry: DCC Users with their User Roles, and CSPs. Reference data every service
may read; loaded from `deploy/parties.yaml` at start and changed without code changes."""
import time
from pathlib import Path
from typing import Literal

import asyncpg
import yaml
from pydantic import BaseModel, ConfigDict

from shared.duis.enums import UserRole
from shared.eui import EUI
from shared.settings import REPO_ROOT


class Party(BaseModel):
    model_config = ConfigDict(frozen=True)

    eui: EUI
    name: str
    kind: Literal["service_user", "csp"]
    roles: frozenset[UserRole] = frozenset()
    csp_region: str | None = None
    alert_format: Literal["xml", "json"] = "xml"
    certificate: str | None = None
    credential: str | None = None  # salted hash of the sign-in secret (Self-Service Interface)


def load_file(path: Path) -> list[Party]:
    """The parties of a registry file. An entry may name its certificate by `certificate_file`,
    a PEM file (relative to the repository root), instead of holding it as `certificate`."""
    entries = yaml.safe_load(path.read_text()) or {}
    return [Party.model_validate(_with_certificate(entry, path)) for entry in entries.get("parties", [])]


def _with_certificate(entry: dict, registry: Path) -> dict:
    if "certificate_file" not in entry:
        return entry
    entry = dict(entry)
    named = entry.pop("certificate_file")
    who = f"{registry}: party {entry.get('eui')}"
    if entry.get("certificate"):
        raise ValueError(f"{who} gives both certificate and certificate_file")
    certificate = REPO_ROOT / named
    if not certificate.is_file():
        raise ValueError(f"{who}: certificate_file {certificate} does not exist"
                         " (tools/duis/keys/ is unpacked by `make duis-tools`)")
    entry["certificate"] = certificate.read_text()
    if "-----BEGIN CERTIFICATE-----" not in entry["certificate"]:
        raise ValueError(f"{who}: certificate_file {certificate} holds no PEM certificate")
    return entry


async def upsert(conn: asyncpg.Connection, parties: list[Party]) -> None:
    # A party given without a credential keeps the one it has.
    await conn.executemany(
        """insert into registry.parties (eui, name, kind, roles, csp_region, alert_format, certificate,
                                         credential)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           on conflict (eui) do update set name = excluded.name, kind = excluded.kind,
             roles = excluded.roles, csp_region = excluded.csp_region,
             alert_format = excluded.alert_format, certificate = excluded.certificate,
             credential = coalesce(excluded.credential, registry.parties.credential),
             updated_at = now()""",
        [(p.eui, p.name, p.kind, sorted(p.roles), p.csp_region, p.alert_format, p.certificate,
          p.credential) for p in parties],
    )


async def fetch_all(conn: asyncpg.Connection) -> dict[str, Party]:
    rows = await conn.fetch("select eui, name, kind, roles, csp_region, alert_format, certificate"
                            " from registry.parties")
    return {r["eui"]: Party.model_validate(dict(r)) for r in rows}


class PartyRegistry:
    """The registry as read from the database, refreshed at most every `ttl` seconds."""

    def __init__(self, pool: asyncpg.Pool, ttl: float = 5.0) -> None:
        self.pool, self.ttl = pool, ttl
        self._parties: dict[str, Party] = {}
        self._loaded_at = float("-inf")

    async def get(self, eui: str) -> Party | None:
        if time.monotonic() - self._loaded_at > self.ttl:
            async with self.pool.acquire() as conn:
                self._parties = await fetch_all(conn)
            self._loaded_at = time.monotonic()
        return self._parties.get(eui.upper())
