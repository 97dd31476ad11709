"""Pydantic models of the Service Request bodies served here, keyed by DUIS element name.

The XML and the JSON rendering decode to the same dictionaries, so one model validates both.
Validation errors carry pydantic error types that `errors.code_for` maps to response codes.
"""
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from shared.duis import enums as e
from shared.eui import EUI

MAX_BULK_IDS = 999

Text = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=1000, strip_whitespace=True)]
MPxNValue = Annotated[str, StringConstraints(pattern=r"^[0-9]{6,13}$")]
UPRNValue = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _empty_element(value: Any) -> Any:
    """`<DeleteDevice/>` decodes to "" (XML) or {} / true (JSON): all mean 'present'."""
    return True if value in ("", {}, None, True) else value


def _false_is_absent(value: bool | None) -> bool | None:
    """DeleteDevice false (or "false", 0) asks for no deletion: as if the element were not given."""
    return True if value else None


def _convertible_to_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None:
        try:
            value.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("the instant is outside the years 1 to 9999 in UTC") from None
    return value


EUIList = Annotated[list[EUI], BeforeValidator(_as_list)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_element_has_no_fields(cls, data: Any) -> Any:
        return {} if data == "" else data


def _exactly_one(model: BaseModel, names: tuple[str, ...]) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise PydanticCustomError(
            "one_of", "exactly one of {names} must be given, got {given}",
            {"names": ", ".join(names), "given": ", ".join(given) or "none"},
        )


class DevicePrenotification(Body):
    DeviceID: EUI
    DeviceManufacturer: Text
    DeviceModel: Text
    DeviceType: e.DeviceType
    SMETSCHTSVersion: Text | None = None
    FirmwareVersion: Text | None = None
    ESMEVariant: Text | None = None
    AssociatedGPFDeviceID: EUI | None = None


class PropertyFilterValue(Body):
    PostCode: Text
    AddressIdentifier: Text | None = None


class ReadInventory(Body):
    DeviceID: EUI | None = None
    UPRN: UPRNValue | None = None
    MPxN: MPxNValue | None = None
    PropertyFilter: PropertyFilterValue | None = None

    @model_validator(mode="after")
    def _one_filter(self):
        _exactly_one(self, ("DeviceID", "UPRN", "MPxN", "PropertyFilter"))
        return self


class DecommissionDevice(Body):
    DeviceID: EUI


class StatusExceptCH(Body):
    DeviceStatus: Literal["Pending", "InstalledNotCommissioned"]


class StatusCH(Body):
    DeviceStatus: Literal["Commissioned", "Withdrawn", "InstalledNotCommissioned"]


class DeviceDetails(Body):
    DeviceManufacturer: Text | None = None
    DeviceModel: Text | None = None
    FirmwareVersion: Text | None = None
    SMETSCHTSVersion: Text | None = None
    ESMEVariant: Text | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.model_dump(exclude_none=True):
            raise PydanticCustomError("missing", "UpdateDeviceDetails names no detail to update")
        return self


class MPxNUpdate(Body):
    MPxN: MPxNValue


class UpdateInventory(Body):
    DeviceID: EUI
    UpdateDeviceStatusExceptCH: StatusExceptCH | None = None
    UpdateDeviceStatusCH: StatusCH | None = None
    UpdateDeviceDetails: DeviceDetails | None = None
    DeleteDevice: Annotated[bool | None, BeforeValidator(_empty_element), AfterValidator(_false_is_absent)] = None
    UpdateMPxN: MPxNUpdate | None = None

    @model_validator(mode="after")
    def _one_update(self):
        _exactly_one(self, (
            "UpdateDeviceStatusExceptCH", "UpdateDeviceStatusCH", "UpdateDeviceDetails",
            "DeleteDevice", "UpdateMPxN",
        ))
        return self


class CHFInstallSuccessSMWAN(Body):
    DeviceID: EUI
    CHFConnectionMethod: e.CHFConnectionMethod | None = None


class CHFInstallSuccessNoSMWAN(Body):
    DeviceID: EUI
    CHFConnectionMethod: e.CHFConnectionMethod | None = None


class _BulkReturn(Body):
    """MP117: DeviceID repeats 1 to 999 times; the other fields apply to every hub."""
    DeviceID: EUIList
    UserRefID: Text | None = None
    UserRefDateTime: Annotated[datetime | None, AfterValidator(_convertible_to_utc)] = None
    IncidentReference: Text | None = None
    AdditionalInformation: LongText | None = None

    @model_validator(mode="before")
    @classmethod
    def _count_before_parsing(cls, data: Any) -> Any:
        # Checked before the fields so that 1000 IDs is E14, not 1000 separate EUI errors.
        ids = _as_list(data.get("DeviceID")) if isinstance(data, dict) else None
        if isinstance(ids, list):
            if not ids:
                raise PydanticCustomError("missing", "at least one DeviceID is required")
            if len(ids) > MAX_BULK_IDS:
                raise PydanticCustomError(
                    "too_many_ids", "{count} Device IDs given; at most 999", {"count": len(ids)}
                )
        return data

    @model_validator(mode="after")
    def _unique(self):
        seen: set[str] = set()
        for device_id in self.DeviceID:
            if device_id in seen:
                raise PydanticCustomError(
                    "duplicate_ids", "Device ID {device} appears more than once", {"device": device_id}
                )
            seen.add(device_id)
        return self


class CHFFaultReturn(_BulkReturn):
    CHFFaultReturnType: e.CHFFaultReturnType
    OtherDeviceID: EUIList | None = None
    CHFConnectionMethod: e.CHFConnectionMethod
    CHFFaultReason: e.CHFFaultReason

    @model_validator(mode="after")
    def _pairs(self):
        if self.OtherDeviceID is not None and len(self.OtherDeviceID) != len(self.DeviceID):
            raise PydanticCustomError(
                "other_id_count", "{other} OtherDeviceID for {ids} DeviceID",
                {"other": len(self.OtherDeviceID), "ids": len(self.DeviceID)},
            )
        return self


class CHFNoFaultReturn(_BulkReturn):
    CHFNoFaultReturnType: e.CHFNoFaultReturnType
