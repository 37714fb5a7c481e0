"""Recurring dates: birthdays, anniversaries, renewal and billing dates, with an offset and a local wall time,
in every zone from UTC-12 to UTC+14, through daylight-saving gaps and folds, for 29 February and the 31st."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from righttime.core.calendar import wall_to_utc
from righttime.core.recurrence import Every, Fire, next_fire, occurrence, occurrence_key

PARIS = ZoneInfo("Europe/Paris")
ZONES = [
    "Etc/GMT+12",  # UTC-12
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Apia",  # skipped 30 December 2011, had DST until 2021
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/New_York",
    "Europe/Paris",
    "America/Santiago",  # DST in the southern summer
    "UTC",
]


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


# --- the anchor's occurrence --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2027, date(2027, 2, 28)),
        (2028, date(2028, 2, 29)),
        (2100, date(2100, 2, 28)),
        (2000, date(2000, 2, 29)),
    ],
)
def test_a_29_february_birthday_stays_in_february(year: int, expected: date) -> None:
    # Given a customer born on 29 February
    born = date(1996, 2, 29)
    # When their birthday comes round in a given year
    # Then it is 29 February in a leap year and 28 February otherwise, never 1 March
    assert occurrence(born, Every.YEAR, year, 7) == expected


def test_a_billing_date_on_the_31st_falls_on_each_month_s_last_day_without_drifting() -> None:
    # Given a monthly billing date on 31 January
    billing = date(2027, 1, 31)
    # When it recurs through 2027 and into a leap February
    days = [occurrence(billing, Every.MONTH, 2027, month).day for month in range(1, 13)]
    # Then each month bills on its last day when shorter, and back on the 31st when it has one
    assert days == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    assert occurrence(billing, Every.MONTH, 2028, 2) == date(2028, 2, 29)


# --- when it fires --------------------------------------------------------------------------------------


def test_a_renewal_reminder_goes_7_days_before_at_the_customer_s_morning() -> None:
    # Given a renewal on 1 March 2027 and a reminder 7 days before at 09:00 in Paris
    # When the sweep looks from late 2026
    fire = next_fire(
        date(2027, 3, 1), Every.YEAR, timedelta(days=-7), time(9), PARIS, datetime(2026, 11, 28, tzinfo=UTC)
    )
    # Then it fires on 22 February at 09:00 Paris time (08:00 UTC), for the 2027 renewal
    assert fire == Fire(date(2027, 3, 1), date(2027, 2, 22), datetime(2027, 2, 22, 8, 0, tzinfo=UTC))
    assert occurrence_key(fire) == "2027-03-01"


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Pacific/Kiritimati", datetime(2026, 6, 14, 19, 0, tzinfo=UTC)),  # UTC+14: the day before in UTC
        ("Etc/GMT+12", datetime(2026, 6, 15, 21, 0, tzinfo=UTC)),  # UTC-12
        ("Asia/Kathmandu", datetime(2026, 6, 15, 3, 15, tzinfo=UTC)),  # +05:45
    ],
)
def test_a_birthday_offer_arrives_on_the_customer_s_own_birthday_morning(
    zone: str, expected: datetime
) -> None:
    # Given a birthday on 15 June and an offer at 09:00 local
    # When the sweep looks from the start of June
    fire = next_fire(
        date(1990, 6, 15), Every.YEAR, timedelta(0), time(9), ZoneInfo(zone), datetime(2026, 6, 1, tzinfo=UTC)
    )
    # Then it fires at 09:00 on 15 June on the customer's clock, whatever UTC day that is
    assert fire.at == expected
    assert _local(fire.at, ZoneInfo(zone)) == datetime(2026, 6, 15, 9, 0)


def test_a_wall_time_that_spring_forward_skips_fires_just_after_the_gap() -> None:
    # Given a reminder at 02:30 on 28 March 2027, the night Paris skips from 02:00 to 03:00
    # When it fires
    fire = next_fire(
        date(2027, 3, 28), Every.YEAR, timedelta(0), time(2, 30), PARIS, datetime(2027, 1, 1, tzinfo=UTC)
    )
    # Then it fires at 03:00 CEST, the first instant after the gap
    assert fire.at == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def test_a_wall_time_that_fall_back_repeats_fires_the_first_time() -> None:
    # Given a reminder at 02:30 on 25 October 2026, which Paris lives through twice
    # When it fires
    fire = next_fire(
        date(2026, 10, 25), Every.YEAR, timedelta(0), time(2, 30), PARIS, datetime(2026, 10, 1, tzinfo=UTC)
    )
    # Then it fires at the first 02:30 (CEST), not an hour later
    assert fire.at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # And a sweep after the first 02:30 moves on to next year instead of firing again at the second
    later = next_fire(date(2026, 10, 25), Every.YEAR, timedelta(0), time(2, 30), PARIS, fire.at)
    assert later.occurrence == date(2027, 10, 25)


def test_lord_howe_s_half_hour_gap_is_handled() -> None:
    # Given a wall time of 02:15 on 4 October 2026, inside Lord Howe's 02:00-02:30 spring-forward gap
    howe = ZoneInfo("Australia/Lord_Howe")
    fire = next_fire(
        date(2026, 10, 4), Every.YEAR, timedelta(0), time(2, 15), howe, datetime(2026, 9, 1, tzinfo=UTC)
    )
    # Then it fires at 02:30 local (+11:00), the first instant after the gap
    assert _local(fire.at, howe) == datetime(2026, 10, 4, 2, 30)
    assert fire.at == datetime(2026, 10, 3, 15, 30, tzinfo=UTC)


def test_a_day_the_zone_skipped_fires_at_the_start_of_the_next_one() -> None:
    # Given an anniversary on 30 December, a day Samoa skipped in 2011 when it crossed the date line
    apia = ZoneInfo("Pacific/Apia")
    fire = next_fire(
        date(2010, 12, 30), Every.YEAR, timedelta(0), time(9), apia, datetime(2011, 6, 1, tzinfo=UTC)
    )
    # Then the 2011 occurrence still fires once, at the first instant of 31 December
    assert fire.occurrence == date(2011, 12, 30)
    assert _local(fire.at, apia) == datetime(2011, 12, 31, 0, 0)


def test_an_occurrence_that_fired_is_not_found_again_by_a_rerun() -> None:
    # Given a monthly date that fired at its instant
    args = (date(2026, 1, 31), Every.MONTH, timedelta(0), time(9), PARIS)
    fired = next_fire(*args, datetime(2026, 4, 1, tzinfo=UTC))
    assert fired.occurrence == date(2026, 4, 30)
    # When the sweep runs again just before and exactly at that instant
    # Then just before it finds the same occurrence (same key), and at it the next one
    assert occurrence_key(next_fire(*args, fired.at - timedelta(seconds=1))) == occurrence_key(fired)
    assert next_fire(*args, fired.at).occurrence == date(2026, 5, 31)


def test_a_billing_date_has_no_occurrence_before_it_starts() -> None:
    # Given monthly billing that starts on 31 January 2027
    # When the sweep looks from June 2026
    fire = next_fire(
        date(2027, 1, 31), Every.MONTH, timedelta(days=-3), time(9), PARIS, datetime(2026, 6, 1, tzinfo=UTC)
    )
    # Then the first reminder is for the first bill, not for a June 2026 that was never billed
    assert fire.occurrence == date(2027, 1, 31)
    assert fire.local_day == date(2027, 1, 28)


def test_an_anniversary_skips_the_day_of_the_event_itself() -> None:
    # Given a first order at 08:00 on 1 May 2026 and an anniversary message at 10:00 local
    first_order = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
    # When the next anniversary is computed as the order comes in
    fire = next_fire(
        first_order.date(), Every.YEAR, timedelta(0), time(10), PARIS, first_order, include_anchor=False
    )
    # Then it is a year later, not two hours after the order
    assert fire.occurrence == date(2027, 5, 1)


@pytest.mark.parametrize(
    "offset", [timedelta(hours=12), timedelta(days=367), timedelta(days=-367), timedelta(days=1, seconds=1)]
)
def test_an_offset_that_is_not_whole_days_within_a_year_is_refused(offset: timedelta) -> None:
    with pytest.raises(ValueError, match="whole days"):
        next_fire(date(2026, 1, 1), Every.YEAR, offset, time(9), PARIS, datetime(2026, 1, 1, tzinfo=UTC))


def test_a_year_of_offset_either_way_is_accepted() -> None:
    after = datetime(2026, 1, 1, tzinfo=UTC)
    before = next_fire(date(2020, 6, 1), Every.YEAR, timedelta(days=-366), time(9), PARIS, after)
    behind = next_fire(date(2020, 6, 1), Every.YEAR, timedelta(days=366), time(9), PARIS, after)
    assert before.local_day == before.occurrence - timedelta(days=366) and before.at > after
    assert behind.local_day == behind.occurrence + timedelta(days=366) and behind.at > after


def test_a_naive_instant_or_a_zoned_wall_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_fire(date(2026, 1, 1), Every.YEAR, timedelta(0), time(9), PARIS, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="without tzinfo"):
        next_fire(
            date(2026, 1, 1),
            Every.YEAR,
            timedelta(0),
            time(9, tzinfo=UTC),
            PARIS,
            datetime(2026, 1, 1, tzinfo=UTC),
        )


# --- properties -----------------------------------------------------------------------------------------

anchors = st.dates(min_value=date(1990, 1, 1), max_value=date(2035, 12, 31))
# Leap days and month ends are where the rules bite: draw them often.
edge_anchors = st.sampled_from([date(1996, 2, 29), date(2024, 2, 29), date(2027, 1, 31), date(2026, 3, 30)])
afters = st.datetimes(
    min_value=datetime(2008, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
)
# Around the DST changes and the skipped Apia day, where a wrong conversion would show.
dst_afters = st.sampled_from(
    [
        datetime(2011, 12, 29, 10, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 6, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 45, tzinfo=UTC),
        datetime(2026, 4, 4, 15, 10, tzinfo=UTC),
        datetime(2026, 10, 3, 15, 20, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 59, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
    ]
).flatmap(lambda base: st.integers(-3 * 24 * 60, 3 * 24 * 60).map(lambda m: base + timedelta(minutes=m)))
walls = st.times().map(lambda t: t.replace(second=0, microsecond=0))
recurring = st.fixed_dictionaries(
    {
        "anchor": st.one_of(anchors, edge_anchors),
        "every": st.sampled_from(list(Every)),
        "offset": st.integers(-366, 366).map(lambda d: timedelta(days=d)),
        "at": walls,
        "zone": st.sampled_from(ZONES).map(ZoneInfo),
        "after": st.one_of(afters, dst_afters),
        "include_anchor": st.booleans(),
    }
)


def _occurrences(anchor: date, every: Every, after: datetime, include_anchor: bool) -> list[date]:
    """The oracle: every occurrence from 2 years before `after` (or the anchor's year) to 3 years later, none
    before the anchor. An offset moves a fire a year at most, so the first fire past `after` is among them."""
    start = max(anchor.year, after.year - 2)
    found = []
    for year in range(start, start + 5):
        for month in range(1, 13) if every is Every.MONTH else (anchor.month,):
            day = date(year, month, min(anchor.day, monthrange(year, month)[1]))
            if day > anchor or (include_anchor and day == anchor):
                found.append(day)
    return found


@settings(max_examples=400, deadline=None)
@given(recurring)
def test_the_fire_is_the_first_occurrence_strictly_after_the_instant(case: dict[str, Any]) -> None:
    # Given any anchor, recurrence, offset, wall time, zone and instant
    fire = next_fire(**case)
    # Then it fires strictly after the instant
    assert fire.at > case["after"]
    assert fire.at.tzinfo is UTC
    assert fire.local_day == fire.occurrence + case["offset"]
    # And no occurrence fires in between: it is the earliest one, by brute force over every occurrence
    candidates = [
        (wall_to_utc(day + case["offset"], case["at"], case["zone"]), day)
        for day in _occurrences(case["anchor"], case["every"], case["after"], case["include_anchor"])
    ]
    assert min((c for c in candidates if c[0] > case["after"]), default=None) == (fire.at, fire.occurrence)


@settings(max_examples=400, deadline=None)
@given(recurring)
def test_the_fire_shows_the_wall_time_on_the_local_day_or_is_just_after_a_gap(case: dict[str, Any]) -> None:
    fire = next_fire(**case)
    zone, wall = case["zone"], datetime.combine(fire.local_day, case["at"])
    shown = _local(fire.at, zone)
    if shown != wall:
        # The wall time does not exist that day: the fire is the first instant past the gap (to within
        # calendar.wall_to_utc's one-second search)
        assert shown > wall
        assert _local(fire.at - timedelta(seconds=1), zone) < wall


@settings(max_examples=300, deadline=None)
@given(recurring)
def test_occurrences_never_drift_and_29_february_is_kept_in_leap_years(case: dict[str, Any]) -> None:
    fire = next_fire(**case)
    anchor, day = case["anchor"], fire.occurrence
    if case["every"] is Every.MONTH:
        assert day.day == min(anchor.day, monthrange(day.year, day.month)[1])
    else:
        assert day.month == anchor.month
        leap = monthrange(day.year, 2)[1] == 29
        if (anchor.month, anchor.day) == (2, 29):
            assert day.day == (29 if leap else 28)
        else:
            assert day.day == anchor.day
