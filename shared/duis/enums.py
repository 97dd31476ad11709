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

TYPE_2_DEVICES = frozenset({"IHD", "CAD"})
COMMS_HUB_TYPES = frozenset({"CHF", "GPF"})
ALL_ROLES = frozenset(get_args(UserRole))


def values(literal) -> tuple[str, ...]:
    return get_args(literal)
