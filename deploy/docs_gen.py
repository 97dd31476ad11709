"""Regenerates the public interface's machine-readable docs from the code: JSON Schemas of the
JSON messages (docs/schemas/), the AsyncAPI 3.0 document (docs/asyncapi.yaml) and the settings
table in docs/operations.md. Run `python -m deploy.docs_gen`; unit tests fail when they drift."""
import json
import re
from typing import Any

import yaml
from pydantic import BaseModel

from services.housekeeping.config import HousekeepingSettings, app_id
from services.inventory.domain import MAX_DEVICES_PER_ANSWER
from shared import codes, topics
from shared.duis import codec, enums
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.duis.models import MAX_BULK_IDS
from shared.feeds import CommsHubDelivered, ReturnReceived, RunRequest
from shared.settings import REPO_ROOT, Settings, Topics

DOCS = REPO_ROOT / "docs"
SCHEMAS = DOCS / "schemas"
ASYNCAPI = DOCS / "asyncapi.yaml"
OPERATIONS = DOCS / "operations.md"
EUI_PATTERN = "^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){7}$"

# The JSON messages with a pydantic model: AsyncAPI message name -> (model, schema file).
MODELLED: dict[str, tuple[type[BaseModel], str]] = {
    **{spec.element: (spec.model, f"duis/{spec.element}.json") for spec in SERVICE_REQUESTS.values()},
    "CommsHubDelivered": (CommsHubDelivered, "csp/CommsHubDelivered.json"),
    "ReturnReceived": (ReturnReceived, "csp/ReturnReceived.json"),
    "HousekeepingRun": (RunRequest, "housekeeping-run.json"),
}
BULK_LISTS = ("DeviceID", "OtherDeviceID")


def model_schema(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    for name in BULK_LISTS:  # JSON takes one ID as a string or a list of 1 to 999
        if name in schema["properties"] and "array" in json.dumps(schema["properties"][name]):
            schema["properties"][name] = {"anyOf": [
                {"type": "string", "pattern": EUI_PATTERN},
                {"type": "array", "items": {"type": "string", "pattern": EUI_PATTERN},
                 "minItems": 1, "maxItems": MAX_BULK_IDS}]}
    return schema


def _header(required: list[str], fields: dict[str, Any]) -> dict:
    return {"type": "object", "required": required, "properties": fields}


def request_schema() -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Request (JSON rendering)",
        "type": "object", "required": ["Header", "Body"],
        "properties": {
            "Header": _header(["RequestID", "CommandVariant", "ServiceReference", "ServiceReferenceVariant"], {
                "RequestID": {"type": "string", "description": "originator EUI:target EUI:counter"},
                "FirstInSequence": {"type": "boolean", "description": "accepted, not acted on"},
                "PrecedingServiceRequestID": {"type": "string", "description": "a RequestID; accepted, not acted on"},
                "CommandVariant": {"type": "integer"},
                "ServiceReference": {"type": "string"},
                "ServiceReferenceVariant": {"enum": sorted(SERVICE_REQUESTS)}}),
            "Body": {"oneOf": [
                {"type": "object", "required": [spec.element], "additionalProperties": False,
                 "properties": {spec.element: {"$ref": f"duis/{spec.element}.json"}}}
                for spec in SERVICE_REQUESTS.values()]},
        },
    }


# Every response and alert is a DUIS `Response`; the reason of a response is not in the document.
RESPONSE_HEADERS = {
    "content-type": "the message's contentType: the format of its request",
    "request-id": "the request's RequestID as received (also when the document leaves out one the XSD "
                  "would not take)",
    "response-code": "the Header's ResponseCode",
    "response-reason": "the human-readable reason (DUIS 5.4 has no place for it in the document)",
}
ALERT_HEADERS = {
    "content-type": "the message's contentType: the alert format the party is configured for",
    "alert-code": "the DCCAlertCode",
    "request-id": f"{codes.RETURN_OVERDUE} only: the RequestID of the return the hub was returned by",
    "returns-remedy-record": f"{codes.RETURN_OVERDUE} only: the hub's Returns Remedy Record reference",
}
_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
_DATE_TIME = {"type": "string", "format": "date-time"}
_EUI = {"type": "string", "pattern": EUI_PATTERN}


def _object(required: list[str], fields: dict[str, Any], description: str | None = None) -> dict:
    """A JSON object whose keys are a DUIS element's children: no others (as the XSD says)."""
    found = {"type": "object", "required": required, "properties": fields, "additionalProperties": False}
    return {"description": description, **found} if description else found


def _record_headers(names: dict[str, str]) -> dict:
    return {"type": "object", "properties": {name: {"type": "string", "description": meaning}
                                             for name, meaning in names.items()}}


def _device_schema() -> dict:
    """DUIS 5.4's `Device` as 8.2 answers it, in the XSD's order."""
    return _object(["DeviceID", "DeviceType", "DeviceManufacturer", "DeviceModel"], {
        "DeviceID": _EUI,
        "DeviceType": {"enum": list(enums.values(enums.DeviceType))},
        "DeviceStatus": {"enum": list(enums.values(enums.SMIStatus)),
                         "description": "the SMI Status; absent for Type 2 devices (IHD, CAD)"},
        "DeviceManufacturer": {"type": "string"},
        "DeviceModel": {"type": "string"},
        "SMETSCHTSVersion": {"type": "string"},
        "DeviceFirmwareVersion": {"type": "string"},
        "DateCommissioned": {"type": "string", "format": "date"},
        "ImportMPxN": {"type": "string", "description": "the meter point the device is at"},
        "ESMEVariant": {"type": "string"},
        "CSPRegion": {"enum": list(enums.values(enums.CSPRegion))},
        "S1SP": {"type": "string", "description": "SMETS1 devices only: their SMETS1 Service Provider"},
    })


def _hub_result_schema() -> dict:
    return _object(["DeviceID", "ResponseCode"], {
        "DeviceID": _EUI,
        "ResponseCode": {"enum": list(codes.CODES), "description": "this hub's own code"},
        "ReturnsRemedyRecordReference": {"type": "string", "description": "accepted hubs only"},
        "ReturnDueDate": {"type": "string", "format": "date", "description": "accepted hubs only"},
    })


def response_schema() -> dict:
    return {
        "$schema": _SCHEMA, "title": "Response (JSON rendering)",
        "description": "A DUIS 5.4 Response, element names as keys. The human-readable reason is not part "
                       "of the document: it is the record header response-reason (record headers: "
                       + ", ".join(RESPONSE_HEADERS) + ").",
        "type": "object", "required": ["schemaVersion", "Header", "Body"], "additionalProperties": False,
        "properties": {
            "schemaVersion": {"type": "string", "description": "the request's schemaVersion where it is a "
                                                               f"decimal, else {codec.SCHEMA_VERSION}"},
            "Header": _object(["ResponseCode", "ResponseDateTime"], {
                "RequestID": {"type": "string", "description": "left out where the request's RequestID is not "
                                                               "one the XSD takes (the record header request-id "
                                                               "still carries it)"},
                "ResponseID": {"type": "string", "description": "DCC EUI:originator EUI:the request's counter"},
                "ResponseCode": {"enum": list(codes.CODES), "description": "I0 success, W accepted in part, "
                                                                          "E rejected: docs/response-codes.md"},
                "ResponseDateTime": _DATE_TIME}),
            "Body": _object(["ResponseMessage"], {"ResponseMessage": _object(
                ["ServiceReference", "ServiceReferenceVariant"], {
                    "ServiceReference": {"type": "string", "examples": ["8.2", "8.14"]},
                    "ServiceReferenceVariant": {"type": "string", "description": "the request's (8.2 where it "
                                                                                 "named no DUIS 5.4 variant)"},
                    "DSPInventory": _object(["Device"], {"Device": {
                        "type": "array", "items": {"$ref": "#/$defs/Device"},
                        "minItems": 1, "maxItems": MAX_DEVICES_PER_ANSWER}},
                        "SR 8.2 Read Inventory: the devices found"),
                    "CHFReturnResults": _object(["HubResult"], {"HubResult": {
                        "type": "array", "items": {"$ref": "#/$defs/HubResult"},
                        "minItems": 2, "maxItems": MAX_BULK_IDS}},
                        "SR 8.14.3 / 8.14.4 of 2 to 999 hubs (the MP117 amendment): each hub's outcome. "
                        "A single-hub return is answered in pure DUIS 5.4: the Header's code is the hub's "
                        "own, and there is no payload"),
                },
                "ServiceReference and its variant, then the SR's payload where it has one")}),
        },
        "$defs": {"Device": _device_schema(), "HubResult": _hub_result_schema()},
    }


def alert_schema() -> dict:
    meanings = "; ".join(f"{code}: {alert.meaning}" for code, alert in codes.ALERTS.items())
    return {
        "$schema": _SCHEMA, "title": "DCC Alert (JSON rendering)",
        "description": "A DUIS 5.4 Response whose Body is DCCAlertMessage, element names as keys (record "
                       "headers: " + ", ".join(ALERT_HEADERS) + ").",
        "type": "object", "required": ["schemaVersion", "Header", "Body"], "additionalProperties": False,
        "properties": {
            "schemaVersion": {"const": codec.SCHEMA_VERSION},
            "Header": _object(["ResponseCode", "ResponseDateTime"], {
                "ResponseCode": {"const": "I0"}, "ResponseDateTime": _DATE_TIME},
                "An alert answers no request: no RequestID nor ResponseID"),
            "Body": _object(["DCCAlertMessage"], {"DCCAlertMessage": _object(["DCCAlertCode", "DCCAlert"], {
                "DCCAlertCode": {"enum": list(codes.ALERTS), "description": meanings},
                "DCCAlert": {"oneOf": [
                    _object(["DeviceStatusChangeEvent"], {"DeviceStatusChangeEvent": _object(
                        ["DeviceID", "DeviceStatusChange"], {
                            "DeviceID": _EUI,
                            "DeviceStatusChange": _object(["DeviceRemovedFromInventory"], {
                                "DeviceRemovedFromInventory": {"type": "object", "maxProperties": 0}})})},
                        f"{codes.DEVICE_REMOVED}: the device housekeeping removed from the SMI"),
                    _object(["CommsHubAlert"], {"CommsHubAlert": _object(
                        ["CommsHubDeviceID", "AlertCode"], {
                            "CommsHubDeviceID": _EUI,
                            "AlertCode": {"const": codes.RETURN_OVERDUE_ALERT_CODE},
                            "TimeStamp": {**_DATE_TIME, "description": "the date the return was due by"}})},
                        f"{codes.RETURN_OVERDUE}: a returned hub not received by its due date"),
                ]},
            })}),
        },
    }


def schemas() -> dict[str, dict]:
    """Schema file (relative to docs/schemas) -> schema."""
    found = {path: model_schema(model) for model, path in MODELLED.values()}
    found.update({"request.json": request_schema(), "response.json": response_schema(), "alert.json": alert_schema()})
    return found


def _message(name: str, title: str, content_type: str, payload: Any, summary: str,
             headers: dict | None = None) -> dict:
    found = {"name": name, "title": title, "summary": summary, "contentType": content_type}
    return {**found, **({"headers": headers} if headers else {}), "payload": payload}


def _schema_ref(path: str) -> dict:
    return {"$ref": f"schemas/{path}"}


def asyncapi() -> dict:
    topics = Topics()
    xml = {"type": "string", "description": "a DUIS XML document"}
    signed = {"type": "string", "description": "a DUIS 5.4 XML Response, valid against the XSD and signed by the "
                                               "DCC (an enveloped ds:Signature, the root's last child)"}
    response_summary = ("Exactly one per RequestID, in its request's format: Response {Header {RequestID, "
                        "ResponseID, ResponseCode, ResponseDateTime}, Body {ResponseMessage {ServiceReference, "
                        "ServiceReferenceVariant, DSPInventory (8.2) or CHFReturnResults (bulk 8.14.3/8.14.4)}}}; "
                        "the reason is the record header response-reason")
    alert_summary = ("Response {Header {ResponseCode I0, ResponseDateTime}, Body {DCCAlertMessage {DCCAlertCode "
                     + ", ".join(codes.ALERTS) + ", DCCAlert}}}")
    messages = {
        "ServiceRequestXml": _message("ServiceRequestXml", "Service Request (XML)", "application/xml", xml,
                                      "A DUIS Request: Header and one SR element in Body; optional ds:Signature"),
        "ServiceRequestJson": _message("ServiceRequestJson", "Service Request (JSON)", "application/json",
                                       _schema_ref("request.json"), "The JSON rendering of the same document"),
        "ResponseXml": _message("ResponseXml", "Response (XML)", "application/xml", signed,
                                response_summary, _record_headers(RESPONSE_HEADERS)),
        "ResponseJson": _message("ResponseJson", "Response (JSON)", "application/json",
                                 _schema_ref("response.json"), response_summary, _record_headers(RESPONSE_HEADERS)),
        "DCCAlertXml": _message("DCCAlertXml", "DCC Alert (XML)", "application/xml", signed, alert_summary,
                                _record_headers(ALERT_HEADERS)),
        "DCCAlertJson": _message("DCCAlertJson", "DCC Alert (JSON)", "application/json", _schema_ref("alert.json"),
                                 alert_summary + "; for parties configured for JSON", _record_headers(ALERT_HEADERS)),
        "DeadLetter": _message("DeadLetter", "Dead letter", "application/octet-stream",
                               {"type": "string", "description": "the original bytes, unchanged"},
                               "Input too broken to answer; headers dlq-reason, dlq-service, dlq-source-topic, "
                               "dlq-source-partition, dlq-source-offset, dlq-source-timestamp"),
    }
    for name in ("CommsHubDelivered", "ReturnReceived", "HousekeepingRun"):
        model, path = MODELLED[name]
        messages[name] = _message(name, name, "application/json", _schema_ref(path), (model.__doc__ or name).strip())
    for spec in SERVICE_REQUESTS.values():
        messages[spec.element] = _message(spec.element, f"SR {spec.variant} {spec.name} body", "application/json",
                                          _schema_ref(f"duis/{spec.element}.json"),
                                          f"The Body element of SR {spec.variant} (JSON rendering)")

    def channel(address: str, names: list[str], description: str, key: str, **extra) -> dict:
        return {"address": address, "description": description,
                "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
                "bindings": {"kafka": {"topic": address, "bindingVersion": "0.5.0"}},
                "x-key": key, **extra}

    party = {"parameters": {"eui": {"description": "the party's EUI-64, upper case, e.g. 90-B3-D5-1F-30-01-00-00"}}}
    channels = {
        "requests": channel(topics.requests, ["ServiceRequestXml", "ServiceRequestJson"],
                            "Service Requests in; header content-type says XML or JSON, else the first byte",
                            "originator EUI (recommended)"),
        "responses": channel(topics.responses, ["ResponseXml", "ResponseJson"], "One response per RequestID",
                             "originator EUI"),
        "partyResponses": channel(f"{topics.responses}.{{eui}}", ["ResponseXml", "ResponseJson"],
                                  "Per-party responses (SMI_TOPIC_MODE=per-party)", "originator EUI", **party),
        "alerts": channel(topics.alerts, ["DCCAlertXml", "DCCAlertJson"], "DCC Alerts", "EUI of the party alerted"),
        "partyAlerts": channel(f"{topics.alerts}.{{eui}}", ["DCCAlertXml", "DCCAlertJson"],
                               "Per-party DCC Alerts (SMI_TOPIC_MODE=per-party)", "EUI of the party alerted", **party),
        "deadLetters": channel(topics.dead_letters, ["DeadLetter"], "Records no service could answer",
                               "the original key"),
        "cspEvents": channel(topics.csp_events, ["CommsHubDelivered", "ReturnReceived"],
                             "The CSP feed; the record timestamp is the event time", "CHF Device ID"),
        "housekeepingRuns": channel(topics.housekeeping_runs, ["HousekeepingRun"],
                                    "Housekeeping runs, idempotent per as_of", "none"),
    }
    operations = {}
    for name, action in [("requests", "receive"), ("responses", "send"), ("partyResponses", "send"),
                         ("alerts", "send"), ("partyAlerts", "send"), ("deadLetters", "send"),
                         ("cspEvents", "receive"), ("housekeepingRuns", "receive")]:
        operations[f"{action}{name[0].upper()}{name[1:]}"] = {
            "action": action, "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{m}"} for m in channels[name]["messages"]]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "SMI platform public topics", "version": "1.0.0",
                 "description": "Smart Metering Inventory, housekeeping and Comms Hub returns: what DCC Users, "
                                "CSPs and operators put on Kafka and what they get back. Generated by "
                                "`python -m deploy.docs_gen`; topic names are defaults (SMI_TOPICS__*)."},
        "defaultContentType": "application/xml",
        "servers": {"local": {"host": "localhost:29092", "protocol": "kafka",
                              "description": "make up / docker compose"}},
        "channels": channels, "operations": operations,
        "components": {"messages": {n: {k: v for k, v in m.items()} for n, m in messages.items()}},
    }


def asyncapi_text() -> str:
    return "# Generated by `python -m deploy.docs_gen`: edit the generator, not this file.\n" + \
        yaml.safe_dump(asyncapi(), sort_keys=False, width=110, allow_unicode=True)


# --- the settings table of docs/operations.md ---

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
    "signature_mode": "`off` (development) or `required` (production: unsigned or bad signature rejected)",
    "dcc_signing_key": "the DCC's XML signing key (ECDSA P-256, PKCS#8 in PEM or DER): every XML response and "
                       "alert is signed with it. The default is public test material: set your own in production",
    "dcc_signing_certificate": "the certificate of that key; its issuer and serial number are named in each "
                               "signature's KeyInfo",
    "topic_mode": "`shared` topics, or `per-party` responses and alerts (smi.responses.<EUI>, smi.alerts.<EUI>)",
    "parties_file": "the party registry loaded at preparation",
    "party_cache_seconds": "how long a service trusts its cached copy of the registry",
    "batch_max_records": "records per consumer batch (one database and one Kafka transaction)",
    "fetch_max_wait_ms": "broker-side wait for a fetch",
    "retry_backoff_ms": "transactional producer's wait before a retry; the broker answers \"concurrent "
                        "transactions\" while the previous commit's markers are written, so back-to-back "
                        "commits pay it",
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
    "housekeeping.table_store": "the table's store: `memory://`, or `rocksdb://` to keep it on disk in the data dir across restarts",
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


# --- the topics table of docs/operations.md: configs from shared.topics, the words here ---

HOUSEKEEPING_APP = app_id(Settings())
TOPIC_DOCS: dict[str, tuple[str, str, str]] = {  # role -> (topic, key, why)
    "requests": ("smi.requests", "originator EUI (recommended)",
                 "Service Requests. The record timestamp is the request's event time and a DCC User may "
                 "date it in the past: time retention would delete an acknowledged request unread"),
    "csp_events": ("smi.csp-events", "CHF Device ID",
                   "the CSP feed; its timestamp is the delivery's event time, set by the CSP"),
    "housekeeping_runs": ("smi.housekeeping-runs", "none",
                          "operators' and the schedule's runs; a run not read is a run not made"),
    "responses": ("smi.responses", "originator EUI",
                  "exactly one response per RequestID: the only answer a DCC User gets"),
    "alerts": ("smi.alerts", "EUI of the party alerted", "N8 and overdue-return alerts, sent once"),
    "party_answers": ("smi.responses.<EUI>, smi.alerts.<EUI>", "as above",
                      "the same, per party (`SMI_TOPIC_MODE=per-party`)"),
    "dead_letters": ("smi.dead-letters", "the original key",
                     "input that could not be answered, kept for an operator to examine"),
    "inventory_commands": ("smi.internal.inventory-commands", "Device ID, else MPxN, UPRN or RequestID; returns' ReturnHubs: RequestID",
                           "commands to inventory; each carries its request's event time in the body"),
    "returns_commands": ("smi.internal.returns-commands", "RequestID; overdue checks: `overdue-check`",
                         "bulk returns and overdue checks for returns"),
    "device_events": ("smi.internal.device-events", "Device ID",
                      "inventory's device events: housekeeping's table and alert relay are built from them"),
    "inventory_replies": ("smi.internal.inventory-replies", "RequestID",
                          "inventory's answers to returns; a lost one leaves a bulk return unanswered"),
    "table_changelog": (f"{HOUSEKEEPING_APP}-pending-devices-changelog", "Device ID",
                        "housekeeping's faust table is restored from it: compacted, the last entry per "
                        "device stays"),
    "partition_work": (f"{HOUSEKEEPING_APP}-partition-work", "none (one record per partition)",
                       "a run or forecast fanned out to every table partition"),
    "faust_leader": (f"{HOUSEKEEPING_APP}-__assignor-__leader", "none",
                     "faust's leader election (the scheduled run starts on the leader)"),
}


def topics_table() -> str:
    settings = Settings()
    lines = ["| topic | key | cleanup.policy | retention.ms, retention.bytes | message.timestamp.type | why |",
             "|---|---|---|---|---|---|"]
    for role, spec in topics.ROLES.items():
        name, key, why = TOPIC_DOCS[role]
        configs = topics.configs(role, settings)
        stamp = f"`{configs['message.timestamp.type']}`"
        if spec.external:
            stamp += " (`SMI_INPUT_TIMESTAMP_TYPE`; production: `LogAppendTime`)"
        lines.append(f"| `{name}` | {key} | `{configs['cleanup.policy']}` | "
                     f"`{configs['retention.ms']}`, `{configs['retention.bytes']}` | {stamp} | {why} |")
    return "\n".join(lines)


TOPICS_START = "<!-- topics table: generated by python -m deploy.docs_gen -->"
TOPICS_END = "<!-- end of topics table -->"


def _replace(text: str, start: str, end: str, body: str) -> str:
    block = f"{start}\n{body}\n{end}"
    return re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)


def operations_text(current: str) -> str:
    current = _replace(current, START, END, settings_table())
    return _replace(current, TOPICS_START, TOPICS_END, topics_table())


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
