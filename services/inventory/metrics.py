"""Inventory's metrics: requests and events counted as they happen; device counts by type and
status as gauges, refreshed from the SMI every few seconds."""
from functools import lru_cache

from prometheus_client import Counter, Gauge

REQUESTS = Counter("smi_inventory_requests_total", "Service Requests completed by inventory, by variant and response code",
                   ["variant", "code"])
EVENTS = Counter("smi_inventory_device_events_total", "Device events emitted, by type", ["type"])
COMMANDS = Counter("smi_inventory_commands_total", "Commands and CSP events handled, by type and outcome",
                   ["type", "outcome"])
DUPLICATES = Counter("smi_inventory_duplicates_total", "Messages already handled, ignored on redelivery")
DEVICES = Gauge("smi_inventory_devices", "Devices in the SMI, by type and SMI Status (none: Type 2)",
                ["device_type", "status"])


@lru_cache(maxsize=None)
def _request_counter(variant: str, code: str):
    return REQUESTS.labels(variant, code)


@lru_cache(maxsize=None)
def _event_counter(kind: str):
    return EVENTS.labels(kind)


def count_request(variant: str, code: str) -> None:
    _request_counter(variant, code).inc()


def count_event(kind: str) -> None:
    _event_counter(kind).inc()


def set_device_counts(rows) -> None:
    """Replace every gauge value, so that a type/status no longer present drops to zero."""
    seen = set()
    for row in rows:
        DEVICES.labels(row["device_type"], row["status"]).set(row["devices"])
        seen.add((row["device_type"], row["status"]))
    for labels in list(DEVICES._metrics):
        if labels not in seen:
            DEVICES.labels(*labels).set(0)
