"""Prepare a Kafka cluster and a database for the platform: topics, migrations, parties."""
import asyncpg

from shared import db, kafka, parties
from shared.responses import per_party_topics
from shared.settings import Settings, get_settings


async def prepare(bootstrap_servers: str, database_url: str, settings: Settings | None = None) -> None:
    """Create every topic of the registry, apply every migration, load the party registry.
    Idempotent: safe to run at every start."""
    settings = (settings or get_settings()).model_copy(
        update={"kafka_bootstrap_servers": bootstrap_servers, "database_url": database_url})
    registry = parties.load_file(settings.parties_file)
    await kafka.ensure_topics(settings, per_party_topics(settings, [p.eui for p in registry]))
    conn = await asyncpg.connect(database_url)
    try:
        await db.migrate(conn)
        await parties.upsert(conn, registry)
    finally:
        await conn.close()
