"""Co-purchase recommendations: what an order teaches, how old orders fade, what is suggested and what never
is (the customer's cart and purchases, sold-out products), and which source a suggestion came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from righttime.core.catalog import Product
from righttime.core.clock import VirtualClock
from righttime.core.profiles import CartItem, Profile
from righttime.core.recommend import (
    HALF_LIFE,
    PRUNE_AT,
    TOP_PARTNERS,
    basket,
    complements,
    rank,
    weight,
)
from righttime.stages.recommend import Recommender
from righttime_dev.memory import MemoryCatalog

AT = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _catalog(*products: Product) -> MemoryCatalog:
    catalog = MemoryCatalog(VirtualClock(start=AT))
    for product in products:
        catalog.put_product(product, None)
    return catalog


def _product(product_id: str, stock: int | None = 5, category: str | None = None) -> Product:
    return Product(
        product_id=product_id,
        name=product_id.title(),
        url=f"https://shop.example/{product_id}",
        price=Decimal(10),
        stock=stock,
        category=category,
        updated_at=AT,
    )


def _order(catalog: MemoryCatalog, order_id: str, at: datetime, *products: tuple[str, str]) -> None:
    lines = [{"product_id": p, "category": c} for p, c in products]
    found = basket(order_id, at, {"products": lines})
    assert found is not None
    for member in found.products:
        catalog.learn("P#" + member, found.partners(member, found.products), weight(at), found.order_tag, at)
    for member in found.categories:
        catalog.learn(
            "C#" + member, found.partners(member, found.categories), weight(at), found.order_tag, at
        )


def test_an_order_ninety_days_older_weighs_half():
    assert weight(AT) / weight(AT - HALF_LIFE) == 2
    assert weight(AT - 2 * HALF_LIFE) * 4 == weight(AT)


def test_an_order_of_one_product_teaches_nothing_and_a_large_one_only_its_first_ten():
    assert basket("o", AT, {"products": [{"product_id": "a"}]}) is None
    many = basket("o", AT, {"products": [{"product_id": f"p{n}"} for n in range(30)]})
    assert many is not None and len(many.products) == 10


def test_the_same_order_is_learned_once_even_when_its_event_comes_again():
    # Given an order of a suit and shoes, learned once
    catalog = _catalog()
    _order(catalog, "o-1", AT, ("suit", "suits"), ("shoes", "shoes"))
    before = catalog.pairs(["P#suit"])
    # When the same event is evaluated again (a retry)
    _order(catalog, "o-1", AT, ("suit", "suits"), ("shoes", "shoes"))
    # Then nothing is counted twice
    assert catalog.pairs(["P#suit"]) == before == {"P#suit": {"shoes": weight(AT)}}


def test_a_product_keeps_its_heaviest_partners_only():
    # Given a product bought with more partners than it keeps, one of them often
    catalog = _catalog()
    for n in range(PRUNE_AT + 5):
        _order(catalog, f"o-{n}", AT + timedelta(minutes=n), ("hub", "x"), (f"p{n}", "y"))
    for n in range(3):
        _order(catalog, f"again-{n}", AT + timedelta(hours=1, minutes=n), ("hub", "x"), ("p0", "y"))
    # Then it keeps at most PRUNE_AT, and after a prune its TOP_PARTNERS, the frequent one among them
    partners = catalog.pairs(["P#hub"])["P#hub"]
    assert TOP_PARTNERS <= len(partners) <= PRUNE_AT and "p0" in partners


def test_suggestions_are_what_others_bought_with_the_items_in_stock_and_not_already_had():
    # Given orders pairing a suit with shoes (often), a belt and a tie (once each), and socks now sold out
    catalog = _catalog(
        _product("shoes"), _product("belt"), _product("tie"), _product("socks", stock=0), _product("suit")
    )
    for n in range(3):
        _order(catalog, f"a{n}", AT, ("suit", "suits"), ("shoes", "shoes"))
    _order(catalog, "b", AT, ("suit", "suits"), ("belt", "belts"), ("socks", "socks"))
    _order(catalog, "c", AT, ("suit", "suits"), ("tie", "ties"))
    # And a customer with a suit in the cart who bought a belt lately
    profile = Profile(customer_id="c", cart=[CartItem(product_id="suit")], bought_products=["belt"])
    recommender = Recommender(catalog, profile, {}, low_stock=5)
    # When the template asks for three suggestions for the cart
    picks = recommender([{"product_id": "suit", "category": "suits"}], 3)
    # Then shoes come first, the belt (bought) and socks (sold out) never, and the source is recorded
    assert [p["product_id"] for p in picks] == ["shoes", "tie"]
    assert all(p["kind"] == "product" and p["in_stock"] for p in picks)
    assert recommender.used == [("co_purchase", 2)]


def test_without_co_purchases_it_falls_back_to_categories_then_to_the_hand_written_map():
    profile = Profile(customer_id="c")
    # Given no product pairs, but categories bought together
    catalog = _catalog()
    _order(catalog, "o", AT, ("lamp", "lighting"), ("bulb", "bulbs"))
    recommender = Recommender(catalog, profile, {"complements": {"suits": ["shoes"]}}, low_stock=5)
    # Then a lamp without product pairs of its own gets categories
    assert [p["name"] for p in recommender(["unknown-lamp"], 3, ["lighting"])] == ["bulbs"]
    # And a suit, known to nothing learned, gets the campaign's map; a category known nowhere, nothing
    assert [p["name"] for p in recommender([], 3, ["suits"])] == ["shoes"]
    assert recommender([], 3, ["garden"]) == []
    assert recommender.used == [("category", 1), ("fallback", 1), ("none", 0)]


def test_the_same_question_reads_the_catalog_once():
    # Given a recommender, asked the same question by the subject, the HTML and the text part
    catalog = _catalog(_product("shoes"))
    _order(catalog, "o", AT, ("suit", "suits"), ("shoes", "shoes"))
    reads: list[object] = []
    pairs = catalog.pairs
    catalog.pairs = lambda keys: reads.append(keys) or pairs(keys)  # type: ignore[method-assign]
    recommender = Recommender(catalog, Profile(customer_id="c"), {}, low_stock=5)
    for _ in range(3):
        assert [p["product_id"] for p in recommender(["suit"], 2)] == ["shoes"]
    # Then the pairs were read once
    assert len(reads) == 1


def test_ranking_sums_partners_of_every_item_and_complements_default():
    ranked = rank([{"a": Decimal(1), "b": Decimal(2)}, {"a": Decimal(2)}], {"b"}, 5)
    assert ranked == [("a", Decimal(3))]
    assert complements(["x"], {"default": ["gift cards"]}, set(), 3) == ["gift cards"]
