"""SmartDCC's public DUIS reference requests, as a DCC User's tooling sends them, through the real
topics: each answered with the code its SR's rules give, and every answer valid DUIS 5.4, signed
by the DCC, accepted by DCC Boxed's own validation tool and by SmartDCC's parser.

The templates are sent as published (npm `@smartdcc/duis-templates`, pinned in tools/duis) but for
their RequestID counter; the four other 8.4 choices come from ../shared/duis/derived-8.4. The
templates' devices are kept: ESME `...-A0` and CHF `...-A2`, the hub delivered first by its CSP.
"""
import re

import asyncpg
import orjson
import pytest

from deploy import duis_check
from services.intake.app import serve as intake
from services.intake.domain import parse_request_id
from services.inventory.app import serve as inventory
from services.returns.app import serve as returns
from shared.duis import codec
from shared.settings import REPO_ROOT
from tests.support import CSP_NORTH, SUPPLIER, free_port, running

pytestmark = pytest.mark.integration

TEMPLATES = REPO_ROOT / "tools" / "duis" / "node_modules" / "@smartdcc" / "duis-templates" / "templates"
DERIVED = REPO_ROOT.parent / "shared" / "duis" / "derived-8.4"
ESME, CHF, GPF = "00-DB-12-34-56-78-90-A0", "00-DB-12-34-56-78-90-A2", "00-DB-12-34-56-78-90-A3"

# In order, each on the SMI the ones before it left; the code is what the SR's rules give there
# (docs/inventory-transitions.md).
STEPS = [
    ("12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML", "I0"),            # ESME enters, Pending
    ("8.2_READ_INVENTORY_REQUEST_DUIS.XML", "I0"),                      # the hub, as delivered
    ("derived:8.4_UPDATE_INVENTORY_STATUS_EXCEPT_CH_DERIVED_REQUEST_DUIS.XML", "I0"),  # ESME -> INC
    ("derived:8.4_UPDATE_INVENTORY_DEVICE_DETAILS_DERIVED_REQUEST_DUIS.XML", "I0"),
    ("derived:8.4_UPDATE_INVENTORY_MPXN_DERIVED_REQUEST_DUIS.XML", "I0"),
    ("8.3_DECOMMISSION_DEVICE_REQUEST_DUIS.XML", "I0"),                 # INC -> Decommissioned
    ("8.4_UPDATE_INVENTORY_REQUEST_DUIS.XML", "E31"),                   # DeleteDevice: only Pending
    ("8.14.2_COMMUNICATIONS_HUB_STATUS_UPDATE_INSTALL_NO_SM_WAN_REQUEST_DUIS.XML", "I0"),  # hub -> INC
    ("derived:8.4_UPDATE_INVENTORY_STATUS_CH_DERIVED_REQUEST_DUIS.XML", "E31"),  # INC -> INC: no move
    ("8.14.1_COMMUNICATIONS_HUB_STATUS_UPDATE_INSTALL_SUCCESS_REQUEST_DUIS.XML", "I0"),   # -> Commissioned
    ("8.14.3_COMMUNICATIONS_HUB_STATUS_UPDATE_FAULT_RETURN_REQUEST_DUIS.XML", "I0"),      # returned
    ("8.14.4_COMMUNICATIONS_HUB_STATUS_UPDATE_NO_FAULT_RETURN_REQUEST_DUIS.XML", "E081405"),  # open return
]
_COUNTER = re.compile(rb"(<sr:RequestID>[^<]*:)[0-9]+(</sr:RequestID>)")


def template(name: str) -> bytes:
    path = DERIVED / name.removeprefix("derived:") if name.startswith("derived:") else TEMPLATES / name
    return path.read_bytes()


def with_counter(raw: bytes, counter: int) -> bytes:
    changed, count = _COUNTER.subn(rb"\g<1>" + str(counter).encode() + rb"\g<2>", raw)
    assert count == 1
    return changed


@pytest.fixture(scope="module", autouse=True)
def tools_present():
    duis_check.require_tools()


async def test_every_reference_request_answered_by_its_rules_in_valid_signed_duis(settings, bus):
    topics = settings.topics
    answers = []
    api = settings.model_copy(update={"http_port": free_port()})
    reading = settings.model_copy(update={"inventory_url": f"http://127.0.0.1:{api.http_port}"})
    async with running(intake, reading), running(inventory, api), running(returns, settings):
        await bus.send(topics.csp_events, orjson.dumps({
            "type": "CommsHubDelivered", "chf_id": CHF, "gpf_id": GPF, "csp_id": CSP_NORTH,
            "ordering_party": SUPPLIER, "csp_region": "North", "manufacturer": "ACME", "model": "CH-1"}))
        await bus.read(topics.device_events, count=2)
        for counter, (name, _) in enumerate(STEPS, start=2000):
            await bus.send(topics.requests, with_counter(template(name), counter), key=SUPPLIER.encode(),
                           headers={"content-type": "application/xml"})
            answers = await bus.read(topics.responses, count=len(answers) + 1, timeout=30)
        answers = await bus.read(topics.responses, count=len(STEPS), settle=1.0)

    by_counter = {int(r.headers and dict(r.headers)["request-id"].decode().rsplit(":", 1)[1]): r
                  for r in answers}
    got = {name: codec.read(by_counter[c].value)["Header"]["ResponseCode"]
           for c, (name, _) in enumerate(STEPS, start=2000)}
    assert got == dict(STEPS), [dict(r.headers).get("response-reason") for r in answers]
    documents = [r.value for r in answers]
    for document in documents:
        assert duis_check.validate_xsd(document) == [], document
    for ok, said in duis_check.boxed_validate_many(documents):
        assert ok and "passed signature check" in said, said
    assert all(duis_check.parse_many(documents)), "SmartDCC's parser refused an answer"
    [read] = [codec.read(by_counter[2001].value)]
    [device] = [read["Body"]["ResponseMessage"]["DSPInventory"]["Device"]]
    assert (device["DeviceID"], device["DeviceType"], device["DeviceStatus"]) == (CHF, "CHF", "Pending")
    conn = await asyncpg.connect(settings.database_url)
    try:
        read_id = parse_request_id(dict(by_counter[2001].headers)["request-id"].decode(), settings.dcc_eui)
        outcome = await conn.fetchval("select outcome from intake.requests where request_id = $1",
                                      read_id.canonical)
    finally:
        await conn.close()
    assert outcome == "answered", "the read was answered by intake from inventory's read API"
