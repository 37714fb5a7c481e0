"""Journey files: one Segment message per line (JSON), `#` comments and blank lines allowed. Used by
`righttime replay` and `righttime simulate`."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


class JourneyError(ValueError):
    """A journey line that cannot be used; the message names the file, the line and the problem."""


def journey_lines(path: Path, only_containing: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, message) for every message line of `path`, read as a stream (a journey may hold
    millions). `only_containing`: skip, unparsed, the lines that do not contain this text."""
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if only_containing is not None and only_containing not in line:
                    continue
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                try:
                    message = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise JourneyError(
                        f"{path}:{number}: not valid JSON: {exc.msg} (column {exc.colno})"
                    ) from exc
                if not isinstance(message, dict):
                    raise JourneyError(f"{path}:{number}: expected a JSON object")
                yield number, message
    except OSError as exc:
        raise JourneyError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise JourneyError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from exc


def _session(customer: int, start: datetime, rng: random.Random) -> list[tuple[datetime, dict[str, Any]]]:
    """A plausible shopping session: identify, browse, search, add to cart, sometimes buy."""
    user = f"bench-{customer}"
    at = start + timedelta(minutes=rng.randrange(0, 600))
    zone = rng.choice(["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC", "America/Los_Angeles"])
    steps: list[dict[str, Any]] = [
        {
            "type": "identify",
            "userId": user,
            "traits": {"email": f"{user}@example.com", "firstName": "B", "timezone": zone},
        },
    ]
    for view in range(rng.randrange(1, 4)):
        steps.append(
            {
                "type": "track",
                "userId": user,
                "event": "Product Viewed",
                "properties": {
                    "product_id": f"p{view}",
                    "name": f"Product {view}",
                    "category": "shirts",
                    "price": 20 + view,
                },
            }
        )
    if rng.random() < 0.5:
        steps.append(
            {"type": "track", "userId": user, "event": "Products Searched", "properties": {"query": "q"}}
        )
    steps.append(
        {
            "type": "track",
            "userId": user,
            "event": "Product Added",
            "properties": {"product_id": "p0", "name": "Product 0", "price": 20, "cart_id": f"c{customer}"},
        }
    )
    if rng.random() < 0.4:
        steps.append(
            {
                "type": "track",
                "userId": user,
                "event": "Order Completed",
                "properties": {
                    "order_id": f"o{customer}",
                    "revenue": 20,
                    "channel": "web",
                    "products": [{"product_id": "p0", "category": "shirts", "price": 20}],
                },
            }
        )
    timed = []
    for index, step in enumerate(steps):
        at += timedelta(minutes=rng.randrange(1, 15))
        timed.append((at, {**step, "messageId": f"{user}-{index}", "timestamp": at.isoformat()}))
    return timed


def generated_journey(customers: int, seed: int = 7) -> list[tuple[datetime, dict[str, Any]]]:
    """A reproducible mix of shopping sessions for `customers` customers, in time order: for benchmarks and
    for the contract suite that runs it on every engine."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible test mix, not a secret
    start = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
    events = [e for c in range(customers) for e in _session(c, start, rng)]
    return sorted(events, key=lambda e: (e[0], e[1]["messageId"]))


def write_journey(path: Path, events: Sequence[tuple[datetime, dict[str, Any]]]) -> Path:
    """Write `events` as a journey file (one JSON message per line)."""
    path.write_text("".join(json.dumps(message) + "\n" for _, message in events), encoding="utf-8")
    return path


def journey_of_size(events: int, seed: int = 7) -> list[tuple[datetime, dict[str, Any]]]:
    """The first `events` events of a generated journey with enough customers to hold them."""
    customers, generated = 0, list[tuple[datetime, dict[str, Any]]]()
    while len(generated) < events:
        customers += max(50, (events - len(generated)) // 5)
        generated = generated_journey(customers, seed)
    return generated[:events]
