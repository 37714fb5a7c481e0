"""Co-purchase recommendations: what was bought together, learned from `Order Completed`, fading with time,
and what to suggest next to a cart or an order (docs/content.md, "Recommendations").

**Fading.** An order adds a weight that doubles every `HALF_LIFE` from a fixed epoch, instead of decaying
every stored count: an order 90 days older counts half as much as today's, and adding stays one atomic
`ADD`. A weight has 12 significant digits. DynamoDB numbers go up to 10^125, which the weights reach in
about a century (2126), when the epoch would have to move. An order older than a few years no longer
changes a sum of recent ones at all: it has faded.

**Bounds.** Each product (and category) keeps its partners' weights on one item. When it holds more than
`PRUNE_AT`, it is cut back to its `TOP_PARTNERS` heaviest: a partner seldom bought with it can be forgotten,
and comes back if it is bought with it again. Partners per order: the first `MAX_ORDER_PRODUCTS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

#: the pairs items' keys: a product's partners, and a category's
PRODUCT_PAIRS = "P#"
CATEGORY_PAIRS = "C#"
#: how fast an order's weight halves relative to newer orders
HALF_LIFE = timedelta(days=90)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
#: partners kept per product or category after pruning, and the count that triggers a prune
TOP_PARTNERS = 20
PRUNE_AT = 40
#: products of one order that learn from it (a large order says little about any pair)
MAX_ORDER_PRODUCTS = 10
#: orders an item remembers, to apply each once: after a prune, the latest ORDERS_KEPT; a prune comes when it
#: remembers MAX_ORDERS (a retry that comes after that many newer orders of the same product counts twice)
ORDERS_KEPT = 20
MAX_ORDERS = 40
_WEIGHTS = Context(prec=12)


def weight(at: datetime) -> Decimal:
    """An order's weight: 2 ** ((at - EPOCH) / HALF_LIFE), to 12 significant digits."""
    exponent = Decimal(repr((at - EPOCH) / HALF_LIFE))
    return _WEIGHTS.power(Decimal(2), exponent)


@dataclass(frozen=True)
class Basket:
    """What one order teaches: the products and categories bought together."""

    order_tag: str
    at: datetime
    products: tuple[str, ...]
    categories: tuple[str, ...]

    def partners(self, of: str, among: Sequence[str]) -> list[str]:
        return [other for other in among if other != of]


def basket(order_id: str, at: datetime, properties: Mapping[str, Any]) -> Basket | None:
    """The basket of an `Order Completed`'s `products`, or None when it holds fewer than two products (a
    single product pairs with nothing). `order_tag` names the order and its time, to apply it once."""
    lines = properties.get("products")
    if not isinstance(lines, list):
        return None
    products: list[str] = []
    categories: list[str] = []
    for line in lines:
        if not isinstance(line, dict):
            continue
        product_id = line.get("product_id")
        key = str(product_id).strip()[:200] if isinstance(product_id, str | int) else ""
        if key and not isinstance(product_id, bool) and key not in products:
            products.append(key)
        category = line.get("category")
        if isinstance(category, str) and category.strip() and category.strip()[:200] not in categories:
            categories.append(category.strip()[:200])
    products, categories = products[:MAX_ORDER_PRODUCTS], categories[:MAX_ORDER_PRODUCTS]
    if len(products) < 2 and len(categories) < 2:
        return None
    return Basket(order_tag(order_id, at), at, tuple(products), tuple(categories))


def order_tag(order_id: str, at: datetime) -> str:
    """A short name for an order on the items it taught: the order's time in hex seconds (so tags sort by
    time) and 8 hex digits of its id's sha256. About 17 bytes, so an item can remember many."""
    digest = hashlib.sha256(order_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{int(at.timestamp()):x}:{digest}"


def pruned(partners: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The TOP_PARTNERS heaviest partners (ties: by id, for a stable result)."""
    ranked = sorted(partners.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked[:TOP_PARTNERS])


def rank(pair_lists: Iterable[Mapping[str, Decimal]], exclude: set[str], n: int) -> list[tuple[str, Decimal]]:
    """The partners of every item summed, heaviest first, without `exclude`, at most n."""
    total: dict[str, Decimal] = {}
    for partners in pair_lists:
        for partner, score in partners.items():
            if partner not in exclude:
                total[partner] = total.get(partner, Decimal(0)) + score
    return sorted(total.items(), key=lambda item: (-item[1], item[0]))[:n]


def complements(categories: Iterable[str], table: Mapping[str, Any], exclude: set[str], n: int) -> list[str]:
    """The hand-written fallback: a campaign's `complements` map (category -> categories that go with it),
    and its `default` list when no category of the items is in the map."""
    found: list[str] = []
    for category in categories:
        for other in table.get(category) or []:
            if isinstance(other, str) and other not in exclude and other not in found:
                found.append(other)
    if not found:
        found = [d for d in table.get("default") or [] if isinstance(d, str) and d not in exclude]
    return found[:n]
