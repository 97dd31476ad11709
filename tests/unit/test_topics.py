"""The per-topic configs: every topic the platform creates has a role, and no role lets the broker
delete records by time or size."""
import pytest

from shared import topics
from shared.kafka import registry_specs
from shared.settings import Settings, Topics


def test_every_topic_of_the_registry_has_a_role():
    assert set(Topics.model_fields) <= set(topics.ROLES)


@pytest.mark.parametrize("role", sorted(topics.ROLES))
def test_no_role_deletes_records_by_time_or_size(role):
    configs = topics.configs(role, Settings())
    assert configs["retention.ms"] == "-1"
    assert configs["retention.bytes"] == "-1"
    assert configs["cleanup.policy"] == ("compact" if role == "table_changelog" else "delete")


def test_the_broker_defaults_keep_records_too():
    assert topics.BROKER_DEFAULTS == {"log.retention.ms": "-1", "log.retention.bytes": "-1"}


def test_topics_fed_from_outside_take_the_timestamp_type_of_the_settings():
    production = Settings(input_timestamp_type="LogAppendTime")
    external = {role for role, spec in topics.ROLES.items() if spec.external}
    assert external == {"requests", "csp_events", "housekeeping_runs"}
    for role in topics.ROLES:
        wanted = "LogAppendTime" if role in external else "CreateTime"
        assert topics.configs(role, production)["message.timestamp.type"] == wanted
        assert topics.configs(role, Settings())["message.timestamp.type"] == "CreateTime"


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="no topic role 'bogus'"):
        topics.configs("bogus", Settings())


def test_registry_specs_cover_the_registry_and_the_party_topics():
    settings = Settings(partitions=4)
    specs = {spec.name: spec for spec in registry_specs(settings, ["smi.responses.AA", "smi.alerts.AA"])}
    assert set(specs) == set(settings.topics.model_dump().values()) | {"smi.responses.AA", "smi.alerts.AA"}
    assert {spec.partitions for spec in specs.values()} == {4}
    assert specs["smi.alerts.AA"].configs == topics.configs("party_answers", settings)
    assert specs["smi.requests"].configs == topics.configs("requests", settings)
