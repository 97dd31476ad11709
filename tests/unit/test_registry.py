"""The registry names every topic the platform uses, and the docs show everything it names:
a topic or message added to the settings or the registry alone fails here."""
import json

import pytest
import yaml

from deploy import docs_gen
from shared import registry, topics
from shared.settings import Settings, Topics

SPEC = yaml.safe_load(docs_gen.ASYNCAPI.read_text())


def test_every_topic_of_the_settings_has_one_registry_entry():
    named = [topic.setting for topic in registry.TOPICS if topic.setting]
    assert sorted(named) == sorted(Topics.model_fields)
    for topic in registry.TOPICS:
        if topic.setting:
            assert topic.name(Topics()) == getattr(Topics(), topic.setting)


def test_every_role_has_a_registry_topic_and_every_registry_topic_a_role():
    assert {topic.role for topic in registry.TOPICS} == set(topics.ROLES)


def test_preparation_creates_exactly_the_settings_topics_with_their_roles():
    settings = Settings()
    assert registry.topic_roles(settings) == {name: field for field, name in settings.topics.model_dump().items()}


def test_every_registry_topic_is_a_channel_carrying_its_messages():
    for topic in registry.TOPICS:
        channel = SPEC["channels"][topic.channel]
        assert channel["x-key"] == topic.key
        assert list(channel["messages"]) == [m.name for m in topic.messages]
        assert channel.get("x-internal", False) is not topic.public
    public = {topic.channel for topic in registry.TOPICS if topic.public}
    assert {op["channel"]["$ref"].rsplit("/", 1)[1] for op in SPEC["operations"].values()} == public


@pytest.mark.parametrize("name", sorted(registry.messages()))
def test_every_registry_message_renders_in_the_asyncapi_document(name):
    message = registry.messages()[name]
    rendered = SPEC["components"]["messages"][name]
    assert (rendered["name"], rendered["contentType"]) == (name, message.content_type)
    if message.schema_file:
        assert rendered["payload"] == {"$ref": f"schemas/{message.schema_file}"}
        assert json.loads((docs_gen.SCHEMAS / message.schema_file).read_text())
    else:
        assert rendered["payload"]["description"] == message.payload
    assert set(rendered.get("headers", {}).get("properties", {})) == set(message.headers)


def test_the_document_holds_no_message_the_registry_does_not_name():
    assert set(SPEC["components"]["messages"]) == set(registry.messages())


def test_a_message_shared_by_two_topics_is_one_and_the_same():
    by_name: dict[str, registry.Message] = {}
    for topic in registry.TOPICS:
        for message in topic.messages:
            assert by_name.setdefault(message.name, message) == message, message.name


def test_the_contracts_channels_and_operations_stay_as_they_were():
    public = [topic.channel for topic in registry.TOPICS if topic.public]
    assert public == ["requests", "responses", "partyResponses", "alerts", "partyAlerts", "deadLetters",
                      "cspEvents", "housekeepingRuns"]
    assert list(SPEC["operations"]) == [
        "receiveRequests", "sendResponses", "sendPartyResponses", "sendAlerts", "sendPartyAlerts",
        "sendDeadLetters", "receiveCspEvents", "receiveHousekeepingRuns"]
