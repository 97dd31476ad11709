"""Property-based fuzzing of the EUI-64 type: every valid spelling has one canonical form, and
nothing else passes: not look-alike characters, not other separators, not other lengths."""
import re

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import TypeAdapter, ValidationError

from services.intake import domain
from shared.duis import build
from shared.eui import EUI, InvalidEUI, canonical_eui, is_eui

FUZZ = settings(max_examples=300, deadline=None)
ADAPTER = TypeAdapter(EUI)
HEX = "0123456789abcdefABCDEF"
ASCII_EUI = re.compile(r"[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){7}", re.ASCII)
# Characters that render like a hex digit or a hyphen and are neither.
LOOK_ALIKES = (
    "\u0410\u0412\u0421\u0415\u0430\u0441\u0435"  # Cyrillic А В С Е а с е
    "\u0391\u0392\u0395\u03bf"                    # Greek Α Β Ε ο
    "\uff10\uff11\uff12\uff19\uff21\uff26\uff41"  # full-width ０ １ ２ ９ Ａ Ｆ ａ
    "\U0001d7ce\U0001d7d8\u0660\u0966\u09e6"      # mathematical, Arabic-Indic, Devanagari, Bengali digits
    "Oolist"                                      # letters read as digits
    "\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d\u00ad"  # hyphens, dashes, minus signs
)

pairs = st.lists(st.text(HEX, min_size=2, max_size=2), min_size=8, max_size=8)
valid = pairs.map("-".join)


@FUZZ
@given(valid)
def test_every_valid_spelling_normalises_to_one_canonical_form(value):
    canonical = canonical_eui(value)
    assert is_eui(value) and canonical == value.upper()
    assert canonical_eui(value.lower()) == canonical_eui(value.upper()) == canonical
    assert ADAPTER.validate_python(value) == canonical


@FUZZ
@given(valid)
def test_the_canonical_form_round_trips(value):
    canonical = canonical_eui(value)
    assert canonical_eui(canonical) == canonical
    assert bytes.fromhex(canonical.replace("-", "")).hex("-").upper() == canonical


@FUZZ
@given(valid, st.data())
def test_one_look_alike_character_anywhere_is_refused(value, data):
    position = data.draw(st.integers(0, len(value) - 1))
    forged = value[:position] + data.draw(st.sampled_from(LOOK_ALIKES)) + value[position + 1:]
    _refused(forged)


@FUZZ
@given(valid, st.data())
def test_an_inserted_character_is_refused(value, data):
    position = data.draw(st.integers(0, len(value)))
    extra = data.draw(st.one_of(st.sampled_from(LOOK_ALIKES + HEX + "- \t\n:\u200b"), st.characters()))
    _refused(value[:position] + extra + value[position:])


@FUZZ
@given(st.lists(st.text(HEX, min_size=2, max_size=2), max_size=12).filter(lambda p: len(p) != 8),
       st.sampled_from(["-", ":", ".", "", " "]))
def test_any_other_number_of_pairs_is_refused(wrong_count, separator):
    _refused(separator.join(wrong_count))


@FUZZ
@given(st.lists(st.text(HEX, min_size=1, max_size=4), min_size=8, max_size=8).filter(
    lambda groups: any(len(g) != 2 for g in groups)))
def test_groups_of_other_lengths_are_refused(groups):
    _refused("-".join(groups))


@FUZZ
@given(st.text(max_size=30))
def test_arbitrary_text_passes_exactly_when_it_is_the_ascii_form(value):
    assert is_eui(value) == bool(ASCII_EUI.fullmatch(value))


@pytest.mark.parametrize("value", [None, 5, 0x00DB123456789A2, b"00-DB-12-34-56-78-90-A2", ["00-DB-12-34-56-78-90-A2"]])
def test_values_that_are_not_text_are_refused(value):
    assert not is_eui(value)
    with pytest.raises(ValidationError) as refused:
        ADAPTER.validate_python(value)
    assert refused.value.errors()[0]["type"] == "eui"


@FUZZ
@given(valid, st.integers(0, 2**64 - 1))
def test_a_request_id_carries_its_originator_in_canonical_form(originator, counter):
    request_id = domain.parse_request_id(f"{originator}:{build.DCC_EUI.lower()}:{counter}", build.DCC_EUI)
    assert request_id.originator == canonical_eui(originator)
    assert request_id.canonical == f"{canonical_eui(originator)}:{build.DCC_EUI}:{counter}"


@FUZZ
@given(valid, st.data())
def test_a_look_alike_originator_makes_the_request_id_unusable(originator, data):
    position = data.draw(st.integers(0, len(originator) - 1))
    forged = originator[:position] + data.draw(st.sampled_from(LOOK_ALIKES)) + originator[position + 1:]
    with pytest.raises(domain.Refused) as refused:
        domain.parse_request_id(f"{forged}:{build.DCC_EUI}:1", build.DCC_EUI)
    assert refused.value.code == "E3"


@FUZZ
@given(st.integers(0, 2**48 - 1), st.integers(0, 2**48 - 1))
def test_synthetic_device_ids_are_valid_and_distinct(n, m):
    assert is_eui(build.device_id(n))
    assert (build.device_id(n) == build.device_id(m)) == (n == m)


def _refused(value: str) -> None:
    assert not is_eui(value)
    with pytest.raises(InvalidEUI):
        canonical_eui(value)
    with pytest.raises(ValidationError) as refused:
        ADAPTER.validate_python(value)
    assert refused.value.errors()[0]["type"] == "eui"
