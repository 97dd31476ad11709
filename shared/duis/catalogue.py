"""The Service Requests served here: variant, reference, body element, model, roles, owner."""
from dataclasses import dataclass

from pydantic import BaseModel

from shared.duis import models as m
from shared.duis.enums import ALL_ROLES

SUPPLIERS = frozenset({"IS", "GS"})


@dataclass(frozen=True)
class ServiceRequestSpec:
    variant: str
    name: str
    reference: str
    element: str
    model: type[BaseModel]
    roles: frozenset[str]
    owner: str  # the service that completes it and answers: inventory or returns

    @property
    def bulk(self) -> bool:
        return self.owner == "returns"


_SPECS = [
    ServiceRequestSpec("12.2", "Device Pre-notification", "12.2", "DevicePrenotification",
                       m.DevicePrenotification, ALL_ROLES, "inventory"),
    ServiceRequestSpec("8.2", "Read Inventory", "8.2", "ReadInventory", m.ReadInventory,
                       ALL_ROLES, "inventory"),
    ServiceRequestSpec("8.3", "Decommission Device", "8.3", "DecommissionDevice",
                       m.DecommissionDevice, SUPPLIERS, "inventory"),
    ServiceRequestSpec("8.4", "Update Inventory", "8.4", "UpdateInventory", m.UpdateInventory,
                       ALL_ROLES, "inventory"),
    ServiceRequestSpec("8.14.1", "CH Status Update - Install Success", "8.14",
                       "CHFInstallSuccessSMWAN", m.CHFInstallSuccessSMWAN, SUPPLIERS, "inventory"),
    ServiceRequestSpec("8.14.2", "CH Status Update - Install No SM WAN", "8.14",
                       "CHFInstallSuccessNoSMWAN", m.CHFInstallSuccessNoSMWAN, SUPPLIERS, "inventory"),
    ServiceRequestSpec("8.14.3", "CH Status Update - Fault Return", "8.14", "CHFFaultReturn",
                       m.CHFFaultReturn, SUPPLIERS, "returns"),
    ServiceRequestSpec("8.14.4", "CH Status Update - No Fault Return", "8.14", "CHFNoFaultReturn",
                       m.CHFNoFaultReturn, SUPPLIERS, "returns"),
]

SERVICE_REQUESTS: dict[str, ServiceRequestSpec] = {s.variant: s for s in _SPECS}
