"""The table of response codes and DCC Alert codes: one meaning per code, every one a value of
the DUIS 5.4 XSD's `ResponseCode` or `DCCAlertCode` enumeration (a test reads the XSD).
Published in docs/response-codes.md.

`I0` is success, `W...` accepted in part, `E...` rejected. The XSD names the codes but not their
meanings, and the DUIS text of most of them is not public: each meaning below is the project's
decision. SR-specific conditions take the SR's own codes where the enumeration has them (E0802xx
for 8.2, E0814xx / W081401 for 8.14, E1202xx for 12.2); the others take general codes E40 to E55.
Every code is in DUIS 5.1's enumeration too, so tooling built on the older schema (DCC Boxed's
validation tool among it) takes every answer.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    meaning: str
    scope: str  # who gives it: intake, inventory or returns


_TABLE = [
    Code("I0", "Success: the request was processed", "all"),
    Code("W081401", "Accepted in part: some hubs of a bulk return were refused; see each hub's code", "returns"),
    # Envelope and header (intake)
    Code("E2", "Not a DUIS Request: wrong namespace, wrong root element or no schemaVersion", "intake"),
    Code("E3", "RequestID is not originator:target:counter with EUI-64 originator and target", "intake"),
    Code("E4", "RequestID counter is outside 0 to 2^64-1", "intake"),
    Code("E5", "RequestID target is not the DCC", "intake"),
    Code("E11", "A Device ID or party ID is not a valid EUI-64", "intake"),
    Code("E12", "A value is not in its DUIS enumeration", "intake"),
    Code("E13", "A value has the wrong type, length or format", "intake"),
    Code("E17", "Request is larger than the size limit", "intake"),
    Code("E19", "Exactly one of the choice elements must be given", "intake"),
    Code("E40", "CommandVariant must be 8 for this Service Request", "intake"),
    Code("E41", "ServiceReference does not match ServiceReferenceVariant", "intake"),
    Code("E42", "Service Reference Variant is not served by this system", "intake"),
    Code("E43", "Body must hold exactly the element of its Service Reference Variant", "intake"),
    Code("E44", "A required element is missing", "intake"),
    Code("E45", "Too many Device IDs: a bulk return takes at most 999", "intake"),
    Code("E46", "The same Device ID appears more than once in the request", "intake"),
    Code("E47", "OtherDeviceID must repeat as many times as DeviceID", "intake"),
    Code("E48", "An element is not part of this Service Request, or out of its DUIS order", "intake"),
    # Authorisation (intake)
    Code("E20", "Originator is not a DCC User in the party registry", "intake"),
    Code("E21", "The originator's User Roles do not allow this Service Request", "intake"),
    Code("E49", "Request signature is missing", "intake"),
    Code("E50", "Request signature does not verify against the originator's certificate", "intake"),
    # Inventory
    Code("E30", "Device is not in the Smart Metering Inventory", "inventory"),
    Code("E31", "SMI Status change not allowed from the device's current status", "inventory"),
    Code("E51", "Originator may not act on this device (not its Responsible Supplier, Notifying Party "
                "or the party the hub was delivered to)", "inventory, returns"),
    Code("E52", "Type 2 devices (IHD, CAD) have no SMI Status", "inventory"),
    Code("E53", "Update does not apply to this Device Type", "inventory"),
    Code("E080201", "Read Inventory by UPRN or property filter is not supported", "inventory"),
    Code("E120201", "Device is already in the Smart Metering Inventory", "inventory"),
    Code("E120203", "Comms Hub Functions and Gas Proxy Functions are added by their CSP, not pre-notified",
         "inventory"),
    # Returns, per hub and overall
    Code("E54", "No hub of the bulk return was accepted; see each hub's code", "returns"),
    Code("E081401", "Hub is not in the Smart Metering Inventory", "returns"),
    Code("E081402", "Device is not a Communications Hub Function", "returns"),
    Code("E081405", "Hub is already under an open return", "returns"),
    Code("E55", "Hub's SMI Status does not allow a return", "returns"),
]

CODES: dict[str, Code] = {c.code: c for c in _TABLE}
assert len(CODES) == len(_TABLE), "response codes must be unique"

# DCC Alerts: a `Response` whose Body is `DCCAlertMessage` {DCCAlertCode, DCCAlert payload}.
DEVICE_REMOVED = "N8"  # the seeds name N8 for a housekeeping removal
# No DUIS alert announces an overdue return; N999 is the enumeration's last code and no other
# alert of this platform uses it. Its payload is the DUIS `CommsHubAlert` of the hub.
RETURN_OVERDUE = "N999"
RETURN_OVERDUE_ALERT_CODE = "0814"  # CommsHubAlert/AlertCode (hexBinary): the SR that returned it

ALERTS: dict[str, Code] = {a.code: a for a in [
    Code(DEVICE_REMOVED, "A device was removed from the SMI by housekeeping; payload "
                         "DeviceStatusChangeEvent with DeviceStatusChange DeviceRemovedFromInventory",
         "housekeeping"),
    Code(RETURN_OVERDUE, "A returned Comms Hub was not received by its due date; payload CommsHubAlert "
                         f"(CommsHubDeviceID, AlertCode {RETURN_OVERDUE_ALERT_CODE}, TimeStamp: the due date)",
         "returns"),
]}


def meaning(code: str) -> str:
    return CODES[code].meaning


def render_markdown() -> str:
    lines = [
        "# Response codes",
        "",
        "Generated from `shared/codes.py`; a test keeps this file in step with the code.",
        "",
        "| code | meaning | given by |",
        "|---|---|---|",
    ]
    lines += [f"| `{c.code}` | {c.meaning} | {c.scope} |" for c in _TABLE]
    lines += ["", "## DCC Alert codes", "", "| code | meaning | sent by |", "|---|---|---|"]
    lines += [f"| `{a.code}` | {a.meaning} | {a.scope} |" for a in ALERTS.values()]
    lines += ["", "The human-readable reason of a response is not part of the DUIS document: it travels "
              "as the Kafka record header `response-reason`.", "",
              "These meanings are the project's: the DUIS 5.4 XSD lists every code that exists but "
              "not what each means."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
