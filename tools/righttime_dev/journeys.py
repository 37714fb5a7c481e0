"""Journey files: one Segment message per line (JSON), `#` comments and blank lines allowed. Used by
`righttime replay` and `righttime simulate`."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


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


# -- program traffic -----------------------------------------------------------------------------------------

#: zones that stress the rules: the extremes of the day line, a 45-minute offset, a 30-minute DST shift, and
#: the DST changes of both hemispheres
PROGRAM_ZONES = (
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/New_York",
    "Europe/Paris",
    "America/Santiago",
    "UTC",
)
#: local days around the 2026 clock changes of those zones (and the new year), where journeys begin
_DST_DAYS = (
    "2026-03-07", "2026-03-08", "2026-03-28", "2026-03-29", "2026-04-04", "2026-04-05",
    "2026-09-05", "2026-09-06", "2026-10-03", "2026-10-04", "2026-10-24", "2026-10-25",
    "2026-10-31", "2026-11-01", "2026-12-31",
)  # fmt: skip
#: birthdays that fall on or near a clock change, on 29 February, and around the new year (month-day)
_BIRTHDAYS = (
    "02-29", "02-28", "03-01", "03-08", "03-14", "03-28", "03-29", "04-04", "04-05", "09-05",
    "09-06", "10-04", "10-25", "10-31", "11-01", "12-31", "01-01",
)  # fmt: skip
#: wall times at the edges of quiet hours and windows, and inside clock-change gaps
_ODD_TIMES = ("20:59", "21:00", "21:30", "23:59", "00:30", "02:30", "03:30", "07:59", "08:00", "08:59",
              "09:00", "17:59", "18:00", "18:59", "19:00", "19:59", "20:00")  # fmt: skip
_CATEGORIES = ("suits", "shirts", "shoes", "lighting", "kitchen")


def _local(day: str, wall: str, zone_name: str, days_later: int = 0) -> datetime:
    """The UTC instant of `wall` on `day` (+ `days_later`) on the clock of `zone_name`; a wall time that a
    clock change skips is read as zoneinfo reads it (shifted by the gap)."""
    from zoneinfo import ZoneInfo

    local = datetime.fromisoformat(f"{day}T{wall}") + timedelta(days=days_later)
    return local.replace(tzinfo=ZoneInfo(zone_name)).astimezone(UTC)


class _ProgramCustomer:
    """One customer's program traffic, built line by line at odd wall times on their own clock."""

    def __init__(self, customer: int, rng: random.Random) -> None:
        self.user, self.rng = f"pj-{customer}", rng
        self.zone = PROGRAM_ZONES[customer % len(PROGRAM_ZONES)]
        self.day = rng.choice(_DST_DAYS)
        self.start = rng.randrange(-12, 4)  # days before (or after) the clock change that the journey begins
        # Some customers' zone is known only from their events' context, as a web SDK sends it.
        self.zone_in_traits = rng.random() < 0.85
        self.context = {} if self.zone_in_traits else {"context": {"timezone": self.zone}}
        self.timed: list[tuple[datetime, dict[str, Any]]] = []

    def at(self, days_later: float) -> datetime:
        """An odd wall time (an edge of quiet hours or a window, a clock-change gap), `days_later` days into
        the journey; day 0 is the sign-up's."""
        return _local(self.day, self.rng.choice(_ODD_TIMES), self.zone, self.start + int(days_later))

    def identify(self, days_later: float, traits: dict[str, Any]) -> None:
        message = {"type": "identify", "userId": self.user, "traits": traits, **self.context}
        self.timed.append((self.at(days_later), message))

    def track(self, days_later: float, event: str, properties: dict[str, Any]) -> None:
        message = {"type": "track", "userId": self.user, "event": event, "properties": properties}
        self.timed.append((self.at(days_later), {**message, **self.context}))

    def sign_up(self) -> bool:
        """The first identify: address, zone, and maybe an opt-in, a birthday and a renewal date."""
        rng = self.rng
        traits: dict[str, Any] = {"email": f"{self.user}@example.com", "firstName": self.user.upper()}
        if self.zone_in_traits:
            traits["timezone"] = self.zone
        subscribed = rng.random() < 0.8
        if subscribed:
            traits["subscribed"] = True
        if rng.random() < 0.6:
            birthday = rng.choice(_BIRTHDAYS)
            year = rng.choice((1988, 1992, 1996, 2000)) if birthday == "02-29" else rng.randrange(1970, 2005)
            traits["birthday"] = f"{year}-{birthday}"
        if rng.random() < 0.3:
            traits["renewal_date"] = f"{rng.choice((2026, 2027))}-{rng.choice(_DST_DAYS)[5:]}"
            if rng.random() < 0.3:
                self.identify(rng.uniform(2, 30), {"renewal_date": f"2027-{rng.choice(_DST_DAYS)[5:]}"})
        self.identify(0, traits)
        return subscribed

    def loyalty(self) -> None:
        """Points that climb past 1,000 and hover around it, sometimes under 900 and back."""
        points, when = self.rng.randrange(500, 900), 1.0
        for _ in range(self.rng.randrange(3, 9)):
            when += self.rng.uniform(0.2, 6)
            points = max(0, points + self.rng.choice((-120, -15, -2, 3, 8, 40, 90, 150)))
            self.identify(when, {"loyalty_points": points})

    def orders(self) -> None:
        """Orders at any hour (some in store) with their categories, some refunded; sometimes a comeback
        about 180 days after the last one, around the win-back's start, which must stop it."""
        rng = self.rng
        when = rng.uniform(1, 10)
        count = rng.choice((0, 1, 1, 2, 3))
        for number in range(count):
            when += rng.uniform(0.5, 20)
            order = f"{self.user}-o{number}"
            categories = rng.sample(_CATEGORIES, rng.randrange(0, 3))
            properties: dict[str, Any] = {
                "order_id": order,
                "revenue": 40 + 10 * number,
                "products": [{"product_id": f"{c}-1", "category": c, "price": 40} for c in categories],
            }
            if rng.random() < 0.15:
                properties["channel"] = "pos"
            self.track(when, "Order Completed", properties)
            if rng.random() < 0.2:
                self.track(when + rng.uniform(1, 5), "Order Refunded", {"order_id": order, "revenue": 40})
        if count and rng.random() < 0.3:
            comeback = when + 180 + rng.uniform(-2, 25)
            self.track(comeback, "Order Completed", {"order_id": f"{self.user}-back", "channel": "pos"})

    def carts(self) -> None:
        """Browsing, carts and searches: campaigns that compete with the programs' steps for the caps."""
        for _ in range(self.rng.randrange(0, 4)):
            when = self.rng.uniform(1, 30)
            category = self.rng.choice(_CATEGORIES)
            self.track(when, "Product Viewed", {"product_id": "p1", "category": category, "price": 20})
            if self.rng.random() < 0.6:
                cart = f"{self.user}-c{int(when)}"
                self.track(when, "Product Added", {"product_id": "p1", "price": 20, "cart_id": cart})
            if self.rng.random() < 0.3:
                self.track(when, "Products Searched", {"query": "lamp"})

    def lines(self) -> list[tuple[datetime, dict[str, Any]]]:
        rng = self.rng
        subscribed = self.sign_up()
        if rng.random() < 0.4:
            self.loyalty()
        self.orders()
        self.carts()
        if subscribed and rng.random() < 0.4:
            self.track(rng.uniform(6, 14), "Survey Answered", {"survey_id": "welcome", "answer": "A friend"})
        if rng.random() < 0.15:
            self.identify(rng.uniform(1, 25), {"unsubscribed": True})
        if self.zone_in_traits and rng.random() < 0.05:
            self.identify(rng.uniform(1, 20), {"timezone": rng.choice(PROGRAM_ZONES)})
        self.timed.sort(key=lambda pair: pair[0])
        lines: list[tuple[datetime, dict[str, Any]]] = []
        for index, (wanted, message) in enumerate(self.timed):
            # Two of one customer's events at one instant would leave their order to the file's.
            at = max(wanted, lines[-1][0] + timedelta(minutes=1)) if lines else wanted
            lines.append((at, {**message, "messageId": f"{self.user}-{index}", "timestamp": at.isoformat()}))
        return lines


def program_journey(customers: int, seed: int = 7) -> list[tuple[datetime, dict[str, Any]]]:
    """A reproducible journey of program traffic for `customers` customers in time order: sign-ups at odd
    hours, birthdays (29 February, days of clock changes), renewal dates, loyalty points hovering at 1,000,
    orders at any hour and in store, refunds, survey answers, carts, unsubscribes and moves, in zones from
    UTC-12 to UTC+14 across the 2026 clock changes. For the checks that no step of any program breaks the
    policy (tests/functional/test_program_properties.py)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible test mix, not a secret
    events = [e for c in range(customers) for e in _ProgramCustomer(c, rng).lines()]
    return sorted(events, key=lambda e: (e[0], e[1]["messageId"]))


# -- an engagement history (send-time optimisation) ----------------------------------------------------------

#: the trigger of the best-hour journey's receipts, and of its offer (events/journeys/best-hour/)
NEWSLETTER_EVENT = "Newsletter Requested"
OFFER_EVENT = "Offer Unlocked"


def best_hour_journey(customers: int, seed: int = 7) -> list[tuple[datetime, dict[str, Any]]]:
    """A reproducible engagement history for `send_time: optimal`, in time order. Each customer, in a zone
    of PROGRAM_ZONES, asks for newsletters over six weeks and opens each receipt three minutes after asking,
    three times in four at their favourite local hour (any hour, quiet ones included), else at another; some
    open fewer than five. Then, at 10:00 on their clock, they unlock an offer that goes at their best hour."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible test mix, not a secret
    start = date(2026, 10, 1)
    events: list[tuple[datetime, dict[str, Any]]] = []
    for number in range(customers):
        user, zone = f"reader-{number}", ZoneInfo(rng.choice(PROGRAM_ZONES))
        address = f"{user}@example.com"
        favourite = rng.randrange(24)
        timed: list[tuple[datetime, dict[str, Any]]] = []
        identify = {"type": "identify", "userId": user, "traits": {"email": address, "timezone": zone.key}}
        timed.append((_local_at(start, 9, 0, zone), identify))
        days = sorted(rng.sample(range(1, 42), rng.choice((0, 2, 4, 5, 6, 9, 14))))
        for day in days:
            hour = favourite if rng.random() < 0.75 else rng.randrange(24)
            asked = _local_at(start + timedelta(days=day), hour, rng.randrange(0, 50), zone)
            timed.append((asked, {"type": "track", "userId": user, "event": NEWSLETTER_EVENT}))
            opened = {"type": "ses", "fate": "open", "userId": user, "address": address}
            timed.append((asked + timedelta(minutes=3), opened))
        offer = {"type": "track", "userId": user, "event": OFFER_EVENT}
        timed.append((_local_at(start + timedelta(days=45), 10, 0, zone), offer))
        for index, (at, message) in enumerate(timed):
            events.append((at, {**message, "messageId": f"{user}-{index}", "timestamp": at.isoformat()}))
    return sorted(events, key=lambda e: (e[0], e[1]["messageId"]))


def _local_at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)
