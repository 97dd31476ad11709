"""Returns' metrics: counters as things happen, gauges of the open book refreshed from the tables."""
from prometheus_client import Counter, Gauge

REQUESTS = Counter("smi_returns_requests_total", "Bulk return requests answered, by variant and overall code",
                   ["variant", "code"])
HUBS = Counter("smi_returns_hubs_total", "Hubs of bulk returns answered, by variant and per-hub code",
               ["variant", "code"])
RECEIVED = Counter("smi_returns_received_total", "Returned hubs received by their CSP, by outcome",
                   ["outcome"])
OVERDUE_ALERTS = Counter("smi_returns_overdue_alerts_total", "Overdue return alerts sent")
OPEN = Gauge("smi_returns_open_records", "Returns Remedy Records not yet received, by party and age",
             ["party", "age"])
OVERDUE = Gauge("smi_returns_overdue_records", "Returns Remedy Records past their due date, by party",
                ["party"])
REASONS = Gauge("smi_returns_records", "Returns Remedy Records ever opened, by reason",
                ["kind", "return_type", "fault_reason"])


def answered(variant: str, code: str, hub_codes: list[str]) -> None:
    REQUESTS.labels(variant, code).inc()
    counts: dict[str, int] = {}
    for hub_code in hub_codes:
        counts[hub_code] = counts.get(hub_code, 0) + 1
    for hub_code, count in counts.items():
        HUBS.labels(variant, hub_code).inc(count)


def show_reports(open_report: list[dict], reasons: list[dict]) -> None:
    """Set the gauges to the reports' figures (labels that fell to nothing are dropped)."""
    OPEN.clear()
    OVERDUE.clear()
    REASONS.clear()
    for row in open_report:
        for age, count in row["open_by_age"].items():
            OPEN.labels(row["party"], age).set(count)
        OVERDUE.labels(row["party"]).set(row["overdue"])
    for row in reasons:
        REASONS.labels(row["kind"], row["return_type"], row["fault_reason"]).set(row["records"])
