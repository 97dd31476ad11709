"""Inventory's metrics: requests and events counted as they happen; device counts by type and
status as gauges, refreshed from one count of the SMI every `SMI_GAUGE_REFRESH_SECONDS`."""
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
PENDING = Gauge("smi_inventory_pending_devices", "Devices Pending now, by type and age (calendar months)",
                ["device_type", "age_months"])
HUBS_IN_STOCK = Gauge("smi_inventory_hubs_in_stock",
                      "Comms Hubs delivered and not yet commissioned or returned, by ordering party",
                      ["ordering_party"])


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


def set_tally(rows, in_stock: list[str], age_bucket) -> None:
    """The gauges from one count of the SMI (`store.device_tally`)."""
    devices: dict[tuple, int] = {}
    pending: dict[tuple, int] = {}
    hubs: dict[tuple, int] = {}
    for r in rows:
        _add(devices, (r["device_type"], r["status"]), r["devices"])
        if r["pending_months"] is not None:
            _add(pending, (r["device_type"], age_bucket(r["pending_months"])), r["devices"])
        if r["hub_party"] is not None and r["status"] in in_stock:
            _add(hubs, (r["hub_party"],), r["devices"])
    _replace(DEVICES, devices)
    _replace(PENDING, pending)
    _replace(HUBS_IN_STOCK, hubs)


def _add(totals: dict[tuple, int], key: tuple, count: int) -> None:
    totals[key] = totals.get(key, 0) + count


def _replace(gauge: Gauge, values: dict[tuple, int]) -> None:
    """Set every value, so that a label set no longer present drops to zero."""
    for labels, value in values.items():
        gauge.labels(*labels).set(value)
    for labels in list(gauge._metrics):
        if labels not in values:
            gauge.labels(*labels).set(0)
