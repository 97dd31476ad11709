"""Build DUIS Service Requests: for clients, the demonstration, tests and benchmarks."""
from typing import Any

from shared.duis import codec
from shared.duis.catalogue import SERVICE_REQUESTS

DCC_EUI = "90-B3-D5-1F-30-00-00-02"


def request_id(originator: str, counter: int, target: str = DCC_EUI) -> str:
    return f"{originator}:{target}:{counter}"


def request(originator: str, counter: int, variant: str, body: dict[str, Any],
            fmt: codec.Format = "xml", target: str = DCC_EUI) -> bytes:
    """A request for a served variant; `body` is the content of its body element."""
    spec = SERVICE_REQUESTS[variant]
    document = {
        "Header": {
            "RequestID": request_id(originator, counter, target),
            "CommandVariant": 8,
            "ServiceReference": spec.reference,
            "ServiceReferenceVariant": variant,
        },
        "Body": {spec.element: spec.model.in_order(body)},
    }
    return codec.encode(document, fmt, root="Request")


def prenotification(device_id: str, device_type: str = "ESME", **extra: Any) -> dict[str, Any]:
    return {"DeviceID": device_id, "DeviceManufacturer": "1234", "DeviceModel": "M1",
            "DeviceType": device_type, **extra}


def fault_return(hubs: list[str], **extra: Any) -> dict[str, Any]:
    """OtherDeviceID is required: unless given, each hub names itself there."""
    return {"DeviceID": hubs, "CHFFaultReturnType": "Fault identified post installation",
            "OtherDeviceID": list(hubs), "CHFConnectionMethod": "Cradle", "CHFFaultReason": "LED Fault",
            **extra}


def no_fault_return(hubs: list[str], **extra: Any) -> dict[str, Any]:
    return {"DeviceID": hubs, "CHFNoFaultReturnType": "No Fault Return (general)", **extra}


def install_success(hub: str, **extra: Any) -> dict[str, Any]:
    """8.14.1 CHFInstallSuccessSMWAN with what the reference template gives."""
    return {"DeviceID": hub, "CHFInstallType": "New CHF Install", "MPxN": "1000999888",
            "AerialInstall": True, "CHFLocation": "Basement or Cellar", **extra}


def install_no_sm_wan(hub: str, **extra: Any) -> dict[str, Any]:
    """8.14.2 CHFInstallSuccessNoSMWAN with what the reference template gives."""
    return {**install_success(hub, CHFInstallType="CHF Install - no SM WAN"),
            "PremiseType": "Low Rise Apartment (MDU <= 5 floors)", "MetalObstructionCheck": False,
            "ConnectivityObstructionCheck": False, "SharedObstructionCheck": False, **extra}


def device_id(n: int, prefix: str = "00-DB") -> str:
    """The n-th synthetic EUI-64 under a two-byte prefix."""
    raw = f"{n:012X}"
    return "-".join([prefix, *(raw[i:i + 2] for i in range(0, 12, 2))])
