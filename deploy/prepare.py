"""One-shot preparation of a cluster and a database (docker compose's `prepare` service):
topics, migrations, party registry, from the SMI_ settings. Idempotent; retried while the broker
or the database is still coming up."""
import asyncio
import logging
import sys

import asyncpg
from aiokafka.errors import KafkaError

from shared.bootstrap import prepare
from shared.settings import Settings

ATTEMPTS, PAUSE_SECONDS = 20, 3.0
log = logging.getLogger("deploy.prepare")


async def prepare_with_retries(settings: Settings) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await prepare(settings.kafka_bootstrap_servers, settings.database_url, settings)
            return
        except (OSError, asyncio.TimeoutError, KafkaError, asyncpg.CannotConnectNowError) as error:
            if attempt == ATTEMPTS:
                raise
            log.warning("not ready yet (%s); attempt %d of %d", error, attempt, ATTEMPTS)
            await asyncio.sleep(PAUSE_SECONDS)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    asyncio.run(prepare_with_retries(settings))
    log.info("topics, migrations and parties ready on %s", settings.kafka_bootstrap_servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
