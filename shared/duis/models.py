"""Pydantic models of the Service Request bodies served here, keyed by DUIS element name.

Each model has the elements of its DUIS 5.4 XSD complexType, in the XSD's order, with the XSD's
occurrences and simple-type facets (a test reads the XSD and compares). The XML and the JSON
rendering decode to the same dictionaries, so one model validates both; validated with
`IN_DOCUMENT_ORDER` as context (intake does so for XML), the elements must also come in the XSD's
order. Validation errors carry pydantic error types that `errors.code_for` maps to response codes.
"""
import re
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints,
                      ValidationInfo, model_validator)
from pydantic_core import PydanticCustomError

from shared.duis import codec, enums as e
from shared.eui import EUI

MAX_BULK_IDS = 999
IN_DOCUMENT_ORDER = {"in_document_order": True}

Text = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


def xs_string(max_length: int, min_length: int = 0) -> Any:
    """An xs:string restricted by length, as the XSD's simple types are."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,
                                            strip_whitespace=True)]


# --- simple types of the XSD, named as it names them ---

DeviceManufacturerType = xs_string(30)
DeviceModelType = xs_string(30)
SMETSCHTSVersionType = xs_string(20, 1)
FirmwareVersionType = xs_string(8, 1)
UserRefIDType = xs_string(25)
IncidentReferenceType = xs_string(15)
AdditionalInformationType = xs_string(200)
GISDataType = xs_string(25)
MPxNType = xs_string(13, 1)  # sr:MPxN and sr:ImportMPxN
MPANType = xs_string(13, 13)
PostCodeType = xs_string(8, 6)
AddressIdentifierType = xs_string(30)

ESMEVariantEnum = Literal[
    "A", "B", "C", "AD", "BD", "CD", "ADE", "BDE", "CDE", "ADF", "BDF", "CDF", "ADEF", "BDEF",
    "CDEF", "ADG", "ADEG", "AF", "BF", "CF", "AEF", "BEF", "CEF", "AG", "AEG",
]
StatusExceptCHEnum = Literal["Pending", "InstalledNotCommissioned"]
StatusCHEnum = Literal["Commissioned", "Withdrawn", "InstalledNotCommissioned"]
CHFInstallTypeEnum = Literal["New CHF Install", "Replacement CHF Install", "CHF Install - no SM WAN"]
CHFLocationEnum = Literal["Outside Premises", "Indoors on external wall", "Deep indoors", "Basement or Cellar"]
PremiseTypeEnum = Literal[
    "Detached / Semi Detached", "Terraced", "Low Rise Apartment (MDU <= 5 floors)",
    "High Rise Apartment (MDU > 5 floors)",
]


def _positive_integer_of_12_digits(value: str) -> str:
    """sr:UPRN: an xs:positiveInteger of at most 12 digits (totalDigits counts no leading zero)."""
    if not re.fullmatch(r"\+?[0-9]+", value) or not 1 <= int(value) < 10**12:
        raise PydanticCustomError("xs_type", "not a positive integer of at most 12 digits")
    return value


UPRNType = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_positive_integer_of_12_digits)]

_XS_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}


def _xs_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() in _XS_BOOLEAN:
        return _XS_BOOLEAN[value.strip()]
    raise PydanticCustomError("xs_type", "not an xs:boolean: true, false, 1 or 0")


XSBoolean = Annotated[bool, BeforeValidator(_xs_boolean)]

_XS_DATETIME = re.compile(
    r"(-?[0-9]{4,})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?")


def _xs_datetime(value: Any) -> Any:
    """xs:dateTime in its lexical form; 24:00:00 is the first instant of the next day, as the XSD
    says. Only years 1 to 9999 can be held."""
    if isinstance(value, datetime):
        return value
    found = _XS_DATETIME.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise PydanticCustomError("xs_type", "not an xs:dateTime (YYYY-MM-DDThh:mm:ss, optional "
                                             "fraction of a second and time zone)")
    year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
    fraction, zone = found.group(7) or "", found.group(8)
    end_of_day = (hour, minute, second) == (24, 0, 0) and not fraction.strip(".0")
    try:
        if not 1 <= year <= 9999:
            raise ValueError("only the years 1 to 9999 are accepted")
        at = datetime(year, month, day, 0 if end_of_day else hour, minute, second,
                      int((fraction[1:] + "000000")[:6]), _zone(zone))
        return at + timedelta(days=1) if end_of_day else at
    except (ValueError, OverflowError) as error:
        raise PydanticCustomError("xs_type", "not an xs:dateTime: {error}", {"error": str(error)}) from None


def _zone(zone: str | None) -> timezone | None:
    if zone is None:
        return None
    if zone == "Z":
        return timezone.utc
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if minutes > 59 or hours * 60 + minutes > 14 * 60:
        raise ValueError(f"time zone {zone} is outside -14:00 to +14:00")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if zone[0] == "-" else offset)


def _convertible_to_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None:
        try:
            value.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("the instant is outside the years 1 to 9999 in UTC") from None
    return value


XSDateTime = Annotated[datetime, BeforeValidator(_xs_datetime), AfterValidator(_convertible_to_utc)]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _empty_element(value: Any) -> Any:
    """`<DeleteDevice/>` decodes to "" (XML) or {} / true (JSON): all mean 'present'. Its XSD
    type is an empty complexType: an element inside it is not part of the request."""
    if isinstance(value, dict) and value:
        raise PydanticCustomError("extra_forbidden", "{names} is not an element of this empty element",
                                  {"names": ", ".join(value)})
    return True if value in ("", {}, None, True) else value


def _false_is_absent(value: bool | None) -> bool | None:
    """DeleteDevice false (or "false", 0) asks for no deletion: as if the element were not given."""
    return True if value else None


EUIList = Annotated[list[EUI], BeforeValidator(_as_list)]


# --- the bodies ---

def _exactly_one(model: BaseModel, names: tuple[str, ...]) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise PydanticCustomError(
            "one_of", "exactly one of {names} must be given, got {given}",
            {"names": ", ".join(names), "given": ", ".join(given) or "none"},
        )


class Body(BaseModel):
    """Fields are declared in the XSD's sequence order; `xsd_choice` names the elements of the
    type's xs:choice, of which exactly one is given."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    xsd_choice: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _elements_in_order(cls, data: Any, info: ValidationInfo) -> Any:
        data = {} if data == "" else data
        if isinstance(data, dict) and info.context and info.context.get("in_document_order"):
            _check_order(cls, codec.document_order(data))
        return data

    @model_validator(mode="after")
    def _one_of_the_choice(self):
        if self.xsd_choice:
            _exactly_one(self, self.xsd_choice)
        return self

    @classmethod
    def in_order(cls, data: Any) -> Any:
        """The body with its elements (and those of its nested elements) in the XSD's order;
        names that are not elements of the type come last, as they were."""
        if not isinstance(data, dict):
            return data
        positions = _positions(cls)
        ordered = sorted(data, key=lambda name: positions.get(name, len(positions)))
        return {name: _nested_model(cls, name).in_order(data[name]) if _nested_model(cls, name)
                else data[name] for name in ordered}


@cache
def _positions(model: type[Body]) -> dict[str, int]:
    """Each element's place in the sequence; the elements of the xs:choice share one place."""
    positions: dict[str, int] = {}
    for index, name in enumerate(model.model_fields):
        choice_place = next((positions[c] for c in model.xsd_choice if c in positions), index)
        positions[name] = choice_place if name in model.xsd_choice else index
    return positions


def _check_order(model: type[Body], names: list[str]) -> None:
    positions = _positions(model)
    known = [n for n in names if n in positions]  # the others are refused as not part of the type
    for before, after in zip(known, known[1:]):
        if positions[after] < positions[before]:
            raise PydanticCustomError(
                "out_of_order", "{after} comes after {before}; the DUIS order is {order}",
                {"after": after, "before": before, "order": ", ".join(model.model_fields)})


def _nested_model(model: type[Body], name: str) -> type[Body] | None:
    field = model.model_fields.get(name)
    candidates = get_args(field.annotation) + (field.annotation,) if field else ()
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, Body)), None)


class DevicePrenotification(Body):
    DeviceID: EUI
    DeviceManufacturer: DeviceManufacturerType
    DeviceModel: DeviceModelType
    DeviceType: e.DeviceType
    SMETSCHTSVersion: SMETSCHTSVersionType | None = None
    FirmwareVersion: FirmwareVersionType | None = None
    ESMEVariant: ESMEVariantEnum | None = None
    AssociatedGPFDeviceID: EUI | None = None


class PropertyFilterValue(Body):
    PostCode: PostCodeType
    AddressIdentifier: AddressIdentifierType


class ReadInventory(Body):
    xsd_choice = ("UPRN", "DeviceID", "MPxN", "PropertyFilter")
    UPRN: UPRNType | None = None
    DeviceID: EUI | None = None
    MPxN: MPxNType | None = None
    PropertyFilter: PropertyFilterValue | None = None


class DecommissionDevice(Body):
    DeviceID: EUI


class DeviceDetails(Body):
    DeviceManufacturer: DeviceManufacturerType | None = None
    DeviceModel: DeviceModelType | None = None
    SMETSCHTSVersion: SMETSCHTSVersionType | None = None
    FirmwareVersion: FirmwareVersionType | None = None
    ESMEVariant: ESMEVariantEnum | None = None

    @model_validator(mode="after")
    def _something(self):
        # The XSD takes an empty UpdateDeviceDetails; an update of nothing is refused here.
        if not self.model_dump(exclude_none=True):
            raise PydanticCustomError("missing", "UpdateDeviceDetails names no detail to update")
        return self


class MPxNUpdate(Body):
    xsd_choice = ("ImportMPxN", "SecondaryImportMPAN", "ExportMPAN")
    ImportMPxN: MPxNType | None = None
    SecondaryImportMPAN: MPANType | None = None
    ExportMPAN: MPANType | None = None


class UpdateInventory(Body):
    xsd_choice = ("UpdateDeviceStatusExceptCH", "UpdateDeviceStatusCH", "UpdateDeviceDetails",
                  "DeleteDevice", "UpdateMPxN")
    DeviceID: EUI
    UpdateDeviceStatusExceptCH: StatusExceptCHEnum | None = None
    UpdateDeviceStatusCH: StatusCHEnum | None = None
    UpdateDeviceDetails: DeviceDetails | None = None
    DeleteDevice: Annotated[bool | None, BeforeValidator(_empty_element), AfterValidator(_false_is_absent)] = None
    UpdateMPxN: MPxNUpdate | None = None


class CHFInstallSuccessSMWAN(Body):
    DeviceID: EUI
    CHFInstallType: CHFInstallTypeEnum
    InstallDateTime: XSDateTime | None = None
    UserRefID: UserRefIDType | None = None
    MPxN: MPxNType
    GISData: GISDataType | None = None
    AerialInstall: XSBoolean
    CHFLocation: CHFLocationEnum
    AdditionalInformation: AdditionalInformationType | None = None


class CHFInstallSuccessNoSMWAN(Body):
    DeviceID: EUI
    CHFInstallType: CHFInstallTypeEnum
    InstallDateTime: XSDateTime | None = None
    UserRefID: UserRefIDType | None = None
    MPxN: MPxNType
    GISData: GISDataType | None = None
    AerialInstall: XSBoolean
    CHFLocation: CHFLocationEnum
    PremiseType: PremiseTypeEnum
    MetalObstructionCheck: XSBoolean
    ConnectivityObstructionCheck: XSBoolean
    SharedObstructionCheck: XSBoolean
    AdditionalInformation: AdditionalInformationType | None = None


class _BulkReturn(Body):
    """MP117: DeviceID repeats 1 to 999 times; the other fields apply to every hub. The fields
    are declared by each return, in its XSD order."""

    @model_validator(mode="before")
    @classmethod
    def _count_before_parsing(cls, data: Any) -> Any:
        # Checked before the fields so that 1000 IDs is E45, not 1000 separate EUI errors.
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
    DeviceID: EUIList
    CHFFaultReturnType: e.CHFFaultReturnType
    UserRefDateTime: XSDateTime | None = None
    UserRefID: UserRefIDType | None = None
    OtherDeviceID: EUIList
    IncidentReference: IncidentReferenceType | None = None
    CHFConnectionMethod: e.CHFConnectionMethod
    CHFFaultReason: e.CHFFaultReason
    AdditionalInformation: AdditionalInformationType | None = None

    @model_validator(mode="after")
    def _pairs(self):
        if len(self.OtherDeviceID) != len(self.DeviceID):
            raise PydanticCustomError(
                "other_id_count", "{other} OtherDeviceID for {ids} DeviceID",
                {"other": len(self.OtherDeviceID), "ids": len(self.DeviceID)},
            )
        return self


class CHFNoFaultReturn(_BulkReturn):
    DeviceID: EUIList
    CHFNoFaultReturnType: e.CHFNoFaultReturnType
    UserRefDateTime: XSDateTime | None = None
    UserRefID: UserRefIDType | None = None
    IncidentReference: IncidentReferenceType | None = None
    AdditionalInformation: AdditionalInformationType | None = None
