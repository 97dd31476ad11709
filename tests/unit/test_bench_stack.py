"""The bench measures on a stack of its own, started afresh, or on what the environment names."""
import asyncio
import sys
import types

from deploy.local import stack
from tests.bench import __main__ as bench


def _never_wipe(folder):
    raise AssertionError(f"{folder} wiped")


def test_the_bench_wipes_its_own_stack_before_starting_it(monkeypatch):
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(stack, "status", lambda folder: {"kafka": None, "postgres": None})
    steps = []
    monkeypatch.setattr(stack, "clean", lambda folder: steps.append(("wiped", folder)))
    monkeypatch.setattr(stack, "ensure_infrastructure",
                        lambda folder, *ports: steps.append(("started", folder)) or ("broker", "database"))

    assert bench.infrastructure() == ("broker", "database", True)
    assert steps == [("wiped", bench.STACK), ("started", bench.STACK)]


def test_the_bench_uses_its_own_stack_as_it_is_while_it_runs(monkeypatch):
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(stack, "status", lambda folder: {"kafka": 4242, "postgres": 4343})
    monkeypatch.setattr(stack, "clean", _never_wipe)
    monkeypatch.setattr(stack, "ensure_infrastructure", lambda folder, *ports: ("broker", "database"))

    assert bench.infrastructure() == ("broker", "database", False)


def test_a_broker_and_database_named_by_the_environment_are_left_as_they_are(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/smi")
    monkeypatch.setattr(stack, "clean", _never_wipe)

    assert bench.infrastructure() == ("127.0.0.1:1", "postgresql://elsewhere/smi", False)


def _benches_run_after(started: bool, monkeypatch) -> list[str]:
    steps = []
    monkeypatch.setattr(bench, "infrastructure", lambda: ("broker", "database", started))

    async def warm_up(bootstrap, database):
        steps.append("warm-up")

    async def main(bootstrap, database, scale):
        steps.append("signing")
        return []

    monkeypatch.setattr(bench, "warm_up", warm_up)
    monkeypatch.setitem(sys.modules, "tests.bench.bench_signing", types.SimpleNamespace(main=main))
    asyncio.run(bench.run(["signing"], 1.0))
    return steps


def test_a_stack_just_started_is_warmed_before_the_first_bench(monkeypatch):
    assert _benches_run_after(True, monkeypatch) == ["warm-up", "signing"]


def test_a_running_stack_is_measured_as_it_is(monkeypatch):
    assert _benches_run_after(False, monkeypatch) == ["signing"]
