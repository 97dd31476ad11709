"""The housekeeping decision, on its own: calendar months, exclusions, rule modes."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from services.housekeeping.domain import (
    Decision, DueCutoff, Policy, TrackedDevice, add_months, age_in_months, decide, due_at, to_micros,
)

DEFAULT = Policy(version="t-1")
ACTIVE_ONLY = Policy(version="t-2", rule="previously-active-only")


def device(device_type="ESME", since=datetime(2024, 1, 1, tzinfo=UTC), ever_left_pending=False):
    return TrackedDevice("00-DB-12-34-56-78-90-A2", device_type, since, "90-B3-D5-1F-30-01-00-00",
                         True, ever_left_pending)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize("since, months, due", [
    (utc(2024, 8, 31), 6, utc(2025, 2, 28)),             # clamped to the end of February
    (utc(2023, 8, 31), 6, utc(2024, 2, 29)),             # leap year
    (utc(2024, 2, 29, 10, 30), 12, utc(2025, 2, 28, 10, 30)),
    (utc(2024, 1, 31), 1, utc(2024, 2, 29)),
    (utc(2024, 3, 15, 23, 59, 59), 12, utc(2025, 3, 15, 23, 59, 59)),
    (utc(2022, 3, 1), 36, utc(2025, 3, 1)),
])
def test_calendar_months_with_end_of_month_clamping(since, months, due):
    assert add_months(since, months) == due


def test_pending_since_31_august_is_due_on_the_last_day_of_february():
    policy = Policy(version="six", default_months=6)
    hub_free = device(since=utc(2024, 8, 31, 9))
    assert decide(hub_free, policy, utc(2025, 2, 28, 8, 59, 59)) is Decision.NOT_DUE
    assert decide(hub_free, policy, utc(2025, 2, 28, 9)) is Decision.REMOVE


def test_twelve_months_and_a_day_is_removed_eleven_months_is_not():
    assert decide(device(since=utc(2024, 2, 29)), DEFAULT, utc(2025, 3, 1)) is Decision.REMOVE
    assert decide(device(since=utc(2024, 4, 1)), DEFAULT, utc(2025, 3, 1)) is Decision.NOT_DUE


def test_comms_hubs_are_retained_at_any_age():
    for hub_type in ("CHF", "GPF"):
        assert decide(device(hub_type, utc(2015, 1, 1)), DEFAULT, utc(2025, 3, 1)) is Decision.RETAIN_EXCLUDED


def test_hubs_are_removed_when_the_policy_excludes_nothing():
    policy = Policy(version="none", excluded_types=[])
    assert decide(device("CHF", utc(2024, 1, 1)), policy, utc(2025, 3, 1)) is Decision.REMOVE


def test_per_type_duration():
    policy = Policy(version="gas", months_by_type={"GSME": 36})
    assert decide(device("GSME", utc(2022, 4, 1)), policy, utc(2025, 3, 31)) is Decision.NOT_DUE
    assert decide(device("GSME", utc(2022, 3, 31)), policy, utc(2025, 3, 31)) is Decision.REMOVE
    assert decide(device("ESME", utc(2024, 3, 31)), policy, utc(2025, 3, 31)) is Decision.REMOVE


def test_previously_active_only_keeps_devices_that_never_left_pending():
    old = utc(2020, 1, 1)
    assert decide(device(since=old), ACTIVE_ONLY, utc(2025, 3, 1)) is Decision.RETAIN_BY_RULE
    assert decide(device(since=utc(2024, 1, 1), ever_left_pending=True), ACTIVE_ONLY,
                  utc(2025, 3, 1)) is Decision.REMOVE
    assert decide(device(since=utc(2024, 6, 1), ever_left_pending=True), ACTIVE_ONLY,
                  utc(2025, 3, 1)) is Decision.NOT_DUE


def test_age_in_whole_months():
    assert age_in_months(utc(2024, 2, 1), utc(2025, 3, 1)) == 13
    assert age_in_months(utc(2024, 2, 1), utc(2025, 2, 28)) == 12
    assert age_in_months(utc(2025, 2, 1), utc(2025, 1, 1)) == 0


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31),
                        timezones=st.just(UTC))
types = st.sampled_from(["ESME", "GSME", "CHF", "GPF", "HCALCS", "PPMID"])
policies = st.builds(
    Policy, version=st.just("p"), rule=st.sampled_from(["all-pending", "previously-active-only"]),
    default_months=st.integers(1, 48),
    months_by_type=st.dictionaries(st.sampled_from(["ESME", "GSME", "HCALCS", "PPMID"]), st.integers(1, 48)),
    excluded_types=st.sampled_from([[], ["CHF", "GPF"], ["CHF", "GPF", "PPMID"]]))
devices = st.builds(device, types, instants, st.booleans())


@settings(max_examples=500)
@given(since=instants, months=st.integers(1, 60), as_of=instants)
def test_fast_cutoff_agrees_with_calendar_arithmetic(since, months, as_of):
    assert DueCutoff(months, as_of).is_due(to_micros(since)) == (add_months(since, months) <= as_of)


@settings(max_examples=300)
@given(since=instants, months=st.integers(1, 60), shift=st.integers(0, 4 * 86_400))
def test_fast_cutoff_near_month_ends(since, months, shift):
    as_of = add_months(since, months) + timedelta(seconds=shift - 2 * 86_400)
    assert DueCutoff(months, as_of).is_due(to_micros(since)) == (add_months(since, months) <= as_of)


@given(devices, policies, instants)
def test_excluded_types_are_never_removed(tracked, policy, as_of):
    if tracked.device_type in policy.excluded_types:
        assert decide(tracked, policy, as_of) is not Decision.REMOVE


@given(devices, policies, instants, st.integers(0, 10_000))
def test_once_due_stays_due(tracked, policy, as_of, days_later):
    later = as_of + timedelta(days=days_later)
    if decide(tracked, policy, as_of) is not Decision.NOT_DUE:
        assert decide(tracked, policy, later) is decide(tracked, policy, as_of)


@given(devices, policies, instants)
def test_removed_only_when_pending_its_full_duration(tracked, policy, as_of):
    if decide(tracked, policy, as_of) is Decision.REMOVE:
        assert due_at(tracked, policy) <= as_of
        assert age_in_months(tracked.pending_since, as_of) >= policy.months_for(tracked.device_type)
        assert policy.rule == "all-pending" or tracked.ever_left_pending
