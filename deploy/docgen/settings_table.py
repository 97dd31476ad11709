"""The settings table of docs/operations.md: every variable of every settings class, its default
and what it means. A setting without a meaning here fails the generator."""
from services.housekeeping.config import HousekeepingSettings
from shared.settings import REPO_ROOT, Settings, Topics

MEANINGS = {
    "kafka_bootstrap_servers": "Kafka brokers, host:port[,host:port]",
    "kafka_security_protocol": "`PLAINTEXT`, `SASL_PLAINTEXT` or `SASL_SSL` (every Kafka client of the services)",
    "kafka_sasl_mechanism": "`SCRAM-SHA-512` or `SCRAM-SHA-256`",
    "kafka_sasl_username": "the services' SCRAM user (per-party ACLs: `smi-platform`)",
    "kafka_sasl_password": "its password: from the environment only, never committed",
    "kafka_ssl_cafile": "CA bundle (PEM) that signed the brokers' certificates, for `SASL_SSL` (default: the system's)",
    "database_url": "PostgreSQL URL (each service owns one schema in this database)",
    "partitions": "partitions of every topic created at preparation (the ceiling on instances per group)",
    "replication_factor": "copies of every topic created at preparation and of housekeeping's faust topics "
                          "(production: 3, with the brokers' `min.insync.replicas=2`)",
    "input_timestamp_type": "`message.timestamp.type` of the topics fed from outside (requests, CSP feed, "
                            "housekeeping runs), set at preparation: `CreateTime` (the producer dates "
                            "each record: development, tests, simulations) or `LogAppendTime` (the broker "
                            "does: production)",
    "dcc_eui": "the DCC's EUI: the target of every request, the sender of every response",
    "metrics_port": "Prometheus /metrics and readiness /ready port (0: none)",
    "http_port": "the service's HTTP JSON API port (0: none)",
    "max_request_bytes": "larger requests are rejected (E17)",
    "inventory_url": "inventory's API, which intake answers Read Inventory by Device ID from, and applies "
                     "changes through, when nothing about the device is on its way through inventory's topic "
                     "(empty: every request for inventory goes through its topic)",
    "inventory_read_timeout_seconds": "how long intake waits for inventory's API to answer reads before it "
                                      "routes the reads of a batch instead",
    "inventory_apply_max_changes": "intake applies a batch's changes through inventory's API only when it holds "
                                   "at most this many (0: never); a larger batch is routed whole, so that "
                                   "under load intake and inventory work side by side",
    "inventory_apply_timeout_seconds": "how long intake waits for inventory's API to apply a batch's changes "
                                       "before it routes them instead (safe either way: see docs/design.md)",
    "applied_outputs_days": "how long inventory keeps what each change applied through its API produced, "
                            "for a call made again or the same change met on its topic",
    "signature_mode": "`off` (development) or `required` (production: unsigned or bad signature rejected)",
    "dcc_signing_key": "the DCC's XML signing key (ECDSA P-256, PKCS#8 in PEM or DER): every XML response and "
                       "alert is signed with it. The default is public test material: set your own in production",
    "dcc_signing_certificate": "the certificate of that key; its issuer and serial number are named in each "
                               "signature's KeyInfo",
    "topic_mode": "`shared` topics, or `per-party` responses and alerts (smi.responses.<EUI>, smi.alerts.<EUI>)",
    "parties_file": "the party registry loaded at preparation",
    "party_cache_seconds": "how long a service trusts its cached copy of the registry",
    "batch_max_records": "records per consumer batch (one database and one Kafka transaction); as many are read ahead while a batch is applied",
    "fetch_max_wait_ms": "broker-side wait for a fetch",
    "retry_backoff_ms": "transactional producer's wait before a retry; the broker answers \"concurrent "
                        "transactions\" while the previous commit's markers are written, so back-to-back "
                        "commits pay it",
    "transactional_producers": "transactional producers per consumer, taking turns, so that a transaction "
                               "begins on the producer whose last commit is furthest back rather than on one "
                               "whose commit markers are still being written (docs/design.md); 1: one producer",
    "gauge_refresh_seconds": "how often inventory counts the SMI for its device gauges (one snapshot, "
                             "counted in slices on one core)",
    "returns_due_days": "a returned hub is due back this many days after its request",
    "returns_overdue_check_seconds": "how often returns checks for overdue hubs",
    "instance_id": "unique per running instance, stable across its restarts (transactional id)",
    "group_suffix": "appended to consumer groups, so platforms sharing one cluster stay apart",
    "log_level": "Python log level",
    "log_format": "`json` or `text`",
    "topics.requests": "Service Requests in", "topics.responses": "responses out",
    "topics.alerts": "DCC Alerts out", "topics.dead_letters": "dead letters",
    "topics.csp_events": "CSP feed in", "topics.housekeeping_runs": "housekeeping runs in",
    "topics.inventory_commands": "internal: commands to inventory",
    "topics.returns_commands": "internal: commands to returns",
    "topics.device_events": "internal: inventory's device events",
    "topics.inventory_replies": "internal: inventory's replies to returns",
    "housekeeping.policy_file": "the versioned housekeeping policy (YAML)",
    "housekeeping.policy_poll_seconds": "how often the policy file is re-read",
    "housekeeping.run_interval_seconds": "the scheduled run (as_of = now)",
    "housekeeping.data_dir": "faust's local state directory",
    "housekeeping.table_store": "the table's store: `rocksdb://` keeps it on disk in the data dir across restarts, `memory://` rebuilds it from the changelog at every start",
    "housekeeping.query_timeout_seconds": "how long a forecast waits for every partition",
    "ssi.inventory_url": "inventory's HTTP API", "ssi.housekeeping_url": "housekeeping's HTTP API",
    "ssi.returns_url": "returns' HTTP API",
    "ssi.session_secret": "signs session cookies: set it, the same on every instance (default: random)",
    "ssi.session_hours": "session lifetime", "ssi.secure_cookies": "set behind HTTPS",
    "ssi.page_size": "rows per page", "ssi.api_timeout_seconds": "timeout of calls to the services' APIs",
}


def _settings_classes() -> list[tuple[str, str, type]]:
    """(key prefix, env prefix, class) of every settings class."""
    found = [("", "SMI_", Settings), ("topics.", "SMI_TOPICS__", Topics),
             ("housekeeping.", "SMI_HOUSEKEEPING_", HousekeepingSettings)]
    try:
        from services.ssi.config import SSISettings
        found.append(("ssi.", "SMI_SSI_", SSISettings))
    except ImportError:
        pass
    return found


# Defaults better said in words than as a path.
DEFAULT_TEXTS = {
    "dcc_signing_key": "DCC Boxed's DSP test key in `tools/duis/keys/`",
    "dcc_signing_certificate": "DCC Boxed's DSP test certificate",
}


def _default(name: str, field) -> str:
    if name in DEFAULT_TEXTS:
        return DEFAULT_TEXTS[name]
    if field.default_factory is not None:
        return "host name" if name == "instance_id" else "(random per process)"
    value = field.default
    if value is None:
        return "(none)"
    if str(value) == "":  # an empty str or SecretStr
        return "(empty)"
    if hasattr(value, "relative_to"):
        try:
            value = value.relative_to(REPO_ROOT)
        except ValueError:
            pass
    return f"`{value}`"


def settings_rows() -> list[tuple[str, str, str]]:
    rows = []
    for key_prefix, env_prefix, cls in _settings_classes():
        for name, field in cls.model_fields.items():
            if cls is Settings and name == "topics":
                continue
            rows.append((f"{env_prefix}{name.upper()}", _default(name, field), MEANINGS[f"{key_prefix}{name}"]))
    return rows


def settings_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{env}` | {default} | {meaning} |" for env, default, meaning in settings_rows()]
    return "\n".join(lines)


START, END = "<!-- settings table: generated by python -m deploy.docs_gen -->", "<!-- end of settings table -->"
