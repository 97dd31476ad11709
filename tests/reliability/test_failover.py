"""Failover survived, nothing lost: the same mixed load on three replicating KRaft nodes while
partition leaders, the transaction coordinator, a whole broker and the active controller are
killed (SIGKILL) and brought back; then every invariant against the reference model.

A stack of its own (.stack-failover, SMI_FAILOVER_KAFKA_PORT and the five ports after it,
SMI_FAILOVER_PG_PORT); the size, seed and selection as for the other rounds."""
import time

import pytest

from tests.reliability.platform import REPLICATED
from tests.reliability.report import render
from tests.reliability.rounds import run_round
from tests.reliability.verdict import REQUESTS, SEED, assert_survived, selected

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fault", selected(brokers=3))
async def test_failover_loses_nothing(fault, replicated_stack, results):
    workdir = REPLICATED.dir / "rounds" / f"{time.strftime('%Y%m%d-%H%M%S')}-{fault}"
    counts = await run_round(fault, *replicated_stack, REQUESTS, SEED, workdir)
    results.append(counts)
    print("\n" + render([counts]))
    assert_survived(counts, fault)
