"""The reliability suite's stack (.stack-reliability, ports of its own) and its counts table,
printed at the end of the run."""
import pytest

from tests.conftest import unavailable
from tests.reliability import platform
from tests.reliability.report import render, save

RESULTS: list = []


@pytest.fixture(scope="session")
def reliability_stack():
    try:
        bootstrap, database_url = platform.start_stack()
    except Exception as exc:
        unavailable(f"the reliability stack did not start: {exc}")
    yield bootstrap, database_url
    if not platform.keep_stack():
        platform.stop_stack()


@pytest.fixture(scope="session")
def results() -> list:
    return RESULTS


def pytest_terminal_summary(terminalreporter):
    if RESULTS:
        terminalreporter.write_line("")
        for line in render(RESULTS).splitlines():
            terminalreporter.write_line(line)
        save(RESULTS, platform.STACK_DIR / "results.json")
