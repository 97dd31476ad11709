"""Requests signed by SmartDCC's own DCC Boxed tool, with its reference supplier's test key, are
accepted by a platform that requires signatures; the same signed bytes altered are refused.

The registry's certificate for 90-B3-D5-1F-30-01-00-00 is its DCC Boxed one (deploy/parties.yaml,
`certificate_file`), as in the development registry every test platform loads."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from deploy import duis_check
from deploy.duis_tools import TEMPLATES
from services.intake.app import serve as intake
from services.inventory.app import serve as inventory
from services.returns.app import serve as returns
from shared.duis import codec
from shared.settings import DEV_KEYS
from tests.conftest import unavailable
from tests.support import Bus, drop_database, isolated_settings, running

pytestmark = pytest.mark.integration

VARIANTS = ["12.2", "8.2", "8.3", "8.4", "8.14.1", "8.14.2", "8.14.3", "8.14.4"]
# The codes that would mean the request was refused for its envelope, its form or its signature
# rather than judged by its Service Request's rules.
REFUSALS = {"E2", "E3", "E11", "E12", "E13", "E19", *(f"E{n}" for n in range(40, 51))}
REFERENCE_CERTIFICATE = DEV_KEYS / "xml-sign-90B3D51F30010000-ds.pem"
REFUSED_AS = {"altered after signing": "E50", "placeholder signature": "E50", "unsigned": "E49"}


def template(variant: str) -> bytes:
    found = sorted(TEMPLATES.glob(f"{variant}_*.XML"))
    if not found:
        unavailable(f"no reference template {variant} in {TEMPLATES}: run `make duis-tools`")
    return found[0].read_bytes()


def with_counter(document: bytes, counter: int) -> bytes:
    return document.replace(b":1000</sr:RequestID>", f":{counter}</sr:RequestID>".encode(), 1)


def altered(signed: bytes) -> bytes:
    """The signed bytes with one character of the Body's first DeviceID changed."""
    body = signed.index(b"<sr:Body>")
    found = re.compile(rb"<sr:DeviceID>[0-9A-F-]*([0-9A-F])</sr:DeviceID>").search(signed, body)
    at = found.start(1)
    digit = b"%X" % ((int(signed[at:at + 1], 16) + 1) % 16)
    changed = signed[:at] + digit + signed[at + 1:]
    assert codec.decode(changed).request_id == codec.decode(signed).request_id
    return changed


@pytest.fixture(scope="module")
def requests() -> dict[str, list[tuple[str, bytes]]]:
    """Per variant: (what it is, the request's bytes). Each template is signed by DCC Boxed with
    the reference supplier's key, and again under another counter to be altered afterwards; the
    8.2 template is also sent as published (its placeholder signature) and unsigned."""
    try:
        duis_check._java()
    except duis_check.ToolMissing as missing:
        unavailable(str(missing))
    if not REFERENCE_CERTIFICATE.is_file():
        unavailable(f"{REFERENCE_CERTIFICATE} is missing: run `make duis-tools`")
    # Distinct counters: the altered copy must not read as a replay of the accepted one.
    originals = [with_counter(template(v), 7000 + n) for n, v in enumerate(VARIANTS)]
    to_alter = [with_counter(template(v), 8000 + n) for n, v in enumerate(VARIANTS)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        signed = list(pool.map(duis_check.boxed_sign, originals + to_alter))
    requests = {variant: [("signed", signed[n]), ("altered after signing", altered(signed[len(VARIANTS) + n]))]
                for n, variant in enumerate(VARIANTS)}
    unsigned = re.sub(rb"\s*<ds:Signature.*</ds:Signature>", b"", with_counter(template("8.2"), 9001), flags=re.S)
    requests["8.2"] += [("placeholder signature", with_counter(template("8.2"), 9000)), ("unsigned", unsigned)]
    return requests


async def test_requests_signed_by_dcc_boxed_are_accepted_and_altered_ones_refused(
        requests, kafka_bootstrap, database_url):
    settings = await isolated_settings(kafka_bootstrap, database_url, signature_mode="required",
                                       returns_overdue_check_seconds=0)
    bus = Bus(settings)
    sent = {codec.decode(raw).request_id: (variant, kind)
            for variant, pairs in requests.items() for kind, raw in pairs}
    try:
        async with running(intake, settings), running(inventory, settings), running(returns, settings):
            for pairs in requests.values():
                for _, raw in pairs:
                    await bus.send(settings.topics.requests, raw, headers={"content-type": "application/xml"})
            answers = await bus.read(settings.topics.responses, count=len(sent), timeout=60, settle=1.0)
    finally:
        await bus.close()
        await drop_database(settings, database_url)

    codes: dict[tuple[str, str], list[str]] = {}
    for answer in answers:
        header = codec.read(answer.value)["Header"]
        codes.setdefault(sent[header["RequestID"]], []).append(header["ResponseCode"])
    assert {key: len(c) for key, c in codes.items()} == dict.fromkeys(sent.values(), 1), \
        "exactly one answer per request"
    wrong = {f"{variant}, {kind}": code for (variant, kind), [code] in codes.items()
             if (code in REFUSALS if kind == "signed" else code != REFUSED_AS[kind])}
    assert wrong == {}, "signed requests must be judged by their rules, altered or unsigned ones refused"
