"""Housekeeping's own settings (environment prefix SMI_HOUSEKEEPING_), beside the platform's."""
import hashlib
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import REPO_ROOT, Settings, Topics


class HousekeepingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMI_HOUSEKEEPING_", env_file=".env", extra="ignore")

    policy_file: Path = REPO_ROOT / "deploy" / "housekeeping" / "policy.yaml"
    policy_poll_seconds: float = 5.0        # the file is re-read when it changes
    run_interval_seconds: float = 86_400.0  # the scheduled run, as_of = now
    data_dir: Path = Path("/tmp/smi-housekeeping")
    # rocksdb:// keeps the table in the data dir, so a restart reads only the changelog written
    # since; memory:// rebuilds it from the changelog at every start (table.py).
    table_store: Literal["rocksdb://", "memory://"] = "rocksdb://"
    query_timeout_seconds: float = 60.0     # a forecast waits this long for every partition


def app_id(settings: Settings) -> str:
    """The faust app id (consumer group, changelog and internal topic prefix), derived from the
    topic names so that two platforms on one cluster, such as parallel tests, never share state."""
    if settings.topics == Topics():
        return "smi-housekeeping"
    digest = hashlib.sha1(settings.topics.model_dump_json().encode()).hexdigest()[:10]
    return f"smi-housekeeping-{digest}"
