"""Faults survived, nothing lost: a mixed load driven through every service while, in turn,
services are killed, second instances come and go, the broker and the database restart; after
each, every invariant against the reference model.

SMI_RELIABILITY_REQUESTS sets the size (`make test`: a few hundred; `make reliability`: 20,000),
SMI_RELIABILITY_SEED the workload, SMI_RELIABILITY_FAULTS which faults (none = a baseline)."""
import time

import pytest

from tests.reliability.platform import SINGLE
from tests.reliability.report import render
from tests.reliability.rounds import run_round
from tests.reliability.verdict import REQUESTS, SEED, assert_survived, selected

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fault", selected(brokers=1))
async def test_nothing_lost_nothing_duplicated(fault, reliability_stack, results):
    workdir = SINGLE.dir / "rounds" / f"{time.strftime('%Y%m%d-%H%M%S')}-{fault}"
    counts = await run_round(fault, *reliability_stack, REQUESTS, SEED, workdir)
    results.append(counts)
    print("\n" + render([counts]))
    assert_survived(counts, fault)
