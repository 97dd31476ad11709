"""The table of response codes: one meaning per code. Published in docs/response-codes.md.

`I0` is success, `W...` accepted in part, `E...` rejected. DUIS keeps the meanings of its own
E codes private, so this table is the project's own; SR-specific codes follow the DUIS shape
(E1202xx for 12.2, E0814xx for 8.14).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    meaning: str
    scope: str  # who gives it: intake, inventory or returns


_TABLE = [
    Code("I0", "Success: the request was processed", "all"),
    Code("W1", "Accepted in part: some hubs of a bulk return were refused; see each hub's code", "returns"),
    # Envelope and header (intake)
    Code("E2", "Not a DUIS Request: wrong namespace, wrong root element or no schemaVersion", "intake"),
    Code("E3", "RequestID is not originator:target:counter with EUI-64 originator and target", "intake"),
    Code("E4", "RequestID counter is outside 0 to 2^64-1", "intake"),
    Code("E5", "RequestID target is not the DCC", "intake"),
    Code("E6", "CommandVariant must be 8 for this Service Request", "intake"),
    Code("E7", "ServiceReference does not match ServiceReferenceVariant", "intake"),
    Code("E8", "Service Reference Variant is not served by this system", "intake"),
    Code("E9", "Body must hold exactly the element of its Service Reference Variant", "intake"),
    Code("E10", "A required element is missing", "intake"),
    Code("E11", "A Device ID or party ID is not a valid EUI-64", "intake"),
    Code("E12", "A value is not in its DUIS enumeration", "intake"),
    Code("E13", "A value has the wrong type, length or format", "intake"),
    Code("E14", "Too many Device IDs: a bulk return takes at most 999", "intake"),
    Code("E15", "The same Device ID appears more than once in the request", "intake"),
    Code("E16", "OtherDeviceID must repeat as many times as DeviceID", "intake"),
    Code("E17", "Request is larger than the size limit", "intake"),
    Code("E18", "An element is not part of this Service Request", "intake"),
    Code("E19", "Exactly one of the choice elements must be given", "intake"),
    # Authorisation (intake)
    Code("E20", "Originator is not a DCC User in the party registry", "intake"),
    Code("E21", "The originator's User Roles do not allow this Service Request", "intake"),
    Code("E22", "Request signature is missing", "intake"),
    Code("E23", "Request signature does not verify against the originator's certificate", "intake"),
    # Inventory
    Code("E30", "Device is not in the Smart Metering Inventory", "inventory"),
    Code("E31", "SMI Status change not allowed from the device's current status", "inventory"),
    Code("E32", "Originator may not act on this device (not its Responsible Supplier or Notifying Party)", "inventory"),
    Code("E33", "Type 2 devices (IHD, CAD) have no SMI Status", "inventory"),
    Code("E34", "Update does not apply to this Device Type", "inventory"),
    Code("E35", "Read Inventory by UPRN or property filter is not supported", "inventory"),
    Code("E120201", "Device is already in the Smart Metering Inventory", "inventory"),
    Code("E120202", "Comms Hub Functions and Gas Proxy Functions are added by their CSP, not pre-notified", "inventory"),
    # Returns, per hub and overall
    Code("E081400", "No hub of the bulk return was accepted; see each hub's code", "returns"),
    Code("E081401", "Hub is not in the Smart Metering Inventory", "returns"),
    Code("E081402", "Device is not a Communications Hub Function", "returns"),
    Code("E081403", "Hub belongs to another party", "returns"),
    Code("E081404", "Hub is already under an open return", "returns"),
    Code("E081405", "Hub's SMI Status does not allow a return", "returns"),
]

CODES: dict[str, Code] = {c.code: c for c in _TABLE}
assert len(CODES) == len(_TABLE), "response codes must be unique"


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
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
