"""A synthetic but realistic SMI, as the records that build it on the real topics.

Comms Hubs delivered by the three CSPs to three suppliers, some installed since; meters
pre-notified by those suppliers, some installed, some installed then decommissioned and
returned to Pending (the devices `previously-active-only` would remove); SMETS1 devices
enrolled with their S1SP. Ages spread over 0 to 48 months, by record timestamp (event time).
"""
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from shared.duis import build
from shared.duis.build import device_id

SUPPLIERS = ["90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-01-00-01", "90-B3-D5-1F-30-01-00-02"]
CSPS = {"90-B3-D5-1F-30-00-00-C1": "North", "90-B3-D5-1F-30-00-00-C2": "Central",
        "90-B3-D5-1F-30-00-00-C3": "South"}
S1SPS = ["S1SP Alpha", "S1SP Beta"]
METER_TYPES = ["ESME"] * 5 + ["GSME"] * 4 + ["PPMID", "HCALCS"]


def chf(n: int) -> str:
    return device_id(n, "00-DC")


def gpf(n: int) -> str:
    return device_id(n, "00-DD")


def meter(n: int) -> str:
    return device_id(n, "00-DB")


def smets1(n: int) -> str:
    return device_id(n, "00-D1")


@dataclass
class Record:
    topic: str  # "requests", "csp", or "inventory" (the internal command topic)
    key: bytes
    value: bytes
    timestamp: datetime
    request_id: str | None = None
    content_type: str = "application/json"
    events: int = 1  # device events inventory emits when it applies this record


@dataclass
class Phase:
    name: str
    records: list[Record] = field(default_factory=list)


@dataclass
class Dataset:
    phases: list[Phase]
    devices: int
    hubs_by_party: dict[str, list[str]]  # pending hubs per ordering supplier, youngest first
    smets1_example: str
    counter: int = 0
    first: int = 0


class _Requests:
    def __init__(self, counter: int) -> None:
        self.counter = counter

    def make(self, party: str, variant: str, body: dict, at: datetime, events: int = 1) -> Record:
        self.counter += 1
        fmt = "xml" if self.counter % 3 else "json"
        raw = build.request(party, self.counter, variant, body, fmt)
        return Record("requests", party.encode(), raw, at, build.request_id(party, self.counter),
                      f"application/{fmt}", events)


def _age(rng: random.Random, now: datetime, months: float = 48) -> datetime:
    return now - timedelta(days=rng.uniform(0, months * 30.44))


def generate(now: datetime, first: int, counter: int, hubs: int = 60_000, meters: int = 70_000,
             enrolled: int = 10_000, seed: int = 2026) -> Dataset:
    """Device numbers start at `first` and RequestID counters after `counter`, so that a second
    demonstration on the same stack adds devices of its own."""
    rng, requests = random.Random(seed), _Requests(counter)
    add, change, decommission, back = (Phase("devices added"), Phase("installations"),
                                       Phase("decommissions"), Phase("returns to Pending"))
    pending_hubs: dict[str, list[tuple[datetime, str]]] = {p: [] for p in SUPPLIERS}
    for n in range(first, first + hubs):
        csp, party, delivered = rng.choice(list(CSPS)), rng.choice(SUPPLIERS), _age(rng, now)
        event = {"type": "CommsHubDelivered", "chf_id": chf(n), "gpf_id": gpf(n), "csp_id": csp,
                 "ordering_party": party, "csp_region": CSPS[csp], "manufacturer": "ACME",
                 "model": rng.choice(["CH-2", "CH-3"]), "firmware_version": rng.choice(["1.0", "2.1", "3.4"])}
        add.records.append(Record("csp", chf(n).encode(), orjson.dumps(event), delivered, events=2))
        if rng.random() < 0.3:
            installed = delivered + (now - delivered) * rng.uniform(0.1, 0.9)
            change.records.append(requests.make(party, "8.14.1", build.install_success(chf(n)), installed, 2))
        else:
            pending_hubs[party].append((delivered, chf(n)))
    for n in range(first, first + meters):
        party, notified = rng.choice(SUPPLIERS), _age(rng, now)
        body = build.prenotification(meter(n), rng.choice(METER_TYPES))
        add.records.append(requests.make(party, "12.2", body, notified))
        if rng.random() < 0.4:
            installed = notified + (now - notified) * rng.uniform(0.05, 0.5)
            change.records.append(requests.make(party, "8.4", {"DeviceID": meter(n),
                                                                  "UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"}, installed))
            if rng.random() < 0.3:
                removed = installed + (now - installed) * rng.uniform(0.05, 0.3)
                decommission.records.append(requests.make(party, "8.3", {"DeviceID": meter(n)}, removed))
                if rng.random() < 0.7:
                    returned = removed + (now - removed) * rng.uniform(0.05, 0.5)
                    back.records.append(requests.make(party, "8.4", {"DeviceID": meter(n),
                                                                        "UpdateDeviceStatusExceptCH": "Pending"}, returned))
    for n in range(first, first + enrolled):
        at = _age(rng, now)
        command = {"type": "EnrolSMETS1Device", "command_id": f"demo-smets1-{n}",
                   "device_id": smets1(n), "device_type": rng.choice(["ESME", "GSME"]),
                   "manufacturer": "Legacy", "model": "S1", "s1sp": rng.choice(S1SPS),
                   "responsible_supplier": rng.choice(SUPPLIERS), "mpxn": f"{1_000_000_000 + n}",
                   "event_time": at.isoformat()}
        add.records.append(Record("inventory", smets1(n).encode(), orjson.dumps(command), at))
    youngest = {p: [h for _, h in sorted(hs, reverse=True)] for p, hs in pending_hubs.items()}
    return Dataset([add, change, decommission, back], hubs * 2 + meters + enrolled, youngest,
                   smets1(first), requests.counter, first)
