"""Send-time optimisation: a campaign with `send_time: optimal` goes at the customer's most engaged local hour
within `max_delay` after where its own timing puts it, never in quiet hours, outside its window or past its
send-by deadline (docs/campaigns.md, "Optimal send time").

The evidence is the customer's own opens and clicks of the last CUSTOMER_PERIOD, counted by hour on their
clock. With fewer than MIN_CUSTOMER_EVIDENCE of them, the population's hours are used instead (every
customer's first open and first click of each message, by their local hour); with fewer than
MIN_POPULATION_EVIDENCE of those too, the message keeps the time its own timing gave it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from righttime.core import calendar
from righttime.core.calendar import QuietHours, Window
from righttime.core.durations import Duration

#: opens and clicks older than this say little about when the customer reads mail now
CUSTOMER_PERIOD = timedelta(days=90)
#: fewer of the customer's own opens and clicks than this are too few to pick one hour of 24 from
MIN_CUSTOMER_EVIDENCE = 5
#: fewer of the population's than this (ten an hour on average) are too few too: the campaign's own timing is
#: kept
MIN_POPULATION_EVIDENCE = 240
#: the default, and the longest, extra delay an optimal send time may add
DEFAULT_MAX_DELAY = timedelta(hours=24)
MAX_MAX_DELAY = timedelta(days=7)

HOURS = 24


class SendTimeMode(StrEnum):
    OPTIMAL = "optimal"


class SendTime(BaseModel):
    """`send_time: optimal` (up to DEFAULT_MAX_DELAY later), or `{mode: optimal, max_delay: 12h}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: SendTimeMode = SendTimeMode.OPTIMAL
    #: how much later than where the campaign's own timing puts it the message may go, at most
    max_delay: Duration = DEFAULT_MAX_DELAY

    @model_validator(mode="before")
    @classmethod
    def _compact(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data.strip().lower() != SendTimeMode.OPTIMAL.value:
                raise ValueError(f"{data!r}: write `optimal`, or {{mode: optimal, max_delay: 24h}}")
            return {"mode": SendTimeMode.OPTIMAL}
        return data

    @field_validator("max_delay")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1) or value > MAX_MAX_DELAY:
            raise ValueError("max_delay must be between 1h and 7d")
        return value


Fallback = Literal["customer", "population", "none"]


@dataclass(frozen=True, slots=True)
class HourCounts:
    """Opens and clicks per local hour, 00 to 23."""

    counts: tuple[int, ...] = (0,) * HOURS

    def __post_init__(self) -> None:
        if len(self.counts) != HOURS:
            raise ValueError(f"HourCounts needs {HOURS} counts, got {len(self.counts)}")

    @property
    def total(self) -> int:
        return sum(self.counts)

    def __add__(self, other: HourCounts) -> HourCounts:
        return HourCounts(tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)))

    @classmethod
    def of(cls, instants: Iterable[datetime], tz: ZoneInfo) -> HourCounts:
        """How many of `instants` fall in each hour of the clock in `tz`."""
        counts = [0] * HOURS
        for at in instants:
            counts[at.astimezone(tz).hour] += 1
        return cls(tuple(counts))


def customer_hours(engaged_at: Iterable[datetime], tz: ZoneInfo, now: datetime) -> HourCounts:
    """The customer's opens and clicks (`engaged_at`) of the last CUSTOMER_PERIOD, by hour on their clock."""
    since = now - CUSTOMER_PERIOD
    return HourCounts.of((at for at in engaged_at if since <= at <= now), tz)


@dataclass(frozen=True, slots=True)
class Evidence:
    """The hours the choice reads, and whose they are."""

    hours: HourCounts
    fallback: Fallback
    #: the opens and clicks behind `hours`; with `none`, the customer's own (too few)
    count: int


def evidence(customer: HourCounts, population: HourCounts | None) -> Evidence:
    """The customer's hours when there are enough of them, else the population's, else none."""
    if customer.total >= MIN_CUSTOMER_EVIDENCE:
        return Evidence(customer, "customer", customer.total)
    if population is not None and population.total >= MIN_POPULATION_EVIDENCE:
        return Evidence(population, "population", population.total)
    return Evidence(HourCounts(), "none", customer.total)


@dataclass(frozen=True, slots=True)
class Choice:
    """Where the message goes: `at`, in local `hour`."""

    at: datetime
    hour: int
    evidence: Evidence


def choose_send_time(
    base: datetime,
    max_delay: timedelta,
    tz: ZoneInfo,
    window: Window | None,
    quiet: QuietHours | None,
    send_by: datetime | None,
    found: Evidence,
) -> Choice:
    """The first allowed instant of the most engaged local hour in [`base`, `base` + `max_delay`], not past
    `send_by`, inside `window` and outside `quiet`; on a tie (no evidence at all included) the earliest, so
    `base` itself when nothing beats its own hour. `base` is where the campaign's own timing put the message:
    an allowed instant."""
    best_at, best_score = base, found.hours.counts[base.astimezone(tz).hour]
    for slot in hour_slots(base, max_delay, tz, window, quiet, send_by):
        score = found.hours.counts[slot.astimezone(tz).hour]
        if score > best_score:
            best_at, best_score = slot, score
    return Choice(best_at, best_at.astimezone(tz).hour, found)


def hour_slots(
    base: datetime,
    max_delay: timedelta,
    tz: ZoneInfo,
    window: Window | None,
    quiet: QuietHours | None,
    send_by: datetime | None,
) -> Sequence[datetime]:
    """The first allowed instant of each local hour after `base`'s own, up to `base` + `max_delay` and
    `send_by`: the instants an optimal send time chooses from, with `base`."""
    limit = base + max_delay if send_by is None else min(base + max_delay, send_by)
    # Every zone's offset, and every clock change, is a whole number of quarter hours: a local hour begins on
    # a UTC quarter hour. An hour can last 30 or 90 minutes where the clock moves by half an hour.
    at = base + (-(base - _EPOCH) % _QUARTER)
    previous: int | None = base.astimezone(tz).hour
    slots: list[datetime] = []
    while at <= limit:
        hour = at.astimezone(tz).hour
        if hour != previous:
            first = calendar.next_allowed(at, tz, window, quiet)
            if first is None or first > limit:
                break  # never allowed again, or not in time
            if first.astimezone(tz).hour == hour and first - at < _LONGEST_HOUR:
                slots.append(first)
            else:
                # Refused until `first`: go on from its quarter hour, skipping the refused ones.
                at, previous = first - (first - _EPOCH) % _QUARTER, None
                continue
        previous = hour
        at += _QUARTER
    return slots


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTER = timedelta(minutes=15)
#: an hour and a half, and a little more: no local hour lasts longer, whatever the clock does
_LONGEST_HOUR = timedelta(hours=2)
