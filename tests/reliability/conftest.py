"""The reliability suite's stacks (.stack-reliability with one broker, .stack-failover with three;
ports of their own) and its counts table, printed at the end of the run."""
import pytest

from tests.conftest import unavailable
from tests.reliability import platform
from tests.reliability.report import render, save

RESULTS: list = []


def _running(spec: platform.Stack):
    """(stack, bootstrap servers, database URL) while the tests that need it run."""
    try:
        bootstrap, database_url = spec.start()
    except Exception as exc:
        unavailable(f"the reliability stack in {spec.dir} did not start: {exc}")
    yield spec, bootstrap, database_url
    if not platform.keep_stack():
        spec.stop()


@pytest.fixture(scope="session")
def reliability_stack():
    yield from _running(platform.SINGLE)


@pytest.fixture(scope="session")
def replicated_stack():
    yield from _running(platform.REPLICATED)


@pytest.fixture(scope="session")
def results() -> list:
    return RESULTS


def pytest_terminal_summary(terminalreporter):
    if RESULTS:
        terminalreporter.write_line("")
        for line in render(RESULTS).splitlines():
            terminalreporter.write_line(line)
        save(RESULTS, platform.STACK_DIR / "results.json")
