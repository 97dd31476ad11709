import pytest

from tests.support import Bus, drop_database, isolated_settings


@pytest.fixture
async def settings(kafka_bootstrap, database_url):
    """Settings for one test: its own topics and its own database."""
    settings = await isolated_settings(kafka_bootstrap, database_url)
    yield settings
    await drop_database(settings, database_url)


@pytest.fixture
async def bus(settings):
    bus = Bus(settings)
    yield bus
    await bus.close()
