"""The JSON renderings of the DUIS documents, after the DUIS 5.4 XSD: the Request envelope, the
Response (with the MP117 amendment's per-hub results) and the DCC Alert. The record headers that
travel with them are the registry's."""
from typing import Any

from services.inventory.domain import MAX_DEVICES_PER_ANSWER
from shared import codes
from shared.duis import codec, enums
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.duis.models import MAX_BULK_IDS
from shared.registry import ALERT_HEADERS, RESPONSE_HEADERS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
EUI_PATTERN = "^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){7}$"
_DATE_TIME = {"type": "string", "format": "date-time"}
_EUI = {"type": "string", "pattern": EUI_PATTERN}


def _header(required: list[str], fields: dict[str, Any]) -> dict:
    return {"type": "object", "required": required, "properties": fields}


def request_schema() -> dict:
    return {
        "$schema": DRAFT, "title": "Request (JSON rendering)",
        "type": "object", "required": ["Header", "Body"],
        "properties": {
            "Header": _header(["RequestID", "CommandVariant", "ServiceReference", "ServiceReferenceVariant"], {
                "RequestID": {"type": "string", "description": "originator EUI:target EUI:counter"},
                "FirstInSequence": {"type": "boolean", "description": "accepted, not acted on"},
                "PrecedingServiceRequestID": {"type": "string", "description": "a RequestID; accepted, not acted on"},
                "CommandVariant": {"type": "integer"},
                "ServiceReference": {"type": "string"},
                "ServiceReferenceVariant": {"enum": sorted(SERVICE_REQUESTS)}}),
            "Body": {"oneOf": [
                {"type": "object", "required": [spec.element], "additionalProperties": False,
                 "properties": {spec.element: {"$ref": f"duis/{spec.element}.json"}}}
                for spec in SERVICE_REQUESTS.values()]},
        },
    }


_DATE_TIME = {"type": "string", "format": "date-time"}
_EUI = {"type": "string", "pattern": EUI_PATTERN}


def _object(required: list[str], fields: dict[str, Any], description: str | None = None) -> dict:
    """A JSON object whose keys are a DUIS element's children: no others (as the XSD says)."""
    found = {"type": "object", "required": required, "properties": fields, "additionalProperties": False}
    return {"description": description, **found} if description else found


def _device_schema() -> dict:
    """DUIS 5.4's `Device` as 8.2 answers it, in the XSD's order."""
    return _object(["DeviceID", "DeviceType", "DeviceManufacturer", "DeviceModel"], {
        "DeviceID": _EUI,
        "DeviceType": {"enum": list(enums.values(enums.DeviceType))},
        "DeviceStatus": {"enum": list(enums.values(enums.SMIStatus)),
                         "description": "the SMI Status; absent for Type 2 devices (IHD, CAD)"},
        "DeviceManufacturer": {"type": "string"},
        "DeviceModel": {"type": "string"},
        "SMETSCHTSVersion": {"type": "string"},
        "DeviceFirmwareVersion": {"type": "string"},
        "DateCommissioned": {"type": "string", "format": "date"},
        "ImportMPxN": {"type": "string", "description": "the meter point the device is at"},
        "ESMEVariant": {"type": "string"},
        "CSPRegion": {"enum": list(enums.values(enums.CSPRegion))},
        "S1SP": {"type": "string", "description": "SMETS1 devices only: their SMETS1 Service Provider"},
    })


def _hub_result_schema() -> dict:
    return _object(["DeviceID", "ResponseCode"], {
        "DeviceID": _EUI,
        "ResponseCode": {"enum": list(codes.CODES), "description": "this hub's own code"},
        "ReturnsRemedyRecordReference": {"type": "string", "description": "accepted hubs only"},
        "ReturnDueDate": {"type": "string", "format": "date", "description": "accepted hubs only"},
    })


def response_schema() -> dict:
    return {
        "$schema": DRAFT, "title": "Response (JSON rendering)",
        "description": "A DUIS 5.4 Response, element names as keys. The human-readable reason is not part "
                       "of the document: it is the record header response-reason (record headers: "
                       + ", ".join(RESPONSE_HEADERS) + ").",
        "type": "object", "required": ["schemaVersion", "Header", "Body"], "additionalProperties": False,
        "properties": {
            "schemaVersion": {"type": "string", "description": "the request's schemaVersion where it is a "
                                                               f"decimal, else {codec.SCHEMA_VERSION}"},
            "Header": _object(["ResponseCode", "ResponseDateTime"], {
                "RequestID": {"type": "string", "description": "left out where the request's RequestID is not "
                                                               "one the XSD takes (the record header request-id "
                                                               "still carries it)"},
                "ResponseID": {"type": "string", "description": "DCC EUI:originator EUI:the request's counter"},
                "ResponseCode": {"enum": list(codes.CODES), "description": "I0 success, W accepted in part, "
                                                                          "E rejected: docs/response-codes.md"},
                "ResponseDateTime": _DATE_TIME}),
            "Body": _object(["ResponseMessage"], {"ResponseMessage": _object(
                ["ServiceReference", "ServiceReferenceVariant"], {
                    "ServiceReference": {"type": "string", "examples": ["8.2", "8.14"]},
                    "ServiceReferenceVariant": {"type": "string", "description": "the request's (8.2 where it "
                                                                                 "named no DUIS 5.4 variant)"},
                    "DSPInventory": _object(["Device"], {"Device": {
                        "type": "array", "items": {"$ref": "#/$defs/Device"},
                        "minItems": 1, "maxItems": MAX_DEVICES_PER_ANSWER}},
                        "SR 8.2 Read Inventory: the devices found"),
                    "CHFReturnResults": _object(["HubResult"], {"HubResult": {
                        "type": "array", "items": {"$ref": "#/$defs/HubResult"},
                        "minItems": 2, "maxItems": MAX_BULK_IDS}},
                        "SR 8.14.3 / 8.14.4 of 2 to 999 hubs (the MP117 amendment): each hub's outcome. "
                        "A single-hub return is answered in pure DUIS 5.4: the Header's code is the hub's "
                        "own, and there is no payload"),
                },
                "ServiceReference and its variant, then the SR's payload where it has one")}),
        },
        "$defs": {"Device": _device_schema(), "HubResult": _hub_result_schema()},
    }


def alert_schema() -> dict:
    meanings = "; ".join(f"{code}: {alert.meaning}" for code, alert in codes.ALERTS.items())
    return {
        "$schema": DRAFT, "title": "DCC Alert (JSON rendering)",
        "description": "A DUIS 5.4 Response whose Body is DCCAlertMessage, element names as keys (record "
                       "headers: " + ", ".join(ALERT_HEADERS) + ").",
        "type": "object", "required": ["schemaVersion", "Header", "Body"], "additionalProperties": False,
        "properties": {
            "schemaVersion": {"const": codec.SCHEMA_VERSION},
            "Header": _object(["ResponseCode", "ResponseDateTime"], {
                "ResponseCode": {"const": "I0"}, "ResponseDateTime": _DATE_TIME},
                "An alert answers no request: no RequestID nor ResponseID"),
            "Body": _object(["DCCAlertMessage"], {"DCCAlertMessage": _object(["DCCAlertCode", "DCCAlert"], {
                "DCCAlertCode": {"enum": list(codes.ALERTS), "description": meanings},
                "DCCAlert": {"oneOf": [
                    _object(["DeviceStatusChangeEvent"], {"DeviceStatusChangeEvent": _object(
                        ["DeviceID", "DeviceStatusChange"], {
                            "DeviceID": _EUI,
                            "DeviceStatusChange": _object(["DeviceRemovedFromInventory"], {
                                "DeviceRemovedFromInventory": {"type": "object", "maxProperties": 0}})})},
                        f"{codes.DEVICE_REMOVED}: the device housekeeping removed from the SMI"),
                    _object(["CommsHubAlert"], {"CommsHubAlert": _object(
                        ["CommsHubDeviceID", "AlertCode"], {
                            "CommsHubDeviceID": _EUI,
                            "AlertCode": {"const": codes.RETURN_OVERDUE_ALERT_CODE},
                            "TimeStamp": {**_DATE_TIME, "description": "the date the return was due by"}})},
                        f"{codes.RETURN_OVERDUE}: a returned hub not received by its due date"),
                ]},
            })}),
        },
    }
