"""docs/asyncapi.yaml, docs/schemas/ and the settings table of docs/operations.md agree with the
code: every public topic, every message name, every field and its required-ness."""
import json

import pytest
import yaml

from deploy import docs_gen
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.settings import Settings, Topics

SPEC = yaml.safe_load(docs_gen.ASYNCAPI.read_text())
PUBLIC_TOPICS = {"requests", "responses", "alerts", "dead_letters", "csp_events", "housekeeping_runs"}


def resolve(ref: str) -> dict:
    node = SPEC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_files_are_what_the_generator_writes():
    assert docs_gen.ASYNCAPI.read_text() == docs_gen.asyncapi_text(), "run `python -m deploy.docs_gen`"
    for path, schema in docs_gen.schemas().items():
        assert json.loads((docs_gen.SCHEMAS / path).read_text()) == schema, path
    written = {p.relative_to(docs_gen.SCHEMAS).as_posix() for p in docs_gen.SCHEMAS.rglob("*.json")}
    assert written == set(docs_gen.schemas())


def test_it_is_asyncapi_3_with_a_kafka_channel_for_every_public_topic():
    assert SPEC["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in SPEC["channels"].values()}
    topics = Topics().model_dump()
    assert {topics[name] for name in PUBLIC_TOPICS} <= addresses
    assert {f"{topics['responses']}.{{eui}}", f"{topics['alerts']}.{{eui}}"} <= addresses
    for channel in SPEC["channels"].values():
        assert channel["bindings"]["kafka"]["topic"] == channel["address"]
        for message in channel["messages"].values():
            assert resolve(message["$ref"])["name"]
    for operation in SPEC["operations"].values():
        assert operation["action"] in ("send", "receive")
        for message in operation["messages"]:
            assert resolve(message["$ref"])


@pytest.mark.parametrize("name", sorted(docs_gen.modelled()))
def test_each_modelled_message_names_its_model_fields_and_required_ness(name):
    model, path = docs_gen.modelled()[name]
    message = SPEC["components"]["messages"][name]
    assert message["name"] == name
    assert message["contentType"] == "application/json"
    assert message["payload"] == {"$ref": f"schemas/{path}"}
    schema = json.loads((docs_gen.SCHEMAS / path).read_text())
    assert set(schema["properties"]) == set(model.model_fields)
    required = {field_name for field_name, field in model.model_fields.items() if field.is_required()}
    assert set(schema.get("required", [])) == required


def test_the_csp_feed_and_the_runs_carry_exactly_their_contract_messages():
    channels = {c["address"]: set(c["messages"]) for c in SPEC["channels"].values()}
    assert channels["smi.csp-events"] == {"CommsHubDelivered", "ReturnReceived"}
    assert channels["smi.housekeeping-runs"] == {"HousekeepingRun"}
    delivered = json.loads((docs_gen.SCHEMAS / "csp/CommsHubDelivered.json").read_text())
    assert set(delivered["required"]) == {"type", "chf_id", "gpf_id", "csp_id", "ordering_party", "csp_region",
                                          "manufacturer", "model"}
    assert json.loads((docs_gen.SCHEMAS / "housekeeping-run.json").read_text())["required"] == ["as_of"]


def test_the_json_request_envelope_offers_every_served_service_request_body():
    request = json.loads((docs_gen.SCHEMAS / "request.json").read_text())
    bodies = {next(iter(option["properties"])) for option in request["properties"]["Body"]["oneOf"]}
    assert bodies == {spec.element for spec in SERVICE_REQUESTS.values()}
    assert request["properties"]["Header"]["properties"]["ServiceReferenceVariant"]["enum"] == sorted(SERVICE_REQUESTS)
    bulk = json.loads((docs_gen.SCHEMAS / "duis/CHFFaultReturn.json").read_text())
    [one, many] = bulk["properties"]["DeviceID"]["anyOf"]
    assert (one["type"], many["type"], many["maxItems"]) == ("string", "array", 999)


def test_the_operations_guide_lists_every_setting():
    text = (docs_gen.OPERATIONS).read_text()
    assert text == docs_gen.operations_text(text), "run `python -m deploy.docs_gen`"
    for name in Settings.model_fields:
        if name != "topics":
            assert f"`SMI_{name.upper()}`" in text, name
    for name in Topics.model_fields:
        assert f"`SMI_TOPICS__{name.upper()}`" in text, name
    for heading in ("## Configuration reference", "## Policy changes under change control", "## Scaling out",
                    "## Per-party topics and Kafka ACLs", "## Backup and restore of PostgreSQL"):
        assert heading in text
