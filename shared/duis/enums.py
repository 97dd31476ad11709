"""DUIS 5.4 enumerations used by the Service Requests served here."""
from typing import Literal, get_args

DeviceType = Literal["ESME", "GSME", "GPF", "CHF", "HCALCS", "PPMID", "IHD", "CAD"]
SMIStatus = Literal[
    "Pending", "Whitelisted", "InstalledNotCommissioned", "Commissioned",
    "Decommissioned", "Withdrawn", "Suspended", "Recovery", "Recovered",
]
UserRole = Literal["IS", "ES", "GS", "RSA", "ED", "GT", "OU"]
CHFFaultReturnType = Literal[
    "Fault identified prior to installation", "Fault identified post installation",
]
CHFFaultReason = Literal[
    "Damaged case", "Damaged Connector", "Illegal interference or missing seals",
    "Environmental conditions exceeded", "SM WAN Fault", "SMHAN Interface Fault", "LED Fault",
    "Aerial fault", "Manufacturing defect",
]
CHFConnectionMethod = Literal["Hot-shoe", "Cradle", "ESME"]
CHFNoFaultReturnType = Literal[
    "No Fault Return (general)", "No Fault Return (non-dom opt out)",
    "No Fault Return (dual supplier HAN variant replacement)",
    "No Fault Return (SM WAN variant replacement requested by DCC)", "Lost or Stolen Hub",
]
CSPRegion = Literal[
    "North", "Central", "South", "4G North", "4G Central", "4G South", "Unknown", "SMETS1",
]

# Every ServiceReferenceVariant of DUIS 5.4; its ServiceReference is itself or drops its last part.
SERVICE_REFERENCE_VARIANTS = frozenset({
    "1.1.1", "1.1.2", "1.2.1", "1.2.2", "1.5", "1.6", "1.7", "2.1", "2.2", "2.3", "2.5", "3.1",
    "3.2", "3.3", "3.4", "3.5", "4.1.1", "4.1.2", "4.1.3", "4.1.4", "4.2", "4.3", "4.4.2", "4.4.3",
    "4.4.4", "4.4.5", "4.6.1", "4.6.2", "4.8.1", "4.8.2", "4.8.3", "4.10", "4.11.1", "4.11.2",
    "4.12.1", "4.12.2", "4.13", "4.14", "4.15", "4.16", "4.17", "4.18", "5.1", "5.2", "5.3",
    "6.2.1", "6.2.2", "6.2.3", "6.2.4", "6.2.5", "6.2.7", "6.2.8", "6.2.9", "6.2.10", "6.4.1",
    "6.4.2", "6.5", "6.6", "6.7", "6.8", "6.11", "6.12", "6.13", "6.14.1", "6.14.2", "6.14.3",
    "6.15.1", "6.15.2", "6.17", "6.18.1", "6.18.2", "6.20.1", "6.20.2", "6.21", "6.22", "6.23",
    "6.24.1", "6.24.2", "6.25", "6.26", "6.27", "6.28", "6.29", "6.30", "6.31", "6.32", "7.1",
    "7.2", "7.3", "7.4", "7.5", "7.6", "7.7", "7.8", "7.9", "7.10", "7.11", "7.12", "7.13", "7.14",
    "7.15", "7.16", "8.1.1", "8.2", "8.3", "8.4", "8.5", "8.6", "8.7.1", "8.7.2", "8.8.1", "8.8.2",
    "8.9", "8.11", "8.12.1", "8.12.2", "8.13", "8.14.1", "8.14.2", "8.14.3", "8.14.4", "9.1",
    "11.1", "11.2", "11.3", "11.4", "12.1", "12.2", "14.1",
})


def service_reference(variant: str) -> str:
    return variant.rsplit(".", 1)[0] if variant.count(".") == 2 else variant


TYPE_2_DEVICES = frozenset({"IHD", "CAD"})
COMMS_HUB_TYPES = frozenset({"CHF", "GPF"})
ALL_ROLES = frozenset(get_args(UserRole))


def values(literal) -> tuple[str, ...]:
    return get_args(literal)
