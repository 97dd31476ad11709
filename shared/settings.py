"""Settings for every service, from the environment (prefix SMI_) or a .env file."""
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
# SmartDCC's public DCC Boxed test key material, unpacked by `make duis-tools`: development only.
DEV_KEYS = REPO_ROOT / "tools" / "duis" / "keys"


class Topics(BaseModel):
    requests: str = "smi.requests"
    responses: str = "smi.responses"
    alerts: str = "smi.alerts"
    dead_letters: str = "smi.dead-letters"
    csp_events: str = "smi.csp-events"
    housekeeping_runs: str = "smi.housekeeping-runs"
    inventory_commands: str = "smi.internal.inventory-commands"
    returns_commands: str = "smi.internal.returns-commands"
    device_events: str = "smi.internal.device-events"
    inventory_replies: str = "smi.internal.inventory-replies"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SMI_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    kafka_bootstrap_servers: str = "127.0.0.1:29092"
    # Client authentication; the password is read from the environment (or .env) only.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: Path | None = None  # CA bundle for SASL_SSL (default: the system's)
    database_url: str = "postgresql://smi@127.0.0.1:25432/smi"
    topics: Topics = Topics()
    partitions: int = 6
    replication_factor: int = Field(default=1, ge=1)
    # Whose clock dates a record on the topics fed from outside (requests, CSP feed, housekeeping
    # runs): the producer's (event time, for tests and simulations) or the broker's.
    input_timestamp_type: Literal["CreateTime", "LogAppendTime"] = "CreateTime"
    dcc_eui: str = "90-B3-D5-1F-30-00-00-02"
    metrics_port: int = 9101
    http_port: int = 0  # the service's JSON API (0: none); the local stack sets one per service
    max_request_bytes: int = 1_000_000
    # Inventory's API: intake answers Read Inventory by Device ID from it when no change to the
    # device is on its way (docs/design.md). Empty: every request goes through inventory's topic.
    inventory_url: str = ""
    inventory_read_timeout_seconds: float = Field(default=0.25, gt=0)  # then the read is routed
    # Intake applies a change through the same API when nothing about its device is on its way
    # through inventory's topic and its batch holds at most this many changes (0: never).
    inventory_apply_max_changes: int = Field(default=100, ge=0)
    inventory_apply_timeout_seconds: float = Field(default=1.0, gt=0)  # then the change is routed
    applied_outputs_days: float = Field(default=7.0, gt=0)  # how long inventory keeps them
    signature_mode: Literal["off", "required"] = "off"
    # The DCC's XML signing key (PKCS#8, PEM or DER) and its certificate: every XML response and
    # alert is signed with them. The defaults are DCC Boxed's DSP test key: never in production.
    dcc_signing_key: Path = DEV_KEYS / "dsp-xml-sign-90B3D51F30000002-ds.key"
    dcc_signing_certificate: Path = DEV_KEYS / "dsp-xml-sign-90B3D51F30000002-ds.pem"
    topic_mode: Literal["shared", "per-party"] = "shared"
    parties_file: Path = REPO_ROOT / "deploy" / "parties.yaml"
    party_cache_seconds: float = 5.0
    batch_max_records: int = 500
    fetch_max_wait_ms: int = 100  # the broker answers as soon as a record is there (docs/design.md)
    retry_backoff_ms: int = 10  # paid on back-to-back transactions (see docs/operations.md)
    transactional_producers: int = Field(default=2, ge=1)  # per consumer, taking turns (docs/design.md)
    # Inventory's device gauges count the whole SMI (in slices, on one core), so not too often.
    gauge_refresh_seconds: float = 60.0
    returns_due_days: int = 90                  # a returned hub is due back this many days later
    returns_overdue_check_seconds: float = 3600.0
    # Stable across restarts of one instance, distinct between instances running at once: a
    # restarted instance then fences its predecessor and aborts the transaction it left open.
    instance_id: str = Field(default_factory=socket.gethostname)
    group_suffix: str = ""  # appended to consumer groups: platforms sharing one broker stay apart
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"


@lru_cache
def get_settings() -> Settings:
    return Settings()
