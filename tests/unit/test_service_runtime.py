"""What every service's entry point sets up before it runs."""
import gc

from services.intake.app import RESPONSES_FETCH_MIN_BYTES, intake_processors
from services.intake.handlers import Intake
from shared import service
from shared.settings import Settings


def test_the_garbage_collector_skips_start_up_objects_and_runs_rarely():
    before = gc.get_threshold()
    try:
        service._tune_garbage_collector()
        assert gc.get_freeze_count() > 0, "start-up objects are frozen out of the collector's scans"
        assert gc.get_threshold()[0] >= 50_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_intake_takes_requests_as_they_come_and_gathers_the_responses_it_keeps():
    requests, responses = intake_processors(Intake(Settings(_env_file=None), parties=None), pool=None)
    try:
        assert requests.consumer._fetch_min_bytes == 1, "a request is handed over as soon as it is there"
        assert responses.consumer._fetch_min_bytes == RESPONSES_FETCH_MIN_BYTES >= 64 * 1024
    finally:
        for processor in (requests, responses):
            await processor.consumer.stop()
            await processor.publisher.stop()
            await processor.admin.close()
