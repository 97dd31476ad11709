"""A mixed load, the same for every seed and size: devices that each follow one scenario.

Every device's inputs travel in order (requests keyed by Device ID, so one partition of
`smi.requests` and then of the internal topics), and inputs that travel on different topics or
through different services are put in different phases: the driver waits for a phase to be
fully answered before it sends the next. So the outcome of each input does not depend on how
the platform interleaves devices, and the reference model can compute it.
"""
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta

from shared.duis import build
from tests.support import CSP_NORTH, SUPPLIER, SUPPLIER_2

SUPPLIER_3 = "90-B3-D5-1F-30-01-00-02"  # takes its alerts in JSON
SUPPLIERS = (SUPPLIER, SUPPLIER_2, SUPPLIER_3)
STRANGER = "90-B3-D5-1F-30-01-0F-FF"  # in no party registry: E20, and nothing recorded
INC = {"UpdateDeviceStatusExceptCH": "InstalledNotCommissioned"}
TO_PENDING = {"UpdateDeviceStatusExceptCH": "Pending"}
# Scenario -> weight. Meters are pre-notified; hubs (CHF + GPF) are delivered by the CSP.
SCENARIOS = {"aged": 3, "decommissioned": 2, "repending": 1, "refused": 1, "deleted": 1,
             "hub_installed": 2, "hub_nowan": 1, "hub_returned": 3, "hub_foreign": 0.5,
             "hub_old": 1, "stranger": 0.3}


@dataclass(frozen=True)
class Step:
    """One input. kind: sr | delivered | received | run | junk (topic in `data`)."""
    kind: str
    at: datetime
    key: str
    data: dict


@dataclass
class Phase:
    name: str
    steps: list[Step] = field(default_factory=list)
    # What must hold before the next phase: answered, hubs_added, housekeeping_caught_up, n8_alerted.
    then: tuple[str, ...] = ("answered",)


@dataclass
class Workload:
    now: datetime
    as_of: datetime
    phases: list[Phase]

    def steps(self) -> list[Step]:
        return [s for p in self.phases for s in p.steps]


def generate(seed: int, requests: int, now: datetime, runs_wait_for_catch_up: bool = True) -> Workload:
    return _Generator(random.Random(seed), now, runs_wait_for_catch_up).build(requests)


class _Generator:
    def __init__(self, rng: random.Random, now: datetime, runs_wait_for_catch_up: bool) -> None:
        self.rng, self.now = rng, now
        # Pending since before `aged_before` is due at the run; every later change is after it.
        self.old, self.recent = now - timedelta(days=3), now - timedelta(days=1)
        self.as_of = (now - timedelta(days=2)) + relativedelta(months=12)
        self.counters = {p: 0 for p in (*SUPPLIERS, STRANGER)}
        self.phases = {n: Phase(n) for n in ("setup", "changes", "returns", "housekeeping", "after")}
        self.phases["setup"].then = ("answered", "hubs_added")
        self.phases["returns"].then = ("answered", "housekeeping_caught_up") if runs_wait_for_catch_up \
            else ("answered",)
        self.phases["housekeeping"].then = ("n8_alerted",)
        self.devices = 0
        self.returned: dict[str, list[str]] = {p: [] for p in SUPPLIERS}  # owner -> hubs
        self.foreign: list[tuple[str, str]] = []                        # (hub, returning party)
        self.installed_hub: str | None = None

    def build(self, requests: int) -> Workload:
        names, weights = list(SCENARIOS), list(SCENARIOS.values())
        while self.sent() < requests * 0.97:
            getattr(self, "_" + self.rng.choices(names, weights)[0])()
        self._bulk_returns()
        self._housekeeping()
        self._replays(max(2, requests // 50))
        for n in range(max(1, requests // 200)):
            self._junk("requests", b"\x00not a request %d" % n, self.recent)
        return Workload(self.now, self.as_of, list(self.phases.values()))

    def sent(self) -> int:
        return sum(s.kind == "sr" for p in self.phases.values() for s in p.steps)

    def _when(self, base: datetime, step: int) -> datetime:
        return base + timedelta(minutes=self.rng.randrange(0, 600) + step)

    def _sr(self, phase: str, party: str, variant: str, body: dict, at: datetime, key: str,
            fmt: str | None = None) -> Step:
        self.counters[party] += 1
        fmt = fmt or self.rng.choice(("json", "json", "xml"))
        step = Step("sr", at, key, {"party": party, "counter": self.counters[party],
                                    "variant": variant, "body": body, "fmt": fmt})
        self.phases[phase].steps.append(step)
        return step

    def _device(self, prefix: str = "00-DB") -> str:
        self.devices += 1
        return build.device_id(self.devices, prefix)

    def _meter(self, at: datetime) -> tuple[str, str]:
        meter, party = self._device(), self.rng.choice(SUPPLIERS)
        kind = self.rng.choice(("ESME", "GSME"))
        self._sr("setup", party, "12.2", build.prenotification(meter, kind), at, meter)
        return meter, party

    def _aged(self) -> None:
        meter, party = self._meter(self._when(self.old, 0))
        self._sr("changes", party, "8.2", {"DeviceID": meter}, self._when(self.recent, 0), meter)
        self._sr("after", party, "8.2", {"DeviceID": meter}, self.now, meter)

    def _decommissioned(self, back_to_pending: bool = False) -> None:
        meter, party = self._meter(self._when(self.old, 0))
        at = self._when(self.recent, 0)
        self._sr("changes", party, "8.4", {"DeviceID": meter, **INC}, at, meter)
        self._sr("changes", party, "8.3", {"DeviceID": meter}, at + timedelta(minutes=1), meter)
        if back_to_pending:
            self._sr("changes", party, "8.4", {"DeviceID": meter, **TO_PENDING}, at + timedelta(minutes=2), meter)

    def _repending(self) -> None:
        self._decommissioned(back_to_pending=True)

    def _refused(self) -> None:
        meter, party = self._meter(self._when(self.recent, 0))
        other = self.rng.choice([p for p in SUPPLIERS if p != party])
        at = self._when(self.recent, 10)
        self._sr("changes", party, "8.3", {"DeviceID": meter}, at, meter)
        self._sr("changes", other, "8.4", {"DeviceID": meter, **INC}, at + timedelta(minutes=1), meter)
        self._sr("changes", party, "12.2", build.prenotification(meter), at + timedelta(minutes=2), meter)

    def _deleted(self) -> None:
        meter, party = self._meter(self._when(self.recent, 0))
        at = self._when(self.recent, 10)
        self._sr("changes", party, "8.4", {"DeviceID": meter, "DeleteDevice": {}}, at, meter, "json")
        self._sr("changes", party, "8.2", {"DeviceID": meter}, at + timedelta(minutes=1), meter)

    def _hub(self, at: datetime, owner: str | None = None) -> tuple[str, str]:
        number = self.devices + 1
        chf, gpf = self._device("00-DC"), build.device_id(number, "00-DD")
        owner = owner or self.rng.choice(SUPPLIERS)
        self.phases["setup"].steps.append(Step("delivered", at, chf, {
            "type": "CommsHubDelivered", "chf_id": chf, "gpf_id": gpf, "csp_id": CSP_NORTH,
            "ordering_party": owner, "csp_region": "North", "manufacturer": "CH1", "model": "H1",
            "firmware_version": "1.0"}))
        return chf, owner

    def _hub_installed(self, variant: str = "8.14.1") -> None:
        chf, owner = self._hub(self._when(self.recent, 0))
        body = build.install_success(chf) if variant == "8.14.1" else build.install_no_sm_wan(chf)
        self._sr("changes", owner, variant, body, self._when(self.recent, 30), chf)
        self.installed_hub = chf

    def _hub_nowan(self) -> None:
        self._hub_installed("8.14.2")

    def _hub_returned(self) -> None:
        chf, owner = self._hub(self._when(self.recent, 0))
        if self.rng.random() < 0.5:
            self._sr("changes", owner, "8.14.1", build.install_success(chf), self._when(self.recent, 30), chf)
        self.returned[owner].append(chf)

    def _hub_foreign(self) -> None:
        chf, owner = self._hub(self._when(self.recent, 0))
        self.foreign.append((chf, self.rng.choice([p for p in SUPPLIERS if p != owner])))

    def _hub_old(self) -> None:
        chf, owner = self._hub(self._when(self.old, 0))
        self._sr("changes", owner, "8.2", {"DeviceID": chf}, self._when(self.recent, 0), chf)

    def _stranger(self) -> None:
        meter = self._device()
        self._sr("changes", STRANGER, "8.2", {"DeviceID": meter}, self._when(self.recent, 0), meter)

    def _bulk_returns(self) -> None:
        """Each returned hub in exactly one request of its owner; a foreign hub or an unknown
        one now and then; a foreign hub left over is returned on its own (nothing accepted)."""
        at = self.now - timedelta(hours=1)
        for owner, owned in self.returned.items():
            hubs = self.rng.sample(owned, len(owned))
            while hubs:
                size = self.rng.randint(1, 25)
                batch, hubs[:] = hubs[:size], hubs[size:]
                for n, (hub, party) in enumerate(self.foreign):
                    if party == owner and self.rng.random() < 0.5:
                        batch.append(self.foreign.pop(n)[0])
                        break
                if self.rng.random() < 0.2:
                    batch.append(self._device("00-DE"))  # never delivered
                self._return(owner, batch, at)
        for hub, party in self.foreign:
            self._return(party, [hub], at)

    def _return(self, party: str, hubs: list[str], at: datetime) -> None:
        if self.rng.random() < 0.5:
            variant, body = "8.14.3", build.fault_return(hubs)
        else:
            variant, body = "8.14.4", build.no_fault_return(hubs)
        self._sr("returns", party, variant, body, at, hubs[0])

    def _housekeeping(self) -> None:
        phase, at = self.phases["housekeeping"], self.now - timedelta(minutes=30)
        returned = [h for hubs in self.returned.values() for h in hubs]
        for hub in self.rng.sample(returned, len(returned) // 2):
            outcome = self.rng.choice(("fault_confirmed", "no_fault_found"))
            phase.steps.append(Step("received", at, hub, {"type": "ReturnReceived", "device_id": hub,
                                                          "outcome": outcome}))
        if self.installed_hub:  # received but never returned: no record to close
            phase.steps.append(Step("received", at, self.installed_hub, {
                "type": "ReturnReceived", "device_id": self.installed_hub, "outcome": "fault_confirmed"}))
        self._junk("csp_events", b'{"type": "CommsHubExploded"}', at)
        run = {"as_of": self.as_of.isoformat().replace("+00:00", "Z")}
        phase.steps += [Step("run", at, "run", run), Step("run", at, "run", run)]  # twice: idempotent
        self._junk("housekeeping_runs", b'{"as_of": "yesterday"}', at)

    def _replays(self, count: int) -> None:
        """The same bytes again, later: each gets the original response and changes nothing."""
        originals = [s for p in ("setup", "changes", "returns") for s in self.phases[p].steps
                     if s.kind == "sr" and s.data["party"] != STRANGER]
        for step in self.rng.sample(originals, min(count, len(originals))):
            self.phases["after"].steps.append(Step("sr", step.at, step.key, {**step.data, "replay": True}))

    def _junk(self, topic: str, value: bytes, at: datetime) -> None:
        phase = "setup" if topic == "requests" else "housekeeping"
        self.phases[phase].steps.append(Step("junk", at, f"junk-{topic}", {"topic": topic, "value": value}))
