"""Intake's metrics."""
from prometheus_client import Counter

from shared.duis.catalogue import SERVICE_REQUESTS

REQUESTS = Counter("smi_intake_requests_total", "Service Requests taken in, by variant and outcome",
                   ["variant", "outcome"])
REJECTIONS = Counter("smi_intake_rejections_total", "Requests rejected by intake, by response code",
                     ["code"])


def _known(variant: str) -> str:
    return variant if variant in SERVICE_REQUESTS else "unknown"


def outcome(variant: str, result: str) -> None:
    REQUESTS.labels(_known(variant), result).inc()


def rejected(variant: str, code: str) -> None:
    REQUESTS.labels(_known(variant), "rejected").inc()
    REJECTIONS.labels(code).inc()
