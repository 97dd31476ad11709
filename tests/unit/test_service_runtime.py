"""What every service's entry point sets up before it runs."""
import gc

from shared import service


def test_the_garbage_collector_skips_start_up_objects_and_runs_rarely():
    before = gc.get_threshold()
    try:
        service._tune_garbage_collector()
        assert gc.get_freeze_count() > 0, "start-up objects are frozen out of the collector's scans"
        assert gc.get_threshold()[0] >= 50_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
