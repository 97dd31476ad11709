"""The SMI Status transition table: every move a device may make, what may cause it, who may.

SEC Appendix AC, which holds the full matrix, is not public. The rows marked `AC` follow its
published clauses; the others are this project's decisions, written here and nowhere else, and
rendered into docs/inventory-transitions.md. A move not in the table is refused (E31); a move in
the table asked by a party it does not name is refused (E51). Type 2 devices have no status and
take no move (E52): they are pre-notified without a status and deleted by 8.4 DeleteDevice
outside this table (`domain.py`). A cause that does not apply to the device's type is refused (E53).
"""
from dataclasses import dataclass

from shared.duis.enums import COMMS_HUB_TYPES, TYPE_2_DEVICES, DeviceType, SMIStatus, values
from shared.outcomes import Refused

STATUSES: tuple[str, ...] = values(SMIStatus)
DEVICE_TYPES: tuple[str, ...] = values(DeviceType)
WITH_STATUS = tuple(t for t in DEVICE_TYPES if t not in TYPE_2_DEVICES)
NOT_HUBS = tuple(t for t in WITH_STATUS if t not in COMMS_HUB_TYPES)
HUBS = ("CHF", "GPF")

# Who asks, relative to the device.
RS, NP, OP = "Responsible Supplier", "Notifying Party", "ordering party"
USER, CSP, DCC = "any DCC User", "the delivering CSP", "the DCC itself"


@dataclass(frozen=True)
class Cause:
    name: str
    applies_to: tuple[str, ...]
    description: str


CAUSES = {c.name: c for c in [
    Cause("12.2", NOT_HUBS, "Device Pre-notification"),
    Cause("CommsHubDelivered", HUBS, "CSP feed: a Comms Hub delivered (CHF and GPF)"),
    Cause("SMETS1Enrolment", WITH_STATUS, "a SMETS1 device enrolled from its S1SP's network"),
    Cause("8.4 UpdateDeviceStatusExceptCH", NOT_HUBS, "Update Inventory: status of a non-hub device"),
    Cause("8.4 UpdateDeviceStatusCH", HUBS, "Update Inventory: status of a CHF or GPF"),
    Cause("8.3", WITH_STATUS, "Decommission Device"),
    Cause("8.14.1", ("CHF",), "CH installed with SM WAN (CHF and its GPF)"),
    Cause("8.14.2", ("CHF",), "CH installed without SM WAN (CHF and its GPF)"),
    Cause("ReturnHubs", ("CHF",), "a hub returned to the DCC (CHF and its GPF)"),
    Cause("8.4 DeleteDevice", WITH_STATUS, "Update Inventory: delete a device added by mistake"),
    Cause("RemoveDevice", WITH_STATUS, "housekeeping: a device pending too long"),
]}


@dataclass(frozen=True)
class Move:
    source: str | None  # None: not in the SMI
    target: str | None  # None: leaves the SMI (to the archive)
    cause: str
    parties: frozenset[str]
    basis: str  # "AC x.y" where SEC Appendix AC says so, else "decision"


def _moves(cause: str, parties: set[str], basis: str, *pairs: tuple[str | None, str | None]):
    return [Move(s, t, cause, frozenset(parties), basis) for s, t in pairs]


TABLE: tuple[Move, ...] = tuple(
    _moves("12.2", {USER}, "SR 12.2", (None, "Pending"))
    + _moves("CommsHubDelivered", {CSP}, "AC 2.4", (None, "Pending"))
    + _moves("SMETS1Enrolment", {DCC}, "decision",
             (None, "Commissioned"), (None, "InstalledNotCommissioned"))
    + _moves("8.4 UpdateDeviceStatusExceptCH", {RS, NP}, "SR 8.4",
             ("Pending", "InstalledNotCommissioned"))
    + _moves("8.4 UpdateDeviceStatusExceptCH", {RS}, "decision",
             ("Whitelisted", "InstalledNotCommissioned"), ("InstalledNotCommissioned", "Pending"))
    + _moves("8.4 UpdateDeviceStatusExceptCH", {RS}, "AC 7.1",
             ("Decommissioned", "Pending"), ("Whitelisted", "Pending"), ("Withdrawn", "Pending"))
    + _moves("8.4 UpdateDeviceStatusCH", {RS, OP}, "SR 8.4",
             ("Pending", "InstalledNotCommissioned"), ("InstalledNotCommissioned", "Commissioned"),
             ("Pending", "Withdrawn"), ("InstalledNotCommissioned", "Withdrawn"))
    + _moves("8.4 UpdateDeviceStatusCH", {RS}, "SR 8.4", ("Commissioned", "Withdrawn"))
    + _moves("8.3", {RS}, "decision",
             ("Commissioned", "Decommissioned"), ("InstalledNotCommissioned", "Decommissioned"),
             ("Suspended", "Decommissioned"))
    + _moves("8.14.1", {RS, OP}, "decision",
             ("Pending", "Commissioned"), ("InstalledNotCommissioned", "Commissioned"))
    + _moves("8.14.2", {RS, OP}, "decision", ("Pending", "InstalledNotCommissioned"))
    + _moves("ReturnHubs", {RS, OP}, "decision",
             ("Pending", "Withdrawn"), ("InstalledNotCommissioned", "Withdrawn"),
             ("Commissioned", "Withdrawn"), ("Decommissioned", "Withdrawn"))
    + _moves("8.4 DeleteDevice", {RS, NP}, "decision", ("Pending", None))
    + _moves("RemoveDevice", {DCC}, "AC 7.2", ("Pending", None))
)
_BY_KEY = {(m.cause, m.source, m.target): m for m in TABLE}
assert len(_BY_KEY) == len(TABLE), "one row per (cause, from, to)"
assert all(m.cause in CAUSES for m in TABLE)


def decide(cause: str, device_type: str, source: str | None, target: str | None,
           asker: set[str]) -> Move:
    """The move, if the table allows it to `asker` (the relations of the party asking);
    else Refused with E52, E53, E31 or E51, checked in that order."""
    if device_type in TYPE_2_DEVICES:
        raise Refused("E52", f"{device_type} is a Type 2 device and has no SMI Status")
    if device_type not in CAUSES[cause].applies_to:
        raise Refused("E53", f"{cause} does not apply to a {device_type}")
    move = _BY_KEY.get((cause, source, target))
    if move is None:
        raise Refused("E31", f"{cause} may not move a device from {_name(source)} to {_name(target)}")
    if not move.parties & asker:
        raise Refused("E51", f"only the {' or the '.join(sorted(move.parties))} may move this "
                             f"{device_type} from {_name(source)} to {_name(target)}")
    return move


def allowed(cause: str, source: str | None, target: str | None) -> Move | None:
    return _BY_KEY.get((cause, source, target))


def _name(status: str | None) -> str:
    return status or "(not in the SMI)"


def render_markdown() -> str:
    lines = [
        "# SMI Status transitions",
        "",
        "Generated from `services/inventory/transitions.py`; a test keeps this file in step.",
        "Every move not listed is refused with `E31`; a listed move asked by a party not named is",
        "refused with `E51`. Type 2 devices (IHD, CAD) carry no status: any status change is `E52`;",
        "they enter by 12.2 without a status and leave by 8.4 DeleteDevice (Responsible Supplier or",
        "Notifying Party), and housekeeping never removes them.",
        "`basis` says where a rule comes from: a published SEC Appendix AC clause, the SR's own",
        "definition, or a decision of this project (Appendix AC is not public).",
        "",
        "| cause | applies to | from | to | who may | basis |",
        "|---|---|---|---|---|---|",
    ]
    for m in TABLE:
        lines.append(f"| {m.cause} | {', '.join(CAUSES[m.cause].applies_to)} | {_name(m.source)} "
                     f"| {_name(m.target) if m.target else '(archived: leaves the SMI)'} "
                     f"| {' or '.join(sorted(m.parties))} | {m.basis} |")
    lines += ["", "## Causes", "", "| cause | what it is |", "|---|---|"]
    lines += [f"| {c.name} | {c.description} |" for c in CAUSES.values()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
