"""Intake's metrics."""
from functools import lru_cache

from prometheus_client import Counter

from shared.duis.catalogue import SERVICE_REQUESTS
from shared.metrics import STAGE_SECONDS

REQUESTS = Counter("smi_intake_requests_total", "Service Requests taken in, by variant and outcome",
                   ["variant", "outcome"])
REJECTIONS = Counter("smi_intake_rejections_total", "Requests rejected by intake, by response code",
                     ["code"])
READS_ROUTED = Counter("smi_intake_reads_routed_total",
                       "Read Inventory requests by Device ID that intake routed to inventory instead of "
                       "answering them itself: behind_change (a change to the device was still on its "
                       "way) or no_answer (inventory's API did not answer in time)", ["reason"])
CHANGES_ROUTED = Counter("smi_intake_changes_routed_total",
                         "Changes inventory could have applied in intake's hop that intake routed to its topic "
                         "instead: behind (a request about the device was on its way there), busy (the batch "
                         "held more changes than SMI_INVENTORY_APPLY_MAX_CHANGES) or no_answer (inventory's "
                         "API did not answer in time)", ["reason"])
for _reason in ("behind_change", "no_answer"):  # exported from the start, at 0, for dashboards and alerts
    READS_ROUTED.labels(_reason)
for _reason in ("behind", "busy", "no_answer"):
    CHANGES_ROUTED.labels(_reason)
# Beside the stages of intake's batches, within their database stage.
INVENTORY_READ_SECONDS = STAGE_SECONDS.labels("intake", "inventory_read")
INVENTORY_APPLY_SECONDS = STAGE_SECONDS.labels("intake", "inventory_apply")


def _requests(variant: str, result: str):
    return _child(variant if variant in SERVICE_REQUESTS else "unknown", result)


@lru_cache(maxsize=None)
def _child(variant: str, result: str):
    # Labelled children are looked up once: `labels()` costs more than the increment.
    return REQUESTS.labels(variant, result)


@lru_cache(maxsize=None)
def _rejections(code: str):
    return REJECTIONS.labels(code)


def outcome(variant: str, result: str) -> None:
    _requests(variant, result).inc()


def rejected(variant: str, code: str) -> None:
    _requests(variant, "rejected").inc()
    _rejections(code).inc()


def read_routed(reason: str, count: int) -> None:
    _routed(READS_ROUTED, reason).inc(count)


def change_routed(reason: str, count: int) -> None:
    _routed(CHANGES_ROUTED, reason).inc(count)


@lru_cache(maxsize=None)
def _routed(counter: Counter, reason: str):
    return counter.labels(reason)
