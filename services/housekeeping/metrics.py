"""Housekeeping metrics (Prometheus)."""
from prometheus_client import Counter, Gauge, Histogram

POLICY = Gauge("smi_housekeeping_policy_info", "The policy version in force (value 1)", ["version"])
POLICY_REFUSED = Counter("smi_housekeeping_policy_refused_total", "Policy files refused at load")
TRACKED_EVENTS = Counter("smi_housekeeping_device_events_total", "Device events applied to the table")
DECISIONS = Counter("smi_housekeeping_decisions_total", "Run decisions on due devices",
                    ["decision", "device_type", "policy_version"])
REMOVALS_REQUESTED = Counter("smi_housekeeping_removals_requested_total", "RemoveDevice commands sent")
ALERTS = Counter("smi_housekeeping_n8_alerts_total", "N8 alerts sent after confirmed removals")
RUNS = Counter("smi_housekeeping_partition_runs_total", "Runs completed, one per partition")
CATCH_UP_SECONDS = Histogram("smi_housekeeping_catch_up_seconds",
                             "How long a partition's work waited for the table to hold every device "
                             "event committed before the work was asked for",
                             buckets=(0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
WORK_REQUEUED = Counter("smi_housekeeping_partition_work_requeued_total",
                        "Partition work put back on its partition because a rebalance began while it waited")
RUN_SECONDS = Gauge("smi_housekeeping_last_partition_run_seconds", "Duration of the last partition run")

_version: list[str] = []


def set_policy(version: str) -> None:
    for old in _version:
        POLICY.remove(old)
    _version[:] = [version]
    POLICY.labels(version).set(1)
