"""The SSI's metrics: page latency by page, sign-ins by outcome, alerts kept by code."""
from prometheus_client import Counter, Histogram

PAGE_SECONDS = Histogram("smi_ssi_page_duration_seconds", "Time to answer a page, by page and status",
                         ["page", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5))
SIGN_INS = Counter("smi_ssi_sign_ins_total", "Sign-in attempts, by outcome", ["outcome"])
ALERTS = Counter("smi_ssi_alerts_total", "DCC Alerts kept for their parties, by code", ["code"])
