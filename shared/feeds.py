"""The JSON messages that parties outside the platform put on its input topics (contract sections
4 and 5): the CSP feed and housekeeping runs. Their fields are the public interface: a change here
is a change of the contract."""
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.duis.enums import CSPRegion
from shared.duis.models import DeviceManufacturerType, DeviceModelType, FirmwareVersionType
from shared.eui import EUI


class CommsHubDelivered(BaseModel):
    """CSP feed (contract section 4): a hub delivered to the party that ordered it."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["CommsHubDelivered"]
    chf_id: EUI
    gpf_id: EUI
    csp_id: EUI
    ordering_party: EUI
    csp_region: CSPRegion
    # DUIS's own limits: whatever enters the SMI can be shown in a valid Read Inventory answer.
    manufacturer: DeviceManufacturerType
    model: DeviceModelType
    firmware_version: FirmwareVersionType | None = None


class ReturnReceived(BaseModel):
    """CSP feed: the hub came back to the DCC, with what the CSP found."""
    model_config = ConfigDict(frozen=True, extra="ignore")
    type: Literal["ReturnReceived"]
    device_id: EUI
    outcome: Literal["fault_confirmed", "no_fault_found"]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: datetime
