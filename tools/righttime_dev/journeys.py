"""Journey files: one Segment message per line (JSON), `#` comments and blank lines allowed. Used by
`righttime replay` and `righttime simulate`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JourneyError(ValueError):
    """A journey line that cannot be used; the message names the file, the line and the problem."""


def journey_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, message) for every message line of `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise JourneyError(f"{path}: cannot read: {exc.strerror}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JourneyError(f"{path}:{number}: not valid JSON: {exc.msg} (column {exc.colno})") from exc
        if not isinstance(message, dict):
            raise JourneyError(f"{path}:{number}: expected a JSON object")
        yield number, message
