"""Every Kafka topic of the platform in one place: where it is, what its key is, which messages
it carries and in which role (`shared.topics`: how the broker keeps it).

Topic creation reads it (`topic_roles`), and so do the AsyncAPI document and the operations guide
(`deploy/docs/`). A topic or message added anywhere else is a topic the docs do not know.
"""
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from shared import codes
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.feeds import CommsHubDelivered, ReturnReceived, RunRequest
from shared.messages import (CheckOverdue, DeviceEvent, EnrolSMETS1Device, HandleServiceRequest, HubsReturned,
                             RemoveDevice, ReturnHubs)
from shared.settings import Settings, Topics
from shared.topics import ROLES

JSON, XML, BYTES = "application/json", "application/xml", "application/octet-stream"


@dataclass(frozen=True)
class Message:
    """One kind of record on a topic. A JSON message has a pydantic model or a schema file the
    docs build by hand (the DUIS renderings); the others are described by `payload` in words."""
    name: str
    title: str
    content_type: str
    summary: str
    model: type[BaseModel] | None = None
    schema_file: str | None = None  # relative to docs/schemas
    payload: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # record header -> meaning


@dataclass(frozen=True)
class Topic:
    channel: str      # its id in the AsyncAPI document
    role: str         # its configs (shared.topics.ROLES)
    address: str      # a template over the Topics fields, `eui` and `housekeeping_app`
    key: str
    description: str
    messages: tuple[Message, ...]
    direction: Literal["in", "out", "internal"]  # seen from the platform
    setting: str | None = None  # the Topics field that names it

    @property
    def public(self) -> bool:
        return self.direction != "internal"

    def name(self, topics: Topics, housekeeping_app: str = "smi-housekeeping", eui: str = "{eui}") -> str:
        return self.address.format(**topics.model_dump(), eui=eui, housekeeping_app=housekeeping_app)


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
_SIGNED = ("a DUIS 5.4 XML Response, valid against the XSD and signed by the DCC (an enveloped ds:Signature, "
           "the root's last child)")
_RESPONSE = ("Exactly one per RequestID, in its request's format: Response {Header {RequestID, ResponseID, "
             "ResponseCode, ResponseDateTime}, Body {ResponseMessage {ServiceReference, ServiceReferenceVariant, "
             "DSPInventory (8.2) or CHFReturnResults (bulk 8.14.3/8.14.4)}}}; the reason is the record header "
             "response-reason")
_ALERT = ("Response {Header {ResponseCode I0, ResponseDateTime}, Body {DCCAlertMessage {DCCAlertCode "
          + ", ".join(codes.ALERTS) + ", DCCAlert}}}")


def _modelled(model: type[BaseModel], name: str, schema_file: str) -> Message:
    return Message(name, name, JSON, (model.__doc__ or name).strip(), model=model, schema_file=schema_file)


def _internal(model: type[BaseModel]) -> Message:
    return _modelled(model, model.__name__, f"internal/{model.__name__}.json")


REQUEST_XML = Message("ServiceRequestXml", "Service Request (XML)", XML,
                      "A DUIS Request: Header and one SR element in Body; optional ds:Signature",
                      payload="a DUIS XML document")
REQUEST_JSON = Message("ServiceRequestJson", "Service Request (JSON)", JSON,
                       "The JSON rendering of the same document", schema_file="request.json")
RESPONSE_XML = Message("ResponseXml", "Response (XML)", XML, _RESPONSE, payload=_SIGNED, headers=RESPONSE_HEADERS)
RESPONSE_JSON = Message("ResponseJson", "Response (JSON)", JSON, _RESPONSE, schema_file="response.json",
                        headers=RESPONSE_HEADERS)
ALERT_XML = Message("DCCAlertXml", "DCC Alert (XML)", XML, _ALERT, payload=_SIGNED, headers=ALERT_HEADERS)
ALERT_JSON = Message("DCCAlertJson", "DCC Alert (JSON)", JSON, _ALERT + "; for parties configured for JSON",
                     schema_file="alert.json", headers=ALERT_HEADERS)
DEAD_LETTER = Message("DeadLetter", "Dead letter", BYTES,
                      "Input too broken to answer; headers dlq-reason, dlq-service, dlq-source-topic, "
                      "dlq-source-partition, dlq-source-offset, dlq-source-timestamp",
                      payload="the original bytes, unchanged")
COMMS_HUB_DELIVERED = _modelled(CommsHubDelivered, "CommsHubDelivered", "csp/CommsHubDelivered.json")
RETURN_RECEIVED = _modelled(ReturnReceived, "ReturnReceived", "csp/ReturnReceived.json")
HOUSEKEEPING_RUN = _modelled(RunRequest, "HousekeepingRun", "housekeeping-run.json")

# The Body element of each Service Request served: what request.json's Body offers.
SERVICE_REQUEST_BODIES = tuple(
    Message(spec.element, f"SR {spec.variant} {spec.name} body", JSON,
            f"The Body element of SR {spec.variant} (JSON rendering)", model=spec.model,
            schema_file=f"duis/{spec.element}.json")
    for spec in SERVICE_REQUESTS.values())

TABLE_ENTRY = Message("PendingDeviceEntry", "Housekeeping table entry", BYTES,
                      "The last entry of a device in housekeeping's faust table; a tombstone once it left "
                      "Pending", payload="a partition byte, then TYPE|pending-since-microseconds|notifying-party"
                                         "|u or c|1 or 0 (services/housekeeping/entries.py)")
PARTITION_WORK = Message("PartitionWork", "Housekeeping partition work", JSON,
                         "A run, forecast or retention report for one table partition, with the policy it "
                         "applies", payload="a JSON object: kind, policy, and the kind's own fields")
FAUST_LEADER = Message("FaustLeader", "faust leader election", BYTES, "faust's own records",
                       payload="written and read by faust only")

TOPICS: tuple[Topic, ...] = (
    Topic("requests", "requests", "{requests}", "originator EUI (recommended)",
          "Service Requests in; header content-type says XML or JSON, else the first byte",
          (REQUEST_XML, REQUEST_JSON), "in", "requests"),
    Topic("responses", "responses", "{responses}", "originator EUI", "One response per RequestID",
          (RESPONSE_XML, RESPONSE_JSON), "out", "responses"),
    Topic("partyResponses", "party_answers", "{responses}.{eui}", "originator EUI",
          "Per-party responses (SMI_TOPIC_MODE=per-party)", (RESPONSE_XML, RESPONSE_JSON), "out"),
    Topic("alerts", "alerts", "{alerts}", "EUI of the party alerted", "DCC Alerts", (ALERT_XML, ALERT_JSON),
          "out", "alerts"),
    Topic("partyAlerts", "party_answers", "{alerts}.{eui}", "EUI of the party alerted",
          "Per-party DCC Alerts (SMI_TOPIC_MODE=per-party)", (ALERT_XML, ALERT_JSON), "out"),
    Topic("deadLetters", "dead_letters", "{dead_letters}", "the original key", "Records no service could answer",
          (DEAD_LETTER,), "out", "dead_letters"),
    Topic("cspEvents", "csp_events", "{csp_events}", "CHF Device ID",
          "The CSP feed; the record timestamp is the event time", (COMMS_HUB_DELIVERED, RETURN_RECEIVED),
          "in", "csp_events"),
    Topic("housekeepingRuns", "housekeeping_runs", "{housekeeping_runs}", "none",
          "Housekeeping runs, idempotent per as_of", (HOUSEKEEPING_RUN,), "in", "housekeeping_runs"),
    Topic("inventoryCommands", "inventory_commands", "{inventory_commands}",
          "Device ID, else MPxN, UPRN or RequestID; returns' ReturnHubs: RequestID",
          "Commands to inventory: routed Service Requests, housekeeping's removals, returns' withdrawals, "
          "SMETS1 enrolments", tuple(map(_internal, (HandleServiceRequest, RemoveDevice, ReturnHubs,
                                                     EnrolSMETS1Device))), "internal", "inventory_commands"),
    Topic("returnsCommands", "returns_commands", "{returns_commands}", "RequestID; overdue checks: `overdue-check`",
          "Bulk returns routed by intake, and overdue checks",
          (_internal(HandleServiceRequest), _internal(CheckOverdue)), "internal", "returns_commands"),
    Topic("deviceEvents", "device_events", "{device_events}", "Device ID",
          "Inventory's device events: every change to the SMI", (_internal(DeviceEvent),), "internal",
          "device_events"),
    Topic("inventoryReplies", "inventory_replies", "{inventory_replies}", "RequestID",
          "Inventory's answers to returns' ReturnHubs", (_internal(HubsReturned),), "internal",
          "inventory_replies"),
    Topic("tableChangelog", "table_changelog", "{housekeeping_app}-pending-devices-changelog", "Device ID",
          "The changelog housekeeping's faust table is restored from", (TABLE_ENTRY,), "internal"),
    Topic("partitionWork", "partition_work", "{housekeeping_app}-partition-work",
          "none (one record per partition)", "A run or forecast fanned out to every table partition",
          (PARTITION_WORK,), "internal"),
    Topic("faustLeader", "faust_leader", "{housekeeping_app}-__assignor-__leader", "none",
          "faust's leader election (the scheduled run starts on the leader)", (FAUST_LEADER,), "internal"),
)


def messages() -> dict[str, Message]:
    """Every message of every topic, and the Service Request bodies, by name."""
    found = {m.name: m for topic in TOPICS for m in topic.messages}
    return found | {m.name: m for m in SERVICE_REQUEST_BODIES}


def topic_roles(settings: Settings) -> dict[str, str]:
    """Each topic named by the settings, with its role: what preparation creates."""
    return {topic.name(settings.topics): topic.role for topic in TOPICS if topic.setting}


def _check() -> None:
    """A registry that contradicts itself fails at import, not in a deployment."""
    unknown = {topic.role for topic in TOPICS} - set(ROLES)
    if unknown:
        raise ValueError(f"registry topics with a role that has no configs: {sorted(unknown)}")
    channels = [topic.channel for topic in TOPICS]
    if len(channels) != len(set(channels)):
        raise ValueError(f"a channel id twice: {channels}")


_check()
