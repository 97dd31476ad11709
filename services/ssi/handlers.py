"""Keeping each party's alerts: every DCC Alert on the alerts topic is saved for the party its
key names. An alert that cannot be read raises, and the processor dead-letters it alone."""
from datetime import datetime, timezone

import asyncpg
from aiokafka.structs import ConsumerRecord

from services.ssi import metrics, store
from shared.duis import codec
from shared.eui import canonical_eui
from shared.kafka import Output


def read_alert(record: ConsumerRecord) -> tuple[str, int, int, str, datetime, str, str | None, dict]:
    if not record.key:
        raise ValueError("an alert without a key: the party it is for is unknown")
    party = canonical_eui(record.key.decode())
    document = codec.read(record.value)
    code = document.get("DCCAlertCode")
    payload = document.get("DCCAlert")
    if not isinstance(code, str) or not code or not isinstance(payload, dict):
        raise ValueError("not a DCCAlertMessage with a DCCAlertCode and a DCCAlert")
    device_id = next((v.get("DeviceID") for v in payload.values() if isinstance(v, dict)), None)
    sent_at = datetime.fromtimestamp(record.timestamp / 1000, timezone.utc)
    return (record.topic, record.partition, record.offset, party, sent_at, code, device_id, payload)


async def handle_alerts(conn: asyncpg.Connection, records: list[ConsumerRecord]) -> list[list[Output]]:
    alerts = [read_alert(record) for record in records]
    await store.save_alerts(conn, alerts)
    for alert in alerts:
        metrics.ALERTS.labels(alert[5]).inc()
    return [[] for _ in records]
