"""Inventory's rules: the SMI record of a device and what each request does to it. Pure: no I/O,
no clock. Status moves are decided by the table in `transitions.py`; everything else is here.

Inventory is the only writer of the SMI. Every change takes effect at its cause's event time and
is announced by a DeviceEvent carrying the device's state after it.
"""
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.inventory import transitions as t
from shared.duis.enums import TYPE_2_DEVICES
from shared.feeds import CommsHubDelivered
from shared.messages import DeviceEventType, EnrolSMETS1Device

SUPPLIER_ROLES = frozenset({"IS", "ES", "GS"})
MAX_DEVICES_PER_ANSWER = 17  # as DUIS caps a Read Inventory answer


@dataclass(frozen=True)
class Device:
    device_id: str
    device_type: str
    status: str | None
    status_since: datetime | None
    manufacturer: str
    model: str
    notifying_party: str
    notifying_party_kind: str
    added_at: datetime
    firmware_version: str | None = None
    smets_chts_version: str | None = None
    esme_variant: str | None = None
    csp_region: str | None = None
    s1sp: str | None = None
    mpxn: str | None = None
    linked_device_id: str | None = None
    responsible_supplier: str | None = None
    ordering_party: str | None = None
    ever_left_pending: bool = False
    commissioned_at: datetime | None = None

    def relations(self, party: str) -> set[str]:
        """What `party` is to this device, in the terms of the transition table."""
        found = {t.USER}
        if party == self.responsible_supplier:
            found.add(t.RS)
        if party == self.notifying_party:
            found.add(t.NP)
        if party == self.ordering_party:
            found.add(t.OP)
        return found

    def moved(self, target: str, at: datetime) -> "Device":
        return replace(self, status=target, status_since=at,
                       ever_left_pending=self.ever_left_pending or target != "Pending",
                       commissioned_at=at if target == "Commissioned" else self.commissioned_at)


# --- Adding devices ---

def prenotified(body, sender: str, roles: list[str], at: datetime) -> Device:
    """SR 12.2: Pending (Type 2: no status) from the request's event time; the sender is the
    Notifying Party, and its Responsible Supplier when it acts as a supplier."""
    status = None if body.DeviceType in TYPE_2_DEVICES else "Pending"
    return Device(
        device_id=body.DeviceID, device_type=body.DeviceType, status=status,
        status_since=at if status else None, manufacturer=body.DeviceManufacturer,
        model=body.DeviceModel, notifying_party=sender, notifying_party_kind="service_user",
        added_at=at, firmware_version=body.FirmwareVersion,
        smets_chts_version=body.SMETSCHTSVersion, esme_variant=body.ESMEVariant,
        linked_device_id=body.AssociatedGPFDeviceID,
        responsible_supplier=sender if SUPPLIER_ROLES & set(roles) else None,
    )


def prenotification_refusal(body, already_in_smi: bool) -> t.Refused | None:
    if body.DeviceType in t.HUBS:
        return t.Refused("E120203", f"{body.DeviceType} {body.DeviceID} is added by its CSP on delivery")
    if already_in_smi:
        return t.Refused("E120201", f"{body.DeviceID} is already in the Smart Metering Inventory")
    return None


def delivered_hub(event: CommsHubDelivered, at: datetime) -> tuple[Device, Device]:
    common = dict(status="Pending", status_since=at, manufacturer=event.manufacturer,
                  model=event.model, firmware_version=event.firmware_version,
                  csp_region=event.csp_region, notifying_party=event.csp_id,
                  notifying_party_kind="csp", ordering_party=event.ordering_party, added_at=at)
    return (Device(event.chf_id, "CHF", linked_device_id=event.gpf_id, **common),
            Device(event.gpf_id, "GPF", linked_device_id=event.chf_id, **common))


def enrolled(command: EnrolSMETS1Device) -> Device:
    at = command.event_time
    return Device(
        device_id=command.device_id, device_type=command.device_type,
        status=None if command.device_type in TYPE_2_DEVICES else command.status,
        status_since=None if command.device_type in TYPE_2_DEVICES else at,
        manufacturer=command.manufacturer, model=command.model,
        firmware_version=command.firmware_version, csp_region="SMETS1", s1sp=command.s1sp,
        mpxn=command.mpxn, notifying_party=command.responsible_supplier,
        notifying_party_kind="service_user", responsible_supplier=command.responsible_supplier,
        added_at=at, ever_left_pending=True,
        commissioned_at=at if command.status == "Commissioned" else None,
    )


# --- Changes other than status ---

DETAIL_FIELDS = {"DeviceManufacturer": "manufacturer", "DeviceModel": "model",
                 "FirmwareVersion": "firmware_version", "SMETSCHTSVersion": "smets_chts_version",
                 "ESMEVariant": "esme_variant"}


def may_edit(device: Device, party: str) -> t.Refused | None:
    """Details, MPxN and deletion of a device: its Responsible Supplier or Notifying Party."""
    if not device.relations(party) & {t.RS, t.NP}:
        return t.Refused("E51", f"only the Responsible Supplier or Notifying Party of "
                                f"{device.device_id} may update or delete it")
    return None


def with_details(device: Device, details: dict[str, Any]) -> Device:
    return replace(device, **{DETAIL_FIELDS[k]: v for k, v in details.items() if v is not None})


def deletion_refusal(device: Device, party: str) -> t.Refused | None:
    if device.device_type in TYPE_2_DEVICES:
        return may_edit(device, party)
    try:
        t.decide("8.4 DeleteDevice", device.device_type, device.status, None, device.relations(party))
    except t.Refused as refused:
        return refused
    return None


def hub_move(cause: str, device: Device, gpf: Device | None, target: str,
             party: str) -> tuple[t.Move, list[Device]]:
    """A Comms Hub moves as one unit: the device by the table, and its GPF (if any) with it, or
    neither moves (E31). The devices that move, in order; raises Refused otherwise."""
    move = t.decide(cause, device.device_type, device.status, target, device.relations(party))
    if gpf is None:
        return move, [device]
    if not t.allowed(cause, gpf.status, target):
        raise t.Refused("E31", f"its GPF {gpf.device_id} may not move from {gpf.status} to {target}")
    return move, [device, gpf]


# A refusal of the transition table, as a bulk return answers it per hub.
HUB_RETURN_CODES = {"E31": "E55", "E51": "E51", "E52": "E081402", "E53": "E081402"}


def hub_return(hub_id: str, hub: Device | None, gpf: Device | None, originator: str,
               named_before: bool) -> tuple[str, list[Device]]:
    """One hub of a bulk return (ReturnHubs): its per-hub code (I0 or a refusal) and the devices
    that move to Withdrawn."""
    if hub is None:
        return "E081401", []
    if named_before:
        return "E55", []  # the first mention is the return
    try:
        return "I0", hub_move("ReturnHubs", hub, gpf, "Withdrawn", originator)[1]
    except t.Refused as refusal:
        return HUB_RETURN_CODES[refusal.code], []


def removal_refusal(device: Device, pending_since: datetime) -> str | None:
    """Housekeeping removes only what it saw: a device Pending since that very instant."""
    if device.device_type in TYPE_2_DEVICES:
        return f"{device.device_type} is a Type 2 device: never housekept"
    if device.status != "Pending":
        return f"status is {device.status} since {_iso(device.status_since)}"
    if device.status_since != pending_since:
        return f"Pending since {_iso(device.status_since)}, not {_iso(pending_since)}"
    return None


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at else "-"


# --- Read Inventory (SR 8.2) ---

def inventory_entry(device: Device) -> dict[str, Any]:
    """One device as DUIS 5.4's `Device` shows it, in the XSD's order; S1SP only for SMETS1."""
    return {
        "DeviceID": device.device_id,
        "DeviceType": device.device_type,
        "DeviceStatus": device.status,
        "DeviceManufacturer": device.manufacturer,
        "DeviceModel": device.model,
        "SMETSCHTSVersion": device.smets_chts_version,
        "DeviceFirmwareVersion": device.firmware_version,
        "DateCommissioned": device.commissioned_at.date().isoformat() if device.commissioned_at else None,
        "ImportMPxN": device.mpxn,
        "ESMEVariant": device.esme_variant,
        "CSPRegion": device.csp_region or "Unknown",
        "S1SP": device.s1sp if device.csp_region == "SMETS1" else None,
    }


def none_found(subject: str) -> t.Refused:
    """8.2's answer when nothing in the SMI matches the Device ID or MPxN asked for."""
    return t.Refused("E30", f"no device in the SMI for {subject}")


def read_inventory_payload(devices: list[Device]) -> dict[str, Any]:
    """8.2's answer: `DSPInventory`, at most 17 devices (the XSD's limit)."""
    shown = sorted(devices, key=lambda d: d.device_id)[:MAX_DEVICES_PER_ANSWER]
    return {"DSPInventory": {"Device": [inventory_entry(d) for d in shown]}}


# --- Events ---

def event(kind: DeviceEventType, device: Device, at: datetime, cause: str, event_id: str, *,
          previous: str | None = None, reference: str | None = None, reason: str | None = None,
          policy_version: str | None = None, command_id: str | None = None) -> dict[str, Any]:
    """A DeviceEvent's fields, in its order, for `messages.encode_event`: built from an SMI
    record whose IDs are canonical already, they need no validation again."""
    removed = kind in ("DeviceRemoved", "DeviceDeleted")
    return {
        "type": kind, "event_id": event_id, "device_id": device.device_id,
        "device_type": device.device_type, "status": None if removed else device.status,
        "previous_status": previous, "status_since": None if removed else device.status_since,
        "occurred_at": at, "notifying_party": device.notifying_party,
        "notifying_party_kind": device.notifying_party_kind,
        "responsible_supplier": device.responsible_supplier, "ordering_party": device.ordering_party,
        "ever_left_pending": device.ever_left_pending, "cause": cause, "request_id": reference,
        "reason": reason, "policy_version": policy_version, "command_id": command_id,
    }
