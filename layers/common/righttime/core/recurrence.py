"""Recurring dates: a birthday, the anniversary of a first order, a renewal or billing date held in a trait.

A recurring trigger has an **anchor** date, a recurrence (`Every.YEAR` or `Every.MONTH`), an **offset** in
whole days ("7 days before" is `-7d`) and a local wall time. It fires once per **occurrence**, on the local
day occurrence + offset, at that wall time in the customer's zone.

Rules:

* **29 February in a common year falls on 28 February.** The occurrence stays in its month, as most CRMs do
  and as the UK and New Zealand legal convention has it for someone born on 29 February (the alternative,
  1 March, would move a February birthday into March three years out of four). In a leap year it is
  29 February again.
* **A monthly date on the 29th, 30th or 31st falls on the month's last day in a shorter month**, and returns
  to its own day when the month is long enough: 31 January → 28 (or 29) February → 31 March → 30 April →
  31 May. Each occurrence is computed from the anchor, never from the previous occurrence, so it never
  drifts. Both rules are one: the day is `min(anchor day, days in that month)`.
* **The anchor is the first occurrence**; there is none before it (a billing date that starts in January
  has no December occurrence). For an anniversary, whose anchor is the event itself, pass
  `include_anchor=False`.
* **The fire instant** is the first instant at which the customer's clock shows the wall time on the local
  day (`calendar.wall_to_utc`, shared with every other local-time rule). A wall time that a daylight-saving
  change skips (spring forward) fires at the first instant after the gap. A wall time that occurs twice
  (fall back) fires at the first of the two. A local day a zone skipped altogether (Pacific/Apia on
  30 December 2011) fires at the first instant after it.
* **Idempotence per date**: `occurrence_key` names an occurrence by its date. A caller stores it when the
  occurrence fires, and a re-run that finds the key already stored sends nothing again.

Pure: no clock is read; `after` is the instant to look from.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from righttime.core.calendar import wall_to_utc

#: an offset may move the fire day up to a year before or after its occurrence
MAX_OFFSET = timedelta(days=366)
_DAY = timedelta(days=1)


class Every(StrEnum):
    """How often an anchor date comes back."""

    YEAR = "year"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Fire:
    """One occurrence and when it fires."""

    #: the anchor's date in that year or month (28 February for a 29 February anchor in a common year)
    occurrence: date
    #: the customer's local day on which it fires: `occurrence` + offset
    local_day: date
    #: the fire instant, aware, in UTC
    at: datetime


def occurrence(anchor: date, every: Every, year: int, month: int) -> date:
    """The anchor's occurrence in `year` (`Every.YEAR`; `month` is ignored) or in `month` of `year`
    (`Every.MONTH`): the anchor's day, or the month's last day when the month is shorter."""
    if every is Every.YEAR:
        month = anchor.month
    return date(year, month, min(anchor.day, monthrange(year, month)[1]))


def next_fire(
    anchor: date,
    every: Every,
    offset: timedelta,
    at: time,
    zone: ZoneInfo,
    after: datetime,
    *,
    include_anchor: bool = True,
) -> Fire:
    """The first occurrence of `anchor` whose fire instant (local day occurrence + `offset`, at wall time `at`
    in `zone`) is strictly after `after`.

    `offset` is whole days, negative for "before", at most 366 days either way. `at` is a wall time without
    zone. `after` is aware. With `include_anchor=False` the anchor's own date is not an occurrence (an
    anniversary). Raises ValueError for any other argument.
    """
    if offset % _DAY or abs(offset) > MAX_OFFSET:
        raise ValueError(f"offset must be whole days between -366d and 366d, not {offset}")
    if at.tzinfo is not None:
        raise ValueError("at is a wall time in the customer's zone: give it without tzinfo")
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be an aware datetime")
    # Every earlier period's occurrence fires on a local day before that of `after`, so at or before it; fire
    # instants grow with the occurrence, so walking on from this period finds the first one past `after`.
    index = _period(after.astimezone(zone).date() - offset, every)
    index = max(index, _period(anchor, every) + (0 if include_anchor else 1))
    fire = _fire(anchor, every, index, offset, at, zone)
    while fire.at <= after:
        index += 1
        fire = _fire(anchor, every, index, offset, at, zone)
    return fire


def occurrence_key(fire: Fire) -> str:
    """What a caller stores to know this occurrence fired already: its date, e.g. `2027-02-28`."""
    return fire.occurrence.isoformat()


def _period(day: date, every: Every) -> int:
    """A running number for the year (or month) that contains `day`."""
    return day.year if every is Every.YEAR else day.year * 12 + day.month - 1


def _fire(anchor: date, every: Every, period: int, offset: timedelta, at: time, zone: ZoneInfo) -> Fire:
    if every is Every.YEAR:
        when = occurrence(anchor, every, period, anchor.month)
    else:
        year, month0 = divmod(period, 12)
        when = occurrence(anchor, every, year, month0 + 1)
    local_day = when + offset
    return Fire(when, local_day, wall_to_utc(local_day, at, zone).astimezone(UTC))
