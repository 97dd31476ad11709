"""Regenerates the public interface's machine-readable docs from the code: JSON Schemas of the
JSON messages (docs/schemas/), the AsyncAPI 3.0 document (docs/asyncapi.yaml) and the settings
and topics tables in docs/operations.md, all from `shared.registry` and the settings classes.
Run `python -m deploy.docs_gen`; unit tests fail when they drift."""
import json

from deploy.docgen import settings_table, topics_table
from deploy.docgen.asyncapi import asyncapi, asyncapi_text
from deploy.docgen.json_schemas import modelled, schemas
from shared.settings import REPO_ROOT

DOCS = REPO_ROOT / "docs"
SCHEMAS = DOCS / "schemas"
ASYNCAPI = DOCS / "asyncapi.yaml"
OPERATIONS = DOCS / "operations.md"
__all__ = ["asyncapi", "asyncapi_text", "modelled", "operations_text", "schemas", "write"]


def operations_text(current: str) -> str:
    current = topics_table.replace_block(current, settings_table.START, settings_table.END,
                                         settings_table.settings_table())
    return topics_table.replace_block(current, topics_table.TOPICS_START, topics_table.TOPICS_END,
                                      topics_table.topics_table())


def write() -> None:
    for path, schema in schemas().items():
        target = SCHEMAS / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(schema, indent=2) + "\n")
    ASYNCAPI.write_text(asyncapi_text())
    if OPERATIONS.exists():
        OPERATIONS.write_text(operations_text(OPERATIONS.read_text()))


if __name__ == "__main__":
    write()
