"""The generators behind `python -m deploy.docs_gen`: JSON Schemas and the AsyncAPI document
from `shared.registry`, and the tables of docs/operations.md."""
