"""The JSON Schema of every JSON message of the registry (docs/schemas/): from its pydantic model,
or, for the DUIS documents, built here after the XSD (`duis_documents`)."""
import json

from pydantic import BaseModel

from deploy.docgen import duis_documents
from shared import registry
from shared.duis.models import MAX_BULK_IDS

DRAFT = duis_documents.DRAFT
BULK_LISTS = ("DeviceID", "OtherDeviceID")
# The schema files the registry names without a model.
BUILT = {"request.json": duis_documents.request_schema, "response.json": duis_documents.response_schema,
         "alert.json": duis_documents.alert_schema}


def modelled() -> dict[str, tuple[type[BaseModel], str]]:
    """Message name -> (model, schema file) of every registry message with a pydantic model."""
    return {m.name: (m.model, m.schema_file) for m in registry.messages().values() if m.model is not None}


def model_schema(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema()
    schema["$schema"] = DRAFT
    for name in BULK_LISTS:  # JSON takes one ID as a string or a list of 1 to 999
        if name in schema["properties"] and "array" in json.dumps(schema["properties"][name]):
            schema["properties"][name] = {"anyOf": [
                {"type": "string", "pattern": duis_documents.EUI_PATTERN},
                {"type": "array", "items": {"type": "string", "pattern": duis_documents.EUI_PATTERN},
                 "minItems": 1, "maxItems": MAX_BULK_IDS}]}
    return schema


def schemas() -> dict[str, dict]:
    """Schema file (relative to docs/schemas) -> schema."""
    found = {path: model_schema(model) for model, path in modelled().values()}
    for message in registry.messages().values():
        if message.model is None and message.schema_file:
            found[message.schema_file] = BUILT[message.schema_file]()
    return found
