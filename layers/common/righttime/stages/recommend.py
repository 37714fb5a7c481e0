"""`recommendations(items, n)` for templates: what other customers bought with these items, in stock, and
not what the customer has; else the categories bought together; else the campaign's hand-written map
(docs/content.md, "Recommendations"). Each call says which source it used, for the decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from righttime.core.catalog import Product, live_line
from righttime.core.profiles import Profile
from righttime.core.recommend import CATEGORY_PAIRS, PRODUCT_PAIRS, complements, rank
from righttime.stages.ports import Catalog

#: the most suggestions one call returns, and the items it looks at
MAX_SUGGESTIONS = 10
MAX_ITEMS = 50
#: candidates read from the catalog per suggestion wanted (some are sold out, or unknown)
CANDIDATES_PER_SUGGESTION = 2
#: one BatchGetItem's keys
MAX_LOOKUP = 100


class Recommender:
    """The `recommendations` function of one message's templates. `used` records (source, count) per call:
    `co_purchase`, `category`, `fallback` (the campaign's `complements` map) or `none`."""

    def __init__(
        self, catalog: Catalog | None, profile: Profile, fallback: Mapping[str, Any], low_stock: int
    ) -> None:
        self.catalog = catalog
        self.profile = profile
        self.fallback = fallback
        self.low_stock = low_stock
        self.used: list[tuple[str, int]] = []
        self._answers: dict[tuple[Any, ...], tuple[str, list[dict[str, Any]]]] = {}

    def __call__(self, items: Any = None, n: int = 3, categories: Any = None) -> list[dict[str, Any]]:
        wanted = max(0, min(int(n), MAX_SUGGESTIONS))
        ids, named = _ids_and_categories(items)
        named += [c for c in _strings(categories) if c not in named]
        # The subject, the HTML and the text part ask alike: the catalog is read once per question.
        question = (tuple(ids), tuple(named), wanted)
        if question in self._answers:
            source, found = self._answers[question]
            return self._answer(source, [dict(item) for item in found])
        source, found = self._find(ids, named, wanted)
        self._answers[question] = (source, found)
        return self._answer(source, [dict(item) for item in found])

    def _find(self, ids: list[str], named: list[str], wanted: int) -> tuple[str, list[dict[str, Any]]]:
        if wanted == 0:
            return "none", []
        exclude = (
            set(ids) | {line.product_id for line in self.profile.cart} | set(self.profile.bought_products)
        )
        if self.catalog is not None and ids:
            found = self._co_purchased(self.catalog, ids, exclude, wanted, named)
            if found:
                return "co_purchase", found
        if self.catalog is not None and named:
            pairs = self.catalog.pairs([CATEGORY_PAIRS + c for c in named[:MAX_ITEMS]])
            ranked = rank(pairs.values(), set(named), wanted)
            if ranked:
                return "category", [_category(name) for name, _ in ranked]
        table = self.fallback.get("complements")
        chosen = complements(named, table if isinstance(table, Mapping) else {}, set(named), wanted)
        return ("fallback" if chosen else "none"), [_category(name) for name in chosen]

    def _co_purchased(
        self, catalog: Catalog, ids: list[str], exclude: set[str], wanted: int, named: list[str]
    ) -> list[dict[str, Any]]:
        pairs = catalog.pairs([PRODUCT_PAIRS + i for i in ids[:MAX_ITEMS]])
        ranked = rank(pairs.values(), exclude, wanted * CANDIDATES_PER_SUGGESTION)
        # One read for the candidates, and for the items themselves when their categories are not known yet
        # (the fallbacks need them).
        lookup = [candidate for candidate, _ in ranked] + ([] if named else ids)
        known = catalog.products(list(dict.fromkeys(lookup))[:MAX_LOOKUP])
        if not named:
            named += sorted({known[i].category or "" for i in ids if i in known} - {""})
        shown = [_product(known[c], self.low_stock) for c, _ in ranked if _showable(known.get(c))]
        return shown[:wanted]

    def _answer(self, source: str, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.used.append((source, len(found)))
        return found


def _ids_and_categories(items: Any) -> tuple[list[str], list[str]]:
    """Product ids and categories of `items`: ids, or lines with `product_id` (and `category`)."""
    ids: list[str] = []
    categories: list[str] = []
    for item in items if isinstance(items, Sequence) and not isinstance(items, str) else [items]:
        if isinstance(item, Mapping):
            product_id, category = item.get("product_id"), item.get("category")
        else:
            product_id, category = item, None
        key = str(product_id).strip() if isinstance(product_id, str | int) else ""
        if key and not isinstance(product_id, bool) and key not in ids:
            ids.append(key)
        if isinstance(category, str) and category.strip() and category.strip() not in categories:
            categories.append(category.strip())
    return ids[:MAX_ITEMS], categories


def _strings(values: Any) -> list[str]:
    if isinstance(values, str):
        return [values]
    if isinstance(values, Sequence):
        return [v for v in values if isinstance(v, str) and v.strip()]
    return []


def _showable(product: Product | None) -> bool:
    """A product a message can show: in stock, with a name to show."""
    return product is not None and product.in_stock and bool(product.name)


def _product(product: Product, low_stock: int) -> dict[str, Any]:
    line = live_line({"product_id": product.product_id}, product, low_stock)
    return {"kind": "product", "currency": product.currency, **line}


def _category(name: str) -> dict[str, Any]:
    """A category to suggest, in the same shape as a product (no id, link, price or stock)."""
    return {
        "kind": "category",
        "name": name,
        "category": name,
        "product_id": None,
        "url": None,
        "image_url": None,
        "price": None,
        "currency": None,
        "stock": None,
        "in_stock": True,
        "low_stock": False,
    }
