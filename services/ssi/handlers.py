"""Keeping each party's alerts: every DCC Alert on the alerts topic is saved for the party its
key names. An alert that cannot be read raises, and the processor dead-letters it alone."""
from datetime import datetime

import asyncpg
from aiokafka.structs import ConsumerRecord

from services.ssi import metrics, store
from shared.duis import codec
from shared.eui import canonical_eui
from shared.instants import record_time
from shared.kafka import Output


# Where each DCCAlert payload names its device: N8's DeviceStatusChangeEvent, the overdue
# return's CommsHubAlert.
DEVICE_FIELDS = {"DeviceStatusChangeEvent": "DeviceID", "CommsHubAlert": "CommsHubDeviceID"}


def read_alert(record: ConsumerRecord) -> tuple[str, int, int, str, datetime, str, str | None, dict]:
    """An alert is a DUIS `Response` whose Body is DCCAlertMessage {DCCAlertCode, DCCAlert}."""
    if not record.key:
        raise ValueError("an alert without a key: the party it is for is unknown")
    party = canonical_eui(record.key.decode())
    document = codec.read(record.value)
    body = document.get("Body") if isinstance(document, dict) else None
    message = body.get("DCCAlertMessage") if isinstance(body, dict) else None
    code = message.get("DCCAlertCode") if isinstance(message, dict) else None
    payload = message.get("DCCAlert") if isinstance(message, dict) else None
    if not isinstance(code, str) or not code or not isinstance(payload, dict):
        raise ValueError("not a Response whose Body is a DCCAlertMessage with a DCCAlertCode and a DCCAlert")
    sent_at = record_time(record)
    return (record.topic, record.partition, record.offset, party, sent_at, code, alert_device(payload), payload)


def alert_device(payload: dict) -> str | None:
    for event, field in DEVICE_FIELDS.items():
        found = payload.get(event)
        if isinstance(found, dict) and isinstance(found.get(field), str) and found[field]:
            return found[field]
    return None


async def handle_alerts(conn: asyncpg.Connection, records: list[ConsumerRecord]) -> list[list[Output]]:
    alerts = [read_alert(record) for record in records]
    await store.save_alerts(conn, alerts)
    for alert in alerts:
        metrics.ALERTS.labels(alert[5]).inc()
    return [[] for _ in records]
