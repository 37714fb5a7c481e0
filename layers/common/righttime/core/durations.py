"""Durations as marketers write them: `90s`, `30m`, `1h`, `1h30m`, `3d`, `2w`, or ISO 8601 (`PT1H`)."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_SHORT = re.compile(
    r"^\s*(?:(\d+)\s*w)?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$"
)


def parse_duration(value: Any) -> timedelta:
    """Parse `value` into a timedelta, or raise ValueError saying what form is expected."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A bare number is ambiguous (seconds? minutes?) and is what YAML makes of an unquoted 1:30.
        raise ValueError(f"{value!r} has no unit: write e.g. 90s, 30m, 1h, 1h30m or 3d")
    if isinstance(value, str):
        text = value.strip().lower()
        match = _SHORT.match(text)
        if text and match and any(match.groups()):
            parts = dict(zip(_UNITS.values(), match.groups(), strict=True))
            return timedelta(**{unit: int(n) for unit, n in parts.items() if n})
        if text.startswith("p"):
            from pydantic import TypeAdapter  # ISO 8601 is the rare form; keep the common path light

            return TypeAdapter(timedelta).validate_python(value.upper())
    raise ValueError(f"{value!r} is not a duration: use e.g. 90s, 30m, 1h, 1h30m, 3d, 2w or ISO 8601 PT1H")


@lru_cache(maxsize=1_024)
def format_duration(value: timedelta) -> str:
    """The short form of `value`, e.g. `1h30m`. Cached: reasons name the same few durations over and over."""
    seconds = int(value.total_seconds())
    out = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out) or "0s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
