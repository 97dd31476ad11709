"""Faults survived, nothing lost: a mixed load driven through every service while, in turn,
services are killed, second instances come and go, the broker and the database restart; after
each, every invariant against the reference model.

SMI_RELIABILITY_REQUESTS sets the size (`make test`: a few hundred; `make reliability`: 20,000),
SMI_RELIABILITY_SEED the workload, SMI_RELIABILITY_FAULTS which faults (none = a baseline)."""
import os
import time
from dataclasses import replace

import pytest

from tests.reliability.faults import FAULTS
from tests.reliability.platform import STACK_DIR
from tests.reliability.report import render
from tests.reliability.rounds import run_round

pytestmark = pytest.mark.integration
REQUESTS = int(os.environ.get("SMI_RELIABILITY_REQUESTS", "150"))
SEED = int(os.environ.get("SMI_RELIABILITY_SEED", "60117"))
SELECTED = os.environ.get("SMI_RELIABILITY_FAULTS", "kill,rebalance,broker,postgres,housekeeping").split(",")
# Housekeeping takes its run requests through faust (at least once) and dead-letters an unusable
# one with a plain send: a worker killed after that send and before faust commits the offset
# dead-letters it again on restart. Only that, alone, is let through as an expected failure.
KNOWN_DUPLICATE_DEAD_LETTER = ("housekeeping dead-letters an unusable run request again when it is "
                               "killed before faust commits the request's offset")


@pytest.mark.parametrize("fault", SELECTED)
async def test_nothing_lost_nothing_duplicated(fault, reliability_stack, results):
    assert fault in FAULTS, f"unknown fault {fault!r}; known: {', '.join(FAULTS)}"
    workdir = STACK_DIR / "rounds" / f"{time.strftime('%Y%m%d-%H%M%S')}-{fault}"
    counts = await run_round(fault, *reliability_stack, REQUESTS, SEED, workdir)
    results.append(counts)
    print("\n" + render([counts]))
    detail = "\n".join(counts.examples[:20])
    assert counts.strikes >= len(FAULTS[fault]().targets), "the fault did not strike every target"
    assert (counts.lost, counts.duplicated) == (0, 0), detail
    assert counts.wrong == 0 and counts.smi_diffs == 0, detail
    assert (counts.rrr_missing, counts.rrr_duplicated) == (0, 0), detail
    assert (counts.n8_missing, counts.n8_duplicated) == (0, 0), detail
    assert (counts.dead_unexpected, counts.dead_missing) == (0, 0), detail
    assert not counts.exits, f"services that exited on their own: {counts.exits}"
    if counts.dead_duplicated and counts.dead_duplicated_by == ["housekeeping"] \
            and replace(counts, dead_duplicated=0).clean:
        pytest.xfail(KNOWN_DUPLICATE_DEAD_LETTER)
    assert counts.dead_duplicated == 0, detail
