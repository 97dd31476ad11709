"""Prometheus metrics shared by every service, and the HTTP endpoint that serves them."""
from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECORDS = Counter("smi_records_consumed_total", "Records consumed and handled", ["service", "topic"])
DEAD_LETTERS = Counter("smi_dead_letters_total", "Records sent to the dead letters", ["service"])
RETRIES = Counter("smi_retries_total", "Batches retried after a transient failure", ["service", "stage"])
CONSUMER_LAG = Gauge("smi_consumer_lag", "Records not yet consumed", ["group", "topic", "partition"])
BATCH_SECONDS = Histogram(
    "smi_batch_duration_seconds", "From fetching a batch to its outputs being committed",
    ["service"], buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STAGE_SECONDS = Histogram(
    "smi_stage_duration_seconds", "Where a batch's time goes: fetch_wait (the fetch that brought it), "
    "database (its transaction), queued (behind the previous batch's commit), kafka_send, "
    "kafka_offsets, kafka_commit (the phases of its Kafka transaction), plain_commit",
    ["service", "stage"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
UP = Gauge("smi_service_up", "1 while the service's consumer loop runs", ["service"])


def serve(port: int) -> None:
    """Serve /metrics on the port (0 disables it, as tests running several services do)."""
    if port:
        start_http_server(port, addr="0.0.0.0")
