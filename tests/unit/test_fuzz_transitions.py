"""Property-based fuzzing of the SMI Status transition table: any question gets a move of the
table or one of its four refusals; a refused move changes nothing, so every walk of a device
follows the table's rows; Type 2 devices never carry a status; the rendered doc is the table."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given, settings, strategies as st

from services.inventory import domain, transitions as t
from shared.duis import models

FUZZ = settings(max_examples=300, deadline=None)
DOC = Path(__file__).resolve().parents[2] / "docs" / "inventory-transitions.md"
PARTIES = (t.RS, t.NP, t.OP, t.USER, t.CSP, t.DCC)
ME, OTHER = "90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-01-00-01"
START = datetime(2024, 1, 1, tzinfo=timezone.utc)

causes = st.sampled_from(list(t.CAUSES))
statuses = st.sampled_from([None, *t.STATUSES])
device_types = st.sampled_from(t.DEVICE_TYPES)
askers = st.sets(st.sampled_from(PARTIES))


@FUZZ
@given(causes, device_types, statuses, statuses, askers)
def test_every_question_gets_a_row_of_the_table_or_a_documented_refusal(cause, device_type, source, target, asker):
    try:
        move = t.decide(cause, device_type, source, target, asker)
    except t.Refused as refused:
        assert refused.code in {"E31", "E51", "E52", "E53"} and refused.reason
        expected = ("E52" if device_type in t.TYPE_2_DEVICES
                    else "E53" if device_type not in t.CAUSES[cause].applies_to
                    else "E31" if t.allowed(cause, source, target) is None else "E51")
        assert refused.code == expected
        return
    assert move in t.TABLE and (move.cause, move.source, move.target) == (cause, source, target)
    assert move.parties & asker and device_type in t.CAUSES[cause].applies_to


@FUZZ
@given(st.sampled_from(sorted(t.TYPE_2_DEVICES)), causes, statuses, statuses, askers)
def test_type_2_devices_take_no_status_whatever_is_asked(device_type, cause, source, target, asker):
    try:
        t.decide(cause, device_type, source, target, asker | set(PARTIES))
    except t.Refused as refused:
        assert refused.code == "E52"
    else:
        raise AssertionError(f"{device_type} was given a status move")


@FUZZ
@given(st.sampled_from(sorted(t.TYPE_2_DEVICES)), st.sampled_from(["IS", "ED", "OU"]))
def test_type_2_devices_enter_the_smi_without_a_status(device_type, role):
    body = models.DevicePrenotification(DeviceID="00-DB-12-34-56-78-90-A2", DeviceManufacturer="ACME",
                                        DeviceModel="M1", DeviceType=device_type)
    device = domain.prenotified(body, ME, [role], START)
    assert device.status is None and device.status_since is None


# A step of a walk: what is asked (half the time a row of the table), who asks, and what the
# asker is to the device.
asked = st.one_of(st.tuples(causes, st.sampled_from(t.STATUSES)),
                  st.sampled_from([(m.cause, m.target) for m in t.TABLE if m.target]))
steps = st.lists(st.tuples(asked, st.sampled_from([ME, OTHER]), st.sampled_from(["rs", "np", "op", "none"])),
                 max_size=25)


def _entered(device_type: str) -> domain.Device:
    cause = "CommsHubDelivered" if device_type in t.HUBS else "12.2"
    move = t.decide(cause, device_type, None, "Pending", {t.CSP, t.USER})
    return domain.Device(device_id="00-DB-12-34-56-78-90-A2", device_type=device_type, status=move.target,
                         status_since=START, manufacturer="ACME", model="M1", notifying_party=OTHER,
                         notifying_party_kind="service_user", added_at=START)


def _with_relation(device: domain.Device, relation: str) -> domain.Device:
    """The device as owned so that ME holds `relation` to it (or none)."""
    owner = {"rs": "responsible_supplier", "np": "notifying_party", "op": "ordering_party"}.get(relation)
    return replace(device, **{owner: ME}) if owner else device


@FUZZ
@given(st.sampled_from(t.WITH_STATUS), steps)
def test_a_refused_move_changes_nothing_and_every_walk_follows_the_table(device_type, walk):
    device = _entered(device_type)
    at = START
    for (cause, target), party, relation in walk:
        device = _with_relation(device, relation)
        at += timedelta(days=1)
        before = device
        try:
            move = t.decide(cause, device.device_type, device.status, target, device.relations(party))
        except t.Refused:
            assert device == before
            continue
        assert (cause, before.status, target) == (move.cause, move.source, move.target)
        device = device.moved(target, at)
        assert device.status == target and device.status_since == at
        assert device.ever_left_pending == (before.ever_left_pending or target != "Pending")
        assert device.commissioned_at == (at if target == "Commissioned" else before.commissioned_at)
    assert device.status in t.STATUSES


def _rows(markdown: str) -> set[tuple[str, str, str]]:
    table = markdown.split("## Causes")[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    return {(cells[0][2:], cells[2], cells[3]) for cells in rows[1:]}


def _cells(move: t.Move) -> tuple[str, str, str]:
    return (move.cause, move.source or "(not in the SMI)",
            move.target or "(archived: leaves the SMI)")


@FUZZ
@given(st.sampled_from(t.TABLE))
def test_every_move_of_the_table_has_its_row_in_the_doc(move):
    rendered = t.render_markdown()
    row = (f"| {move.cause} | {', '.join(t.CAUSES[move.cause].applies_to)} | {_cells(move)[1]} "
           f"| {_cells(move)[2]} | {' or '.join(sorted(move.parties))} | {move.basis} |")
    assert row in rendered.splitlines()
    assert f"| {move.cause} | {t.CAUSES[move.cause].description} |" in rendered


@FUZZ
@given(causes, statuses, statuses)
def test_the_doc_lists_a_move_exactly_when_the_table_allows_it(cause, source, target):
    listed = _rows(DOC.read_text())
    asked = (cause, source or "(not in the SMI)", target or "(archived: leaves the SMI)")
    assert (asked in listed) == (t.allowed(cause, source, target) is not None)
    assert listed == {_cells(m) for m in t.TABLE} and len(listed) == len(t.TABLE)
