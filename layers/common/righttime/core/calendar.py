"""When a person's day allows a message: send windows, quiet hours and local times, in their own zone.

Every instant in and out is UTC; local time is computed with zoneinfo only here. Daylight-saving gaps
(a wall time that does not exist) map to the first instant after the gap; folds (a wall time that exists
twice) to the earlier of the two.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

#: how far ahead to look for an allowed instant: a weekly window always opens within 8 days
HORIZON = timedelta(days=8)


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as `datetime.weekday()` counts."""
        return _DAY_NUMBERS[self]


_DAY_NUMBERS = {day: number for number, day in enumerate(Weekday)}


def parse_wall_time(value: object) -> object:
    """`"HH:MM"` (quoted in YAML). An unquoted 20:00 reaches us as the integer 1200 (YAML 1.1 reads it as
    base 60), which would silently mean 00:20: refuse it and say how to write it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(
            'write times as quoted strings, e.g. "20:00" (unquoted, YAML reads 20:00 as a number)'
        )
    if isinstance(value, str) and value.strip() == "24:00":
        return time(0, 0)
    return value


class Window(BaseModel):
    """Days and hours a message may go out, in the customer's zone. `start` after `end` wraps midnight
    (e.g. 22:00-02:00, counted as belonging to the day it starts); `start` equal to `end` is all day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Weekday] = Field(default_factory=lambda: list(Weekday), min_length=1)
    start: time = time(0, 0)
    end: time = time(0, 0)

    _coerce = field_validator("start", "end", mode="before")(classmethod(lambda cls, v: parse_wall_time(v)))
    _numbers: frozenset[int] = PrivateAttr(default=frozenset())

    def model_post_init(self, context: object, /) -> None:
        self._numbers = frozenset(d.number for d in self.days)  # contains() runs in the policy's inner loop

    def contains(self, local: datetime) -> bool:
        wall, weekday = local.time().replace(tzinfo=None), local.weekday()
        days = self._numbers
        if self.start == self.end:
            return weekday in days
        if self.start < self.end:
            return weekday in days and self.start <= wall < self.end
        return (wall >= self.start and weekday in days) or (wall < self.end and (weekday - 1) % 7 in days)

    def describe(self) -> str:
        days = ",".join(d.value for d in self.days) if len(self.days) < 7 else "every day"
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M}"


class QuietHours(BaseModel):
    """Hours when no promotional message may arrive, in the customer's zone (may wrap midnight)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time

    _coerce = field_validator("start", "end", mode="before")(classmethod(lambda cls, v: parse_wall_time(v)))

    def contains(self, local: datetime) -> bool:
        wall = local.time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone called `name`, or None if there is no such zone."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def wall_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the local clock in `tz` shows `wall` on `day`, or the first instant
    after it when a daylight-saving gap skips that wall time."""
    naive = datetime.combine(day, wall)
    earlier = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    later = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    first = min(earlier, later)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first  # exists (maybe twice: a fold; the earlier one wins)
    # A gap: find the transition, the first instant whose local wall time is past `naive`.
    low, high = min(earlier, later), max(earlier, later)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond == 0 else high


def allowed(instant: datetime, tz: ZoneInfo, window: Window | None, quiet: QuietHours | None) -> bool:
    local = instant.astimezone(tz)
    if window is not None and not window.contains(local):
        return False
    return quiet is None or not quiet.contains(local)


def next_allowed(
    instant: datetime, tz: ZoneInfo, window: Window | None, quiet: QuietHours | None
) -> datetime | None:
    """The earliest instant at or after `instant` inside `window` and outside `quiet`; None if none within
    eight days (a window and quiet hours that never overlap)."""
    if allowed(instant, tz, window, quiet):
        return instant
    walls = {time(0, 0)}
    if window is not None:
        walls.add(window.start)
    if quiet is not None:
        walls.add(quiet.end)
    # Allowed-ness only changes at these wall times; look at them day by day and stop at the first that fits.
    start_day = instant.astimezone(tz).date()
    for offset in range(-1, HORIZON.days + 1):
        day = start_day + timedelta(days=offset)
        for candidate in sorted(wall_to_utc(day, wall, tz) for wall in walls):
            if candidate > instant and allowed(candidate, tz, window, quiet):
                return candidate
    return None


def next_local_time(instant: datetime, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant at or after `instant` when the customer's clock shows `wall`."""
    day = instant.astimezone(tz).date() - timedelta(days=1)
    while True:
        candidate = wall_to_utc(day, wall, tz)
        if candidate >= instant:
            return candidate
        day += timedelta(days=1)


def next_allowed_local_time(
    instant: datetime, wall: time, tz: ZoneInfo, window: Window | None, quiet: QuietHours | None
) -> datetime | None:
    """The first instant at or after `instant` when the customer's clock shows `wall` inside `window` and
    outside `quiet`; None if none within eight days (that time of day is never inside the window, or always
    in quiet hours)."""
    day = instant.astimezone(tz).date() - timedelta(days=1)
    for _ in range(HORIZON.days + 2):
        candidate = wall_to_utc(day, wall, tz)
        if candidate >= instant and allowed(candidate, tz, window, quiet):
            return candidate
        day += timedelta(days=1)
    return None


def local_day_bounds(instant: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which the customer's calendar day containing `instant` starts and ends."""
    day = instant.astimezone(tz).date()
    return wall_to_utc(day, time(0, 0), tz), wall_to_utc(day + timedelta(days=1), time(0, 0), tz)
