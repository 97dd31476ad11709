"""Property-based fuzzing of housekeeping's calendar-month arithmetic: adding months clamps to
the end of a shorter month and never goes backwards; a device's age in months agrees with the
date it falls due; the integer cut-off used on large runs decides exactly as the calendar does."""
import calendar
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings, strategies as st

from services.housekeeping.domain import (Decision, DueCutoff, Policy, TrackedDevice, add_months,
                                          age_in_months, decide, from_micros, to_micros)

FUZZ = settings(max_examples=400, deadline=None)
any_instant = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 12, 31),
                          timezones=st.just(UTC))


def _near_month_end(instant: datetime, days_before: int) -> datetime:
    first = instant.replace(day=1)
    return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1 + days_before)


# The last days of months (and leap days), where the clamping is, drawn as often as any instant.
instants = st.one_of(any_instant, st.builds(_near_month_end, any_instant, st.integers(0, 3)))
months = st.integers(0, 600)


@FUZZ
@given(instants, months)
def test_adding_months_keeps_the_day_or_clamps_to_the_end_of_the_month(since, n):
    due = add_months(since, n)
    year, month = divmod(since.year * 12 + since.month - 1 + n, 12)
    assert (due.year, due.month) == (year, month + 1)
    assert due.day == min(since.day, calendar.monthrange(due.year, due.month)[1])
    assert (due.time(), due.tzinfo) == (since.time(), since.tzinfo)


@FUZZ
@given(instants, instants, months)
def test_adding_months_never_reorders_instants(a, b, n):
    earlier, later = sorted((a, b))
    assert add_months(earlier, n) <= add_months(later, n)


@FUZZ
@given(instants, months, months)
def test_more_months_never_fall_due_sooner(since, m, n):
    fewer, more = sorted((m, n))
    assert add_months(since, fewer) <= add_months(since, more)
    assert (add_months(since, fewer) == add_months(since, more)) == (fewer == more)


@FUZZ
@given(instants, months)
def test_months_added_then_taken_away_return_or_stop_short_at_a_clamp(since, n):
    back = add_months(add_months(since, n), -n)
    assert back <= since
    assert (back == since) or since.day > 28


@FUZZ
@given(instants, st.integers(1, 600), st.integers(-3 * 86_400, 3 * 86_400), instants)
def test_age_in_months_reaches_n_exactly_when_the_n_months_are_due(since, n, seconds, any_as_of):
    for as_of in (add_months(since, n) + timedelta(seconds=seconds), any_as_of):
        assert (age_in_months(since, as_of) >= n) == (add_months(since, n) <= as_of)


@FUZZ
@given(instants, st.integers(1, 600))
def test_age_is_whole_months_and_zero_before_the_first(since, n):
    due = add_months(since, n)
    assert age_in_months(since, due) == n
    assert age_in_months(due, since) == 0
    assert age_in_months(since, since) == 0


@FUZZ
@given(instants, st.integers(1, 600), st.integers(-3 * 86_400, 3 * 86_400), instants)
def test_the_integer_cut_off_decides_as_the_calendar_does(since, n, seconds, any_as_of):
    for as_of in (add_months(since, n) + timedelta(seconds=seconds), any_as_of):
        assert DueCutoff(n, as_of).is_due(to_micros(since)) == (add_months(since, n) <= as_of)


@FUZZ
@given(instants)
def test_instants_round_trip_through_microseconds(instant):
    assert from_micros(to_micros(instant)) == instant


@FUZZ
@given(instants, instants, instants, st.integers(1, 600), st.sampled_from(["ESME", "GSME", "CHF", "PPMID"]))
def test_once_due_a_device_stays_due(since, first, second, n, device_type):
    policy = Policy(version="fuzz", default_months=n)
    device = TrackedDevice("00-DB-12-34-56-78-90-A2", device_type, since, "90-B3-D5-1F-30-01-00-00",
                           notified_by_service_user=True, ever_left_pending=False)
    earlier, later = sorted((first, second))
    if decide(device, policy, earlier) != Decision.NOT_DUE:
        assert decide(device, policy, later) == decide(device, policy, earlier)
