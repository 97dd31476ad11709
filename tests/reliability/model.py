"""The reference model: what the platform must end with, computed from the workload's inputs.

It knows only the rules the workload exercises, written out plainly (not imported from the
services, so that a bug there cannot hide itself here).
"""
from dataclasses import dataclass, field
from datetime import datetime

from dateutil.relativedelta import relativedelta

from tests.reliability.workload import STRANGER, Step, Workload

HUB_TYPES = {"CHF", "GPF"}
# (cause, from, to) -> who may ask: RS responsible supplier, NP notifying party, OP ordering party.
MOVES = {
    ("8.4", "Pending", "InstalledNotCommissioned"): {"RS", "NP"},
    ("8.4", "InstalledNotCommissioned", "Pending"): {"RS"},
    ("8.4", "Decommissioned", "Pending"): {"RS"},
    ("8.3", "InstalledNotCommissioned", "Decommissioned"): {"RS"},
    ("8.3", "Commissioned", "Decommissioned"): {"RS"},
    ("8.14.1", "Pending", "Commissioned"): {"RS", "OP"},
    ("8.14.1", "InstalledNotCommissioned", "Commissioned"): {"RS", "OP"},
    ("8.14.2", "Pending", "InstalledNotCommissioned"): {"RS", "OP"},
    ("return", "Pending", "Withdrawn"): {"RS", "OP"},
    ("return", "InstalledNotCommissioned", "Withdrawn"): {"RS", "OP"},
    ("return", "Commissioned", "Withdrawn"): {"RS", "OP"},
    ("delete", "Pending", None): {"RS", "NP"},
}


@dataclass
class Device:
    type: str
    status: str
    since: datetime
    notifying: str
    responsible: str | None = None
    ordering: str | None = None
    linked: str | None = None

    def relations(self, party: str) -> set[str]:
        return {name for name, who in (("RS", self.responsible), ("NP", self.notifying),
                                       ("OP", self.ordering)) if who == party}


@dataclass
class Expected:
    codes: dict[str, str] = field(default_factory=dict)        # RequestID -> response code
    sends: dict[str, int] = field(default_factory=dict)        # RequestID -> records sent
    smi: dict[str, str] = field(default_factory=dict)          # Device ID -> SMI Status
    records: dict[str, str] = field(default_factory=dict)      # hub -> Returns Remedy Record status
    n8: dict[str, str] = field(default_factory=dict)           # Device ID -> alerted party
    dead_letters: list[bytes] = field(default_factory=list)    # original bytes, once each


def request_id(step: Step) -> str:
    return f"{step.data['party']}:90-B3-D5-1F-30-00-00-02:{step.data['counter']}"


def expect(workload: Workload) -> Expected:
    model = _Model()
    for step in workload.steps():
        model.apply(step)
    out = model.out
    out.smi = {d: dev.status for d, dev in model.devices.items()}
    return out


class _Model:
    def __init__(self) -> None:
        self.devices: dict[str, Device] = {}
        self.out = Expected()
        self.runs: set[datetime] = set()

    def apply(self, step: Step) -> None:
        if step.kind == "sr":
            rid = request_id(step)
            self.out.sends[rid] = self.out.sends.get(rid, 0) + 1
            if not step.data.get("replay"):
                self.out.codes[rid] = self.request(step)
        elif step.kind == "delivered":
            d = step.data
            self.devices[d["chf_id"]] = Device("CHF", "Pending", step.at, d["csp_id"],
                                               ordering=d["ordering_party"], linked=d["gpf_id"])
            self.devices[d["gpf_id"]] = Device("GPF", "Pending", step.at, d["csp_id"],
                                               ordering=d["ordering_party"])
        elif step.kind == "received":
            hub = step.data["device_id"]
            if self.out.records.get(hub) == "open":
                self.out.records[hub] = "closed"
            else:
                self.out.dead_letters.append(_bytes(step))
        elif step.kind == "run":
            self.housekeep(datetime.fromisoformat(step.data["as_of"].replace("Z", "+00:00")))
        elif step.kind == "junk":
            self.out.dead_letters.append(step.data["value"])

    def request(self, step: Step) -> str:
        party, variant, body = step.data["party"], step.data["variant"], step.data["body"]
        if party == STRANGER:
            return "E20"
        if variant == "12.2":
            if body["DeviceID"] in self.devices:
                return "E120201"
            self.devices[body["DeviceID"]] = Device(body["DeviceType"], "Pending", step.at, party, party)
            return "I0"
        if variant in ("8.14.3", "8.14.4"):
            hubs = body["DeviceID"] if isinstance(body["DeviceID"], list) else [body["DeviceID"]]
            codes = [self.return_hub(hub, party, step.at) for hub in hubs]
            if len(codes) == 1:  # a single hub's return is pure DUIS 5.4: answered with its own code
                return codes[0]
            return "I0" if set(codes) == {"I0"} else ("E54" if "I0" not in codes else "W081401")
        device = self.devices.get(body["DeviceID"])
        if device is None:
            return "E30"
        if variant == "8.2":
            return "I0"
        if "DeleteDevice" in body:
            code = self.move("delete", device, party, None)
            if code == "I0":
                del self.devices[body["DeviceID"]]
            return code
        if variant == "8.4":
            target = body["UpdateDeviceStatusExceptCH"]
        else:
            target = {"8.3": "Decommissioned", "8.14.1": "Commissioned",
                      "8.14.2": "InstalledNotCommissioned"}[variant]
        moving = [device] + ([self.devices[device.linked]] if variant.startswith("8.14") else [])
        code = self.move(variant, device, party, target)
        if code == "I0":
            for d in moving:
                d.status, d.since = target, step.at
                if variant.startswith("8.14"):
                    d.responsible = party
        return code

    def move(self, cause: str, device: Device, party: str, target: str | None) -> str:
        allowed = MOVES.get((cause, device.status, target))
        if allowed is None:
            return "E31"
        return "I0" if allowed & device.relations(party) else "E51"

    def return_hub(self, hub: str, party: str, at: datetime) -> str:
        device = self.devices.get(hub)
        if device is None:
            return "E081401"
        code = {"E31": "E55", "E51": "E51"}.get(self.move("return", device, party, "Withdrawn"), "I0")
        if code == "I0":
            for d in (device, self.devices[device.linked]):
                d.status, d.since = "Withdrawn", at
            self.out.records[hub] = "open"
        return code

    def housekeep(self, as_of: datetime) -> None:
        if as_of in self.runs:
            return
        self.runs.add(as_of)
        for device_id, device in list(self.devices.items()):
            if device.type not in HUB_TYPES and device.status == "Pending" \
                    and device.since + relativedelta(months=12) <= as_of:
                del self.devices[device_id]
                self.out.n8[device_id] = device.notifying


def _bytes(step: Step) -> bytes:
    from tests.reliability.encoding import encode
    return encode(step).value
