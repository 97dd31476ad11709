"""Prometheus metrics shared by every service, and the HTTP endpoint that serves them with the
service's readiness (`/ready`: 200 when ready, 503 until then, either way which parts are there)."""
import json
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app

from shared.readiness import READINESS, Readiness

RECORDS = Counter("smi_records_consumed_total", "Records consumed and handled", ["service", "topic"])
DEAD_LETTERS = Counter("smi_dead_letters_total", "Records sent to the dead letters", ["service"])
RETRIES = Counter("smi_retries_total", "Batches retried after a transient failure", ["service", "stage"])
CONSUMER_LAG = Gauge("smi_consumer_lag", "Records not yet consumed", ["group", "topic", "partition"])
BATCH_SECONDS = Histogram(
    "smi_batch_duration_seconds", "From fetching a batch to its outputs being committed",
    ["service"], buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STAGE_SECONDS = Histogram(
    "smi_stage_duration_seconds", "Where a batch's time goes: fetch_wait (waiting for records fetched), "
    "database (its transaction), queued (behind the previous batch's commit), kafka_send, "
    "kafka_offsets, kafka_commit (the phases of its Kafka transaction), plain_commit; intake's "
    "inventory_read and inventory_apply (its calls to inventory's API, part of its database stage)",
    ["service", "stage"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
GENERATIONS_CLEARED = Counter(
    "smi_processed_generations_cleared_total", "Tries at emptying the next generation of saved outputs, by "
    "what was done: empty (nothing in it), truncated, pruned (some rows not yet committed: the others "
    "deleted), busy (still being read; tried again later), failed (the database or Kafka "
    "did not answer)", ["service", "how"])
UP = Gauge("smi_service_up", "1 while the service's consumer loop runs", ["service"])


def readiness_answer(readiness: Readiness) -> tuple[str, bytes]:
    """The HTTP status and JSON body of `/ready`."""
    ready = readiness.ready()
    body = json.dumps({"ready": ready, "parts": readiness.parts()}).encode()
    return ("200 OK" if ready else "503 Service Unavailable"), body


def wsgi_app(readiness: Readiness = READINESS):
    metrics = make_wsgi_app()

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/ready":
            status, body = readiness_answer(readiness)
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return metrics(environ, start_response)
    return app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # a scrape every few seconds is not news
        pass


def serve(port: int) -> None:
    """Serve /metrics and /ready on the port (0 disables it, as tests running several services do)."""
    if port:
        server = make_server("0.0.0.0", port, wsgi_app(), _ThreadingServer, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
