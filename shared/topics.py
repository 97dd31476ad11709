"""The configuration of every topic the platform creates, by the role the topic plays.

Records carry event time (the contract lets a producer date a request in the past), and Kafka's
time retention counts from the largest record timestamp of a segment: with a finite
`retention.ms`, a backdated record is deleted by the next retention check, read or not. So no
topic of the platform is deleted by time, whatever its timestamps; `docs/operations.md` says
why, per topic, and what production adds.
"""
from dataclasses import dataclass

from shared.settings import Settings

# What every topic keeps: records are removed by no clock and by no size.
_KEEP = {"retention.ms": "-1", "retention.bytes": "-1"}
# The same as the broker's default, for a topic created by anything else (a tool, auto-creation).
BROKER_DEFAULTS = {"log.retention.ms": "-1", "log.retention.bytes": "-1"}


@dataclass(frozen=True)
class Role:
    cleanup: str      # cleanup.policy
    external: bool    # fed by parties outside the platform: its timestamp type is a setting

    def configs(self, settings: Settings) -> dict[str, str]:
        timestamps = settings.input_timestamp_type if self.external else "CreateTime"
        return {"cleanup.policy": self.cleanup, **_KEEP, "message.timestamp.type": timestamps}


_LOG, _TABLE = "delete", "compact"

ROLES: dict[str, Role] = {
    # the topics named by the settings (shared.settings.Topics), by field name
    "requests": Role(_LOG, external=True),
    "csp_events": Role(_LOG, external=True),
    "housekeeping_runs": Role(_LOG, external=True),
    "responses": Role(_LOG, external=False),
    "alerts": Role(_LOG, external=False),
    "dead_letters": Role(_LOG, external=False),
    "inventory_commands": Role(_LOG, external=False),
    "returns_commands": Role(_LOG, external=False),
    "device_events": Role(_LOG, external=False),
    "inventory_replies": Role(_LOG, external=False),
    # per-party responses and alerts (SMI_TOPIC_MODE=per-party)
    "party_answers": Role(_LOG, external=False),
    # housekeeping's faust topics: the table's changelog keeps the last entry per device
    "table_changelog": Role(_TABLE, external=False),
    "partition_work": Role(_LOG, external=False),
    "faust_leader": Role(_LOG, external=False),
}


def configs(role: str, settings: Settings) -> dict[str, str]:
    """The topic configs of a role; an unknown role is a programming error."""
    try:
        return ROLES[role].configs(settings)
    except KeyError:
        raise ValueError(f"no topic role {role!r}; known: {sorted(ROLES)}") from None
