"""A service is ready only when every part it expects is there, and says so over HTTP: the one
answer the local stack, the container health check and the tests wait on."""
import json
import socket
import threading
from wsgiref.simple_server import make_server

import pytest

from deploy import healthcheck
from deploy.local.readiness import service_ready
from shared.metrics import readiness_answer, wsgi_app
from shared.readiness import Readiness


def test_nothing_expected_is_not_ready():
    assert Readiness().ready() is False


def test_ready_once_every_expected_part_is_marked():
    readiness = Readiness()
    readiness.expect("consumer group smi-inventory joined")
    readiness.expect("http api listening")
    readiness.mark("http api listening")
    assert readiness.ready() is False
    readiness.mark("consumer group smi-inventory joined")
    assert readiness.ready() is True


def test_a_part_cleared_makes_it_not_ready_and_expecting_again_keeps_a_mark():
    readiness = Readiness()
    readiness.expect("table")
    readiness.mark("table")
    readiness.expect("table")
    assert readiness.ready() is True
    readiness.clear("table")
    assert readiness.ready() is False
    assert readiness.parts() == {"table": False}


def test_the_answer_is_503_with_the_missing_parts_until_ready():
    readiness = Readiness()
    readiness.expect("a")
    status, body = readiness_answer(readiness)
    assert status.startswith("503") and json.loads(body) == {"ready": False, "parts": {"a": False}}
    readiness.mark("a")
    status, body = readiness_answer(readiness)
    assert status.startswith("200") and json.loads(body)["ready"] is True


@pytest.fixture
def served():
    readiness = Readiness()
    server = make_server("127.0.0.1", 0, wsgi_app(readiness))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield readiness, server.server_port
    finally:
        server.shutdown()


def test_the_metrics_port_serves_ready_and_metrics(served):
    readiness, port = served
    readiness.expect("consumer group g joined")
    assert service_ready(port)[0] is False
    assert healthcheck.main(["inventory", str(port)]) == 1
    readiness.mark("consumer group g joined")
    ready, said = service_ready(port)
    assert ready is True and json.loads(said)["parts"] == {"consumer group g joined": True}
    assert healthcheck.main(["inventory", str(port)]) == 0


def test_a_port_nobody_listens_on_is_not_ready():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ready, said = service_ready(port)
    assert ready is False and "no answer" in said
