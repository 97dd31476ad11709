"""The Grafana dashboards, declared as data and rendered to deploy/grafana/dashboards/*.json.

Every panel queries only metrics the services export (the integration test runs a real
Prometheus against the services and evaluates every expression). Regenerate with
`python -m deploy.dashboards`; a unit test keeps the JSON files in step with this table.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

DASHBOARDS_DIR = Path(__file__).resolve().parent / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "smi-prometheus"}
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Panel:
    title: str
    targets: list[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"  # or stat, table, bargauge
    description: str = ""
    width: int = 12


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel] = field(default_factory=list)


DASHBOARDS = [
    Dashboard("smi-intake", "SMI intake", "Service Requests taken in: throughput, latency, rejections", [
        Panel("Requests by Service Request and outcome",
              [(f"sum by (variant, outcome) (rate(smi_intake_requests_total[{RATE}]))", "{{variant}} {{outcome}}")],
              "reqps"),
        Panel("Requests taken in, by outcome", [("sum by (outcome) (smi_intake_requests_total)", "{{outcome}}")],
              kind="stat"),
        Panel("Batch latency (fetch to commit)", [
            (f'histogram_quantile(0.5, sum by (le) (rate(smi_batch_duration_seconds_bucket{{service="intake"}}[{RATE}])))', "p50"),
            (f'histogram_quantile(0.95, sum by (le) (rate(smi_batch_duration_seconds_bucket{{service="intake"}}[{RATE}])))', "p95"),
            (f'histogram_quantile(0.99, sum by (le) (rate(smi_batch_duration_seconds_bucket{{service="intake"}}[{RATE}])))', "p99"),
        ], "s"),
        Panel("Rejections by response code", [("sum by (code) (smi_intake_rejections_total)", "{{code}}")],
              kind="bargauge"),
        Panel("Reads and changes routed instead of completed in intake's hop, by reason", [
            (f"sum by (reason) (rate(smi_intake_reads_routed_total[{RATE}]))", "read {{reason}}"),
            (f"sum by (reason) (rate(smi_intake_changes_routed_total[{RATE}]))", "change {{reason}}"),
        ], "reqps", description="no_answer: inventory's API failed or was too slow; busy: a bulk load's batches"),
        Panel("Requests completed by inventory, by code",
              [("sum by (variant, code) (smi_inventory_requests_total)", "{{variant}} {{code}}")], kind="bargauge"),
        Panel("Bulk returns answered, by overall code",
              [("sum by (variant, code) (smi_returns_requests_total)", "{{variant}} {{code}}")], kind="bargauge"),
        Panel("Dead letters by service", [("sum by (service) (smi_dead_letters_total)", "{{service}}")],
              kind="stat", description="Input too broken to answer: original bytes on smi.dead-letters"),
        Panel("Service up", [("smi_service_up", "{{service}}")], kind="stat"),
    ]),
    Dashboard("smi-inventory", "SMI inventory", "The Smart Metering Inventory: devices, stock, events", [
        Panel("Devices by type and SMI Status",
              [("sum by (device_type, status) (smi_inventory_devices)", "{{device_type}} {{status}}")],
              kind="table", width=24),
        Panel("Stock: Pending devices by type",
              [('sum by (device_type) (smi_inventory_devices{status="Pending"})', "{{device_type}}")],
              kind="bargauge"),
        Panel("Pending devices by age (calendar months)",
              [("sum by (age_months) (smi_inventory_pending_devices)", "{{age_months}} months")],
              kind="bargauge"),
        Panel("Comms Hubs in stock (CH Stock Level Charge), by ordering party",
              [("sum by (ordering_party) (smi_inventory_hubs_in_stock)", "{{ordering_party}}")],
              kind="bargauge"),
        Panel("Pending devices due by age at the last runs, by decision",
              [('sum by (device_type, decision) (smi_housekeeping_decisions_total)',
                "{{device_type}} {{decision}}")], kind="bargauge",
              description="Devices Pending for at least their type's duration, counted by housekeeping runs"),
        Panel("Device events by type", [(f"sum by (type) (rate(smi_inventory_device_events_total[{RATE}]))", "{{type}}")],
              "ops"),
        Panel("Commands and CSP events by type and outcome",
              [("sum by (type, outcome) (smi_inventory_commands_total)", "{{type}} {{outcome}}")], kind="bargauge"),
        Panel("Redeliveries ignored", [("smi_inventory_duplicates_total", "duplicates")], kind="stat"),
    ]),
    Dashboard("smi-housekeeping", "SMI housekeeping", "Removal of devices left Pending (SECMP0060)", [
        Panel("Removals requested", [("smi_housekeeping_removals_requested_total", "removals")], kind="stat"),
        Panel("N8 alerts sent", [("smi_housekeeping_n8_alerts_total", "N8")], kind="stat"),
        Panel("Hubs retained by the exclusion, by type",
              [('sum by (device_type) (smi_housekeeping_decisions_total{decision="retain-excluded"})', "{{device_type}}")],
              kind="bargauge"),
        Panel("Decisions by decision, type and policy version",
              [("sum by (decision, device_type, policy_version) (smi_housekeeping_decisions_total)",
                "{{decision}} {{device_type}} {{policy_version}}")], kind="table"),
        Panel("Last partition run duration", [("smi_housekeeping_last_partition_run_seconds", "duration")], "s"),
        Panel("Partition runs completed", [("smi_housekeeping_partition_runs_total", "runs")], kind="stat"),
        Panel("Policy version in force", [("smi_housekeeping_policy_info", "{{version}}")], kind="table"),
        Panel("Policy files refused", [("smi_housekeeping_policy_refused_total", "refused")], kind="stat"),
        Panel("Device events tracked", [(f"rate(smi_housekeeping_device_events_total[{RATE}])", "events")], "ops"),
        Panel("Partition work waiting for the table to catch up",
              [(f"histogram_quantile({q}, sum by (le) (rate(smi_housekeeping_catch_up_seconds_bucket[{RATE}])))",
                f"p{round(q * 100)}") for q in (0.5, 0.99)],
              "s", description="How long a run's or forecast's work waited until the table held every device event "
                               "committed before it was asked for: long waits mean the tracker lags the events"),
        Panel("Partition work put back at a rebalance or stop",
              [("smi_housekeeping_partition_work_requeued_total", "requeued")], kind="stat",
              description="Work that was waiting for the table when its partition moved: it is redone by "
                          "the partition's next owner"),
    ]),
    Dashboard("smi-returns", "SMI returns", "Comms Hub returns (MP117): open, overdue, reasons", [
        Panel("Open Returns Remedy Records by party and age",
              [("sum by (party, age) (smi_returns_open_records)", "{{party}} {{age}}")], kind="bargauge"),
        Panel("Overdue returns by party", [("sum by (party) (smi_returns_overdue_records)", "{{party}}")],
              kind="bargauge"),
        Panel("Records by reason", [("sum by (kind, return_type, fault_reason) (smi_returns_records)",
                                     "{{kind}} {{return_type}} {{fault_reason}}")], kind="table", width=24),
        Panel("Hubs answered by per-hub code", [("sum by (variant, code) (smi_returns_hubs_total)", "{{variant}} {{code}}")],
              kind="bargauge"),
        Panel("Hubs received by outcome", [("sum by (outcome) (smi_returns_received_total)", "{{outcome}}")],
              kind="stat"),
        Panel("Overdue alerts sent", [("smi_returns_overdue_alerts_total", "alerts")], kind="stat"),
    ]),
    Dashboard("smi-kafka", "SMI Kafka consumers", "Consumer lag, throughput and batch time per service", [
        Panel("Consumer lag by group", [("sum by (group) (smi_consumer_lag)", "{{group}}")]),
        Panel("Consumer lag by topic and partition",
              [("sum by (topic, partition) (smi_consumer_lag)", "{{topic}}[{{partition}}]")]),
        Panel("Records consumed by service and topic",
              [(f"sum by (service, topic) (rate(smi_records_consumed_total[{RATE}]))", "{{service}} {{topic}}")], "ops"),
        Panel("Batch time p95 by service",
              [(f"histogram_quantile(0.95, sum by (service, le) (rate(smi_batch_duration_seconds_bucket[{RATE}])))",
                "{{service}}")], "s"),
        Panel("Where a batch's time goes: p99 by service and stage",
              [(f"histogram_quantile(0.99, sum by (service, stage, le) "
                f"(rate(smi_stage_duration_seconds_bucket[{RATE}])))", "{{service}} {{stage}}")], "s"),
        Panel("Saved outputs: generations cleared by service and how",
              [(f"sum by (service, how) (rate(smi_processed_generations_cleared_total[{RATE}]))",
                "{{service}} {{how}}")], "ops"),
        Panel("Scrape targets up", [("up", "{{job}}")], kind="stat"),
    ]),
]


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict:
    return {
        "id": panel_id, "type": panel.kind, "title": panel.title, "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": [{"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": chr(65 + i)}
                    for i, (expr, legend) in enumerate(panel.targets)],
    }


def render(dashboard: Dashboard) -> dict:
    panels, x, y = [], 0, 0
    for number, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > 24:
            x, y = 0, y + 8
        panels.append(_panel(panel, number, x, y))
        x += panel.width
    return {
        "uid": dashboard.uid, "title": dashboard.title, "description": dashboard.description,
        "tags": ["smi"], "timezone": "utc", "schemaVersion": 39, "version": 1, "editable": True,
        "refresh": "30s", "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []}, "annotations": {"list": []}, "panels": panels,
    }


def rendered() -> dict[str, str]:
    """File name -> JSON text, for every dashboard."""
    return {f"{d.uid.removeprefix('smi-')}.json": json.dumps(render(d), indent=2) + "\n" for d in DASHBOARDS}


def write() -> None:
    DASHBOARDS_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (DASHBOARDS_DIR / name).write_text(text)


if __name__ == "__main__":
    write()
