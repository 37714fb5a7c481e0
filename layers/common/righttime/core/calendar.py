"""When a person's day allows a message: send windows, quiet hours and local times, in their own zone.

Every instant in and out is UTC; local time is computed with zoneinfo only here. Daylight-saving gaps
(a wall time that does not exist) map to the first instant after the gap; folds (a wall time that exists
twice) to the earlier of the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class _Hours(BaseModel):
    """Hours the policy reads in its inner loop: frozen, with cached properties derived from the fields
    (pydantic reads private attributes through a slow `__getattr__`). A copy with changed fields derives
    them again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        for name in set(copied.__dict__) - set(type(self).model_fields):
            del copied.__dict__[name]
        return copied


class Window(_Hours):
    """Days and hours a message may go out, in the customer's zone. `start` after `end` wraps midnight
    (e.g. 22:00-02:00, counted as belonging to the day it starts); `start` equal to `end` is all day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Weekday] = Field(default_factory=lambda: list(Weekday), min_length=1)
    start: time = time(0, 0)
    end: time = time(0, 0)

    _coerce = field_validator("start", "end", mode="before")(classmethod(lambda cls, v: parse_wall_time(v)))

    @cached_property
    def weekday_numbers(self) -> frozenset[int]:
        return frozenset(d.number for d in self.days)

    @cached_property
    def key(self) -> tuple[frozenset[int], time, time]:
        """The window's values, hashable: what caches know a window by (the model itself has a list)."""
        return self.weekday_numbers, self.start, self.end

    def contains(self, local: datetime) -> bool:
        wall, weekday = local.time(), local.weekday()
        days = self.weekday_numbers
        if self.start == self.end:
            return weekday in days
        if self.start < self.end:
            return weekday in days and self.start <= wall < self.end
        return (wall >= self.start and weekday in days) or (wall < self.end and (weekday - 1) % 7 in days)

    def describe(self) -> str:
        return self._description

    @cached_property
    def _description(self) -> str:
        days = ",".join(d.value for d in self.days) if len(self.days) < 7 else "every day"
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M}"


class QuietHours(_Hours):
    """Hours when no promotional message may arrive, in the customer's zone (may wrap midnight)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time

    _coerce = field_validator("start", "end", mode="before")(classmethod(lambda cls, v: parse_wall_time(v)))

    @cached_property
    def key(self) -> tuple[time, time]:
        """The quiet hours' values, hashable and quick to compare (pydantic hashes a model in Python)."""
        return self.start, self.end

    def contains(self, local: datetime) -> bool:
        wall = local.time()
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


@lru_cache(maxsize=16_384)
def wall_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the local clock in `tz` shows `wall` on `day`, or the first instant
    after it when a daylight-saving gap skips that wall time. Cached: the policy asks for the same few wall
    times of the same few days for every campaign."""
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
    # The search ends within a second after the transition; transitions fall on whole seconds, so the whole
    # second at or before `high` is the transition itself, unless it is still in the gap's far side.
    whole = high.replace(microsecond=0)
    return whole if whole.astimezone(tz).replace(tzinfo=None) >= naive else whole + timedelta(seconds=1)


def allowed(instant: datetime, tz: ZoneInfo, window: Window | None, quiet: QuietHours | None) -> bool:
    return _allowed_local(instant.astimezone(tz), window, quiet)


def _allowed_local(local: datetime, window: Window | None, quiet: QuietHours | None) -> bool:
    if window is not None and not window.contains(local):
        return False
    return quiet is None or not quiet.contains(local)


def next_allowed(
    instant: datetime, tz: ZoneInfo, window: Window | None, quiet: QuietHours | None
) -> datetime | None:
    """The earliest instant at or after `instant` inside `window` and outside `quiet`; None if none within
    eight days (a window and quiet hours that never overlap)."""
    local = instant.astimezone(tz)
    if _allowed_local(local, window, quiet):
        return instant
    start_day = local.date()
    for offset in range(-1, HORIZON.days + 1):
        for candidate in openings(start_day + timedelta(days=offset), tz, window, quiet):
            if candidate > instant:
                return candidate
    return None


#: openings by (day, zone, window, quiet hours); emptied when full, since it refills from the days in use
_openings: dict[tuple[object, ...], tuple[datetime, ...]] = {}
_OPENINGS_KEPT = 8_192


def openings(
    day: date, tz: ZoneInfo, window: Window | None, quiet: QuietHours | None
) -> tuple[datetime, ...]:
    """The allowed instants of local `day` at which an allowed stretch can begin, earliest first.

    Allowed-ness only changes at midnight, the window's start and the end of quiet hours, so the first
    allowed instant after a refused one is always one of these. They depend on the day, not on the instant
    asked about: cached, each customer's day is converted once, not once per campaign. The cache knows a
    window by its values: every campaign has its own copy of the same 09:00-20:00.
    """
    key = (day, tz, window.key if window is not None else None, quiet.key if quiet is not None else None)
    found = _openings.get(key)
    if found is None:
        walls = {time(0, 0)}
        if window is not None:
            walls.add(window.start)
        if quiet is not None:
            walls.add(quiet.end)
        candidates = sorted(wall_to_utc(day, wall, tz) for wall in walls)
        found = tuple(candidate for candidate in candidates if allowed(candidate, tz, window, quiet))
        if len(_openings) >= _OPENINGS_KEPT:
            _openings.clear()
        _openings[key] = found
    return found


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
