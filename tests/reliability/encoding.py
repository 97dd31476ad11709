"""Steps of the workload as Kafka records, and the platform's records read back."""
import re
from dataclasses import dataclass

import orjson
from lxml import etree

from shared.duis import build
from tests.reliability.workload import Step

TOPIC_OF_KIND = {"sr": "requests", "delivered": "csp_events", "received": "csp_events",
                 "run": "housekeeping_runs"}


@dataclass(frozen=True)
class Record:
    topic: str  # the attribute of Settings.topics
    key: bytes
    value: bytes
    headers: dict[str, str]
    timestamp_ms: int


def encode(step: Step) -> Record:
    at = int(step.at.timestamp() * 1000)
    if step.kind == "junk":
        return Record(step.data["topic"], step.key.encode(), step.data["value"], {}, at)
    if step.kind == "sr":
        d = step.data
        value = build.request(d["party"], d["counter"], d["variant"], d["body"], d["fmt"])
        return Record("requests", step.key.encode(), value,
                      {"content-type": f"application/{d['fmt']}"}, at)
    return Record(TOPIC_OF_KIND[step.kind], step.key.encode(), orjson.dumps(step.data), {}, at)


def header(record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()
    return None


def response_code(value: bytes) -> str:
    if value.lstrip().startswith(b"{"):
        return orjson.loads(value)["Header"]["ResponseCode"]
    found = re.search(rb"<(?:\w+:)?ResponseCode>([^<]+)<", value)
    return found.group(1).decode() if found else "?"


# Where each DCCAlert payload names its device: N8's DeviceStatusChangeEvent, the overdue
# return's CommsHubAlert.
ALERT_DEVICE_FIELDS = (("DeviceStatusChangeEvent", "DeviceID"), ("CommsHubAlert", "CommsHubDeviceID"))


def alert(value: bytes) -> tuple[str, str | None]:
    """(DCCAlertCode, device) of an alert, XML or JSON: a DUIS `Response` whose Body is
    DCCAlertMessage {DCCAlertCode, DCCAlert}."""
    if value.lstrip().startswith(b"{"):
        message = orjson.loads(value).get("Body", {}).get("DCCAlertMessage", {})
        payload = message.get("DCCAlert", {})
        devices = [payload.get(event, {}).get(field) for event, field in ALERT_DEVICE_FIELDS]
        return message.get("DCCAlertCode", "?"), next((d for d in devices if d), None)
    root = etree.fromstring(value)
    message = "*[local-name()='Body']/*[local-name()='DCCAlertMessage']"
    code = root.xpath(f"string({message}/*[local-name()='DCCAlertCode'])")
    devices = [root.xpath(f"string({message}/*[local-name()='DCCAlert']/*[local-name()='{event}']"
                          f"/*[local-name()='{field}'])") for event, field in ALERT_DEVICE_FIELDS]
    return code or "?", next((d for d in devices if d), None)
