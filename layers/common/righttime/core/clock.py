"""Time is injected: the composition root holds the clock every handler reads.

Lambda uses the system clock. Local mode and `righttime simulate` build their root with a virtual clock that
they move forward themselves, so the same handlers and policy run unchanged under all three.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that moves only when told to, optionally running `speed` times faster than real time."""

    def __init__(self, start: datetime, speed: float = 0.0, real: Clock | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock start must be timezone-aware")
        self._lock = threading.Lock()
        self._virtual_at_anchor = start.astimezone(UTC)
        self._real = real or SystemClock()
        self._real_anchor = self._real.now()
        self._speed = speed

    def now(self) -> datetime:
        with self._lock:
            if self._speed <= 0:
                return self._virtual_at_anchor
            elapsed = self._real.now() - self._real_anchor
            return self._virtual_at_anchor + elapsed * self._speed

    def set_speed(self, speed: float) -> None:
        """Change how fast the clock runs from now on (0 stops it), without a jump."""
        with self._lock:
            now = self._real.now()
            if self._speed > 0:
                self._virtual_at_anchor += (now - self._real_anchor) * self._speed
            self._real_anchor = now
            self._speed = speed

    def advance(self, delta: timedelta) -> datetime:
        """Jump forward by `delta` (never backwards) and return the new instant."""
        if delta < timedelta(0):
            raise ValueError("a clock never moves backwards")
        return self.set(self.now() + delta)

    def set(self, instant: datetime) -> datetime:
        with self._lock:
            instant = utc(instant)
            current = self._virtual_at_anchor
            if self._speed > 0:
                current += (self._real.now() - self._real_anchor) * self._speed
            instant = max(instant, current)
            self._virtual_at_anchor = instant
            self._real_anchor = self._real.now()
            return instant


def utc(instant: datetime) -> datetime:
    """`instant` in UTC; naive datetimes are rejected rather than guessed."""
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant.isoformat()} has no time zone")
    return instant.astimezone(UTC)


def isoformat(instant: datetime) -> str:
    """UTC ISO 8601 with millisecond precision and a trailing Z: sortable as a string in DynamoDB."""
    return utc(instant).isoformat(timespec="milliseconds").replace("+00:00", "Z")
