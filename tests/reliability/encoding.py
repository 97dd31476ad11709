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


def alert(value: bytes) -> tuple[str, str | None]:
    """(DCCAlertCode, DeviceID) of an alert, XML or JSON."""
    if value.lstrip().startswith(b"{"):
        document = orjson.loads(value)
        event = document.get("DCCAlert", {}).get("DeviceStatusChangeEvent", {})
        return document.get("DCCAlertCode", "?"), event.get("DeviceID")
    root = etree.fromstring(value)
    code = root.xpath("string(*[local-name()='DCCAlertCode'])")
    device = root.xpath("string(.//*[local-name()='DeviceStatusChangeEvent']/*[local-name()='DeviceID'])")
    return code, device or None
