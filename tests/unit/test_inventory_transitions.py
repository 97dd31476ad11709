"""The SMI Status transition table: every allowed move, every forbidden one, and the doc."""
from pathlib import Path

import pytest

from services.inventory import transitions as t

DOC = Path(__file__).resolve().parents[2] / "docs" / "inventory-transitions.md"
STATES = [None, *t.STATUSES]
MATRIX = [(cause, source, target) for cause in t.CAUSES for source in STATES for target in STATES]
EVERY_PARTY = {t.RS, t.NP, t.OP, t.USER, t.CSP, t.DCC}


def _id(case) -> str:
    cause, source, target = case
    return f"{cause}:{source or 'none'}->{target or 'none'}"


def test_the_doc_is_in_step_with_the_table():
    assert DOC.read_text() == t.render_markdown(), \
        "run: python -m services.inventory.transitions > docs/inventory-transitions.md"


@pytest.mark.parametrize("case", [c for c in MATRIX if t.allowed(*c)], ids=_id)
def test_allowed_move(case):
    cause, source, target = case
    move = t.allowed(cause, source, target)
    device_type = t.CAUSES[cause].applies_to[0]
    for party in move.parties:
        assert t.decide(cause, device_type, source, target, {party}) is move
    others = EVERY_PARTY - move.parties
    with pytest.raises(t.Refused) as refused:
        t.decide(cause, device_type, source, target, others)
    assert refused.value.code == "E51"


@pytest.mark.parametrize("case", [c for c in MATRIX if not t.allowed(*c)], ids=_id)
def test_forbidden_move(case):
    cause, source, target = case
    with pytest.raises(t.Refused) as refused:
        t.decide(cause, t.CAUSES[cause].applies_to[0], source, target, EVERY_PARTY)
    assert refused.value.code == "E31"
    assert (source or "(not in the SMI)") in refused.value.reason


def test_the_matrix_has_the_expected_size():
    assert len(MATRIX) == len(t.CAUSES) * 100
    assert sum(1 for c in MATRIX if t.allowed(*c)) == len(t.TABLE) == 27


@pytest.mark.parametrize("device_type", ["IHD", "CAD"])
@pytest.mark.parametrize("cause", list(t.CAUSES))
def test_type_2_devices_take_no_status_move(device_type, cause):
    with pytest.raises(t.Refused) as refused:
        t.decide(cause, device_type, None, "Pending", EVERY_PARTY)
    assert refused.value.code == "E52"


@pytest.mark.parametrize("cause, device_type", [
    ("8.4 UpdateDeviceStatusExceptCH", "CHF"), ("8.4 UpdateDeviceStatusExceptCH", "GPF"),
    ("8.4 UpdateDeviceStatusCH", "ESME"), ("8.14.1", "GPF"), ("8.14.2", "GSME"),
    ("ReturnHubs", "GPF"), ("ReturnHubs", "ESME"), ("12.2", "CHF"), ("CommsHubDelivered", "ESME"),
])
def test_a_cause_for_another_device_type_is_refused(cause, device_type):
    source, target = next((m.source, m.target) for m in t.TABLE if m.cause == cause)
    with pytest.raises(t.Refused) as refused:
        t.decide(cause, device_type, source, target, EVERY_PARTY)
    assert refused.value.code == "E53"


def test_return_to_pending_is_the_responsible_suppliers_and_marked_ac_7_1():
    for source in ("Decommissioned", "Whitelisted", "Withdrawn"):
        move = t.allowed("8.4 UpdateDeviceStatusExceptCH", source, "Pending")
        assert move.parties == {t.RS} and move.basis == "AC 7.1"
