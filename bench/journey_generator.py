"""A realistic journey of any size for back-testing (`righttime simulate`), written as an export would come.

Many customers across IANA zones, each with a few shopping sessions over a month: identify (e-mail, name,
usually a `timezone` trait, otherwise the device's zone in `context`), searches, product views, cart
additions and removals, checkouts, orders on the web, in the app and in store, and now and then a refund.
A few customers share an address (a household). Like a real export the file is not in time order: a share
of lines is displaced by minutes to hours, and a share arrived late (`receivedAt` after `timestamp`, a phone
that was offline). The same size and seed give the same file.

    python bench/journey_generator.py 1000000 journey-1m.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

#: where customers are, with a weight each: most in a few big markets, some everywhere else
ZONES: tuple[tuple[str, int], ...] = (
    ("America/New_York", 18),
    ("America/Chicago", 9),
    ("America/Denver", 3),
    ("America/Los_Angeles", 12),
    ("America/Sao_Paulo", 5),
    ("America/Mexico_City", 3),
    ("Europe/London", 10),
    ("Europe/Paris", 8),
    ("Europe/Berlin", 7),
    ("Europe/Madrid", 3),
    ("Asia/Tokyo", 6),
    ("Asia/Kolkata", 4),
    ("Asia/Singapore", 2),
    ("Australia/Sydney", 4),
    ("Pacific/Auckland", 1),
    ("Africa/Johannesburg", 1),
    ("Asia/Kathmandu", 1),
    ("America/St_Johns", 1),
)
CATEGORIES = ("shirts", "shoes", "suits", "lamps", "bags", "watches", "sofas", "toys")
START = datetime(2026, 10, 1, tzinfo=UTC)
#: the month the sessions fall in
SPAN = timedelta(days=30)
#: share of lines written out of place, and how far
DISPLACED, DISPLACEMENT = 0.02, timedelta(hours=6)
#: share of lines that arrived late, and the longest delay
LATE, LATE_BY = 0.03, timedelta(hours=8)
#: share of customers who share their e-mail address with the customer before them
HOUSEHOLD = 0.01


class _Customer:
    def __init__(self, number: int, rng: random.Random, zones: list[str], weights: list[int]) -> None:
        self.number = number
        self.user_id = f"cust-{number:07d}"
        self.zone = rng.choices(zones, weights)[0]
        self.email = f"shopper{number}@example.com"
        self.first_name = rng.choice(("Ada", "Bo", "Chloé", "Dmitri", "Eun-ji", "Femi", "Grace", "Hiro"))
        self.cart: list[dict[str, Any]] = []
        self.orders = 0


def generate(events: int, seed: int = 2026) -> Iterator[str]:
    """The journey's lines (JSON text, no newline), exactly `events` of them, in export order."""
    rng = random.Random(seed)  # a reproducible benchmark mix, not a secret
    zones, weights = [z for z, _ in ZONES], [w for _, w in ZONES]
    timed: list[tuple[datetime, int, dict[str, Any]]] = []
    number, previous = 0, None
    while len(timed) < events:
        customer = _Customer(number, rng, zones, weights)
        if previous is not None and rng.random() < HOUSEHOLD:
            customer.email = previous.email
        timed += _month(customer, rng)
        number, previous = number + 1, customer
    timed.sort(key=lambda e: (e[0], e[1]))
    timed = timed[:events]
    placed: list[tuple[datetime, int, str]] = []
    for index, (at, _, message) in enumerate(timed):
        message["messageId"] = f"m-{seed}-{index}"
        message["timestamp"] = at.isoformat()
        if rng.random() < LATE:
            late = at + timedelta(seconds=rng.randrange(60, int(LATE_BY.total_seconds())))
            message["receivedAt"] = late.isoformat()
        written_at = at
        if rng.random() < DISPLACED:
            shift = int(DISPLACEMENT.total_seconds())
            written_at = at + timedelta(seconds=rng.randrange(-shift, shift))
        placed.append((written_at, index, json.dumps(message, separators=(",", ":"))))
    placed.sort(key=lambda p: (p[0], p[1]))
    return (text for _, _, text in placed)


def _month(customer: _Customer, rng: random.Random) -> list[tuple[datetime, int, dict[str, Any]]]:
    """A customer's month: an identify, then one to four sessions on different days."""
    out: list[tuple[datetime, int, dict[str, Any]]] = []
    day = START + timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
    # Sessions happen in the customer's waking hours: from about 07:00 to 23:00 local time.
    at = _local_waking(day, customer.zone, rng)
    traits: dict[str, Any] = {"email": customer.email, "firstName": customer.first_name}
    identify: dict[str, Any] = {"type": "identify", "userId": customer.user_id, "traits": traits}
    if rng.random() < 0.7:
        traits["timezone"] = customer.zone
    else:
        identify["context"] = {"timezone": customer.zone}
    out.append((at, customer.number, identify))
    for session in range(rng.choice((1, 1, 2, 2, 3, 4))):
        if session:
            at = _local_waking(at + timedelta(days=rng.randrange(1, 8)), customer.zone, rng)
        out += _session(customer, at, rng)
    return out


def _local_waking(day: datetime, zone: str, rng: random.Random) -> datetime:
    from zoneinfo import ZoneInfo

    local = day.astimezone(ZoneInfo(zone))
    local = local.replace(hour=7, minute=0, second=0) + timedelta(seconds=rng.randrange(16 * 3600))
    return local.astimezone(UTC)


def _session(
    customer: _Customer, at: datetime, rng: random.Random
) -> list[tuple[datetime, int, dict[str, Any]]]:
    steps: list[dict[str, Any]] = []

    def track(name: str, props: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "track",
            "userId": customer.user_id,
            "event": name,
            "properties": props,
            "context": {"timezone": customer.zone, "channel": rng.choice(("web", "web", "app"))},
        }

    category = rng.choice(CATEGORIES)
    if rng.random() < 0.3:
        steps.append({"type": "page", "userId": customer.user_id, "name": "Home", "properties": {}})
    if rng.random() < 0.35:
        steps.append(track("Products Searched", {"query": category}))
    viewed = []
    for _ in range(rng.randrange(1, 6)):
        product = {
            "product_id": f"{category[:2]}-{rng.randrange(500)}",
            "name": f"{category.title()} {rng.randrange(100)}",
            "category": category,
            "price": rng.randrange(10, 400),
        }
        viewed.append(product)
        steps.append(track("Product Viewed", dict(product)))
    cart_id = f"cart-{customer.number}-{customer.orders}"
    if rng.random() < 0.45:
        for product in rng.sample(viewed, rng.randrange(1, len(viewed) + 1)):
            customer.cart.append(product)
            steps.append(track("Product Added", {**product, "cart_id": cart_id, "quantity": 1}))
        if len(customer.cart) > 1 and rng.random() < 0.15:
            removed = customer.cart.pop()
            steps.append(track("Product Removed", {**removed, "cart_id": cart_id}))
        if rng.random() < 0.2:
            steps.append(track("Cart Viewed", {"cart_id": cart_id}))
        if rng.random() < 0.45:
            steps.append(track("Checkout Started", {"cart_id": cart_id, "revenue": _total(customer.cart)}))
            if rng.random() < 0.6:
                steps.append(_order(customer, cart_id, rng, track))
    elif rng.random() < 0.04:  # bought in store, no cart online
        in_store = {**rng.choice(viewed)}
        customer.cart = [in_store]
        order = _order(customer, cart_id, rng, track)
        order["properties"]["channel"] = "pos"
        steps.append(order)
    timed = []
    for step in steps:
        at += timedelta(seconds=rng.randrange(20, 600))
        timed.append((at, customer.number, step))
    if customer.orders and rng.random() < 0.03:
        refund_at = at + timedelta(days=rng.randrange(1, 10))
        refund = track("Order Refunded", {"order_id": f"o-{customer.number}-{customer.orders - 1}"})
        timed.append((refund_at, customer.number, refund))
    return timed


def _order(
    customer: _Customer,
    cart_id: str,
    rng: random.Random,
    track: Callable[[str, dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    products = [
        {"product_id": p["product_id"], "category": p["category"], "price": p["price"]} for p in customer.cart
    ]
    order = track(
        "Order Completed",
        {
            "order_id": f"o-{customer.number}-{customer.orders}",
            "cart_id": cart_id,
            "revenue": _total(customer.cart),
            "currency": "USD",
            "channel": rng.choice(("web", "app")),
            "products": products,
        },
    )
    customer.orders += 1
    customer.cart = []
    return dict(order)


def _total(cart: list[dict[str, Any]]) -> int:
    return sum(int(p["price"]) for p in cart)


def write(path: Path, events: int, seed: int = 2026) -> Path:
    """Write a journey of `events` lines to `path`."""
    with path.open("w", encoding="utf-8") as out:
        for text in generate(events, seed):
            out.write(text + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("events", type=int)
    parser.add_argument("path", type=Path)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    write(args.path, args.events, args.seed)
    print(f"{args.events:,} events written to {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
