"""The catalog through the real handlers: a shop's Product Updated events keep each product's stock and
price; a product back in stock or cheaper reaches the customers who wanted it; and a message never promotes
what has sold out since it was planned (docs/content.md)."""

from __future__ import annotations

import email
from datetime import timedelta
from email.policy import default as default_policy
from typing import Any

from righttime.core.clock import VirtualClock
from righttime.wiring.root import root
from righttime_dev.local.pipeline import Pipeline
from righttime_dev.simulate import _fire_until
from tests.functional.conftest import post


def _product(clock: VirtualClock, product_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": "catalog-feed",
        "event": "Product Updated",
        "timestamp": clock.now().isoformat(),
        "properties": {"product_id": product_id, **fields},
    }


def _feed(pipeline: Pipeline, clock: VirtualClock, product_id: str, **fields: Any) -> None:
    status, body = post(pipeline, "/v1/batch", {"batch": [_product(clock, product_id, **fields)]})
    assert status == 200, body
    pipeline.run_until_idle()


def _customer(pipeline: Pipeline, user: str) -> None:
    assert (
        post(pipeline, "/v1/identify", {"userId": user, "traits": {"email": f"{user}@example.com"}})[0] == 200
    )


def _track(pipeline: Pipeline, user: str, event: str, **properties: Any) -> None:
    assert post(pipeline, "/v1/track", {"userId": user, "event": event, "properties": properties})[0] == 200
    pipeline.run_until_idle()


def _decisions(user: str, campaign: str) -> list[tuple[str, list[str]]]:
    return [(d.outcome.value, d.reason_codes) for d in root().store.decisions(user, campaign)]


def _days_pass(pipeline: Pipeline, clock: VirtualClock, days: int = 2) -> None:
    """Time goes on, stopping at each schedule when it fires, as EventBridge Scheduler would."""
    _fire_until(pipeline, clock, clock.now() + timedelta(days=days))


def _mail_to(pipeline: Pipeline, user: str) -> list[Any]:
    found = []
    for sent in pipeline.sent:
        message = email.message_from_bytes(sent.raw, policy=default_policy)
        if str(message["To"]) == f"{user}@example.com":
            found.append(message)
    return found


def _text(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def test_a_product_back_in_stock_reaches_who_wanted_it_while_it_was_out(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a lamp that is sold out, and a customer who looks at it then
    _feed(pipeline, clock, "lamp", name="Brass lamp", price=120, stock=0, url="https://shop.example/lamp")
    _customer(pipeline, "ana")
    _track(pipeline, "ana", "Product Viewed", product_id="lamp", name="Brass lamp", price=120)
    # And another customer who looked at it before it ran out
    clock.advance(timedelta(minutes=5))

    # When the shop's feed says three are back
    clock.advance(timedelta(hours=1))
    _feed(pipeline, clock, "lamp", stock=3)
    _days_pass(pipeline, clock)

    # Then she gets a back-in-stock message that says only three are left
    (message,) = [m for m in _mail_to(pipeline, "ana") if "back in stock" in str(m["Subject"])]
    assert str(message["Subject"]) == "Brass lamp is back in stock"
    assert "Only 3 left." in _text(message)
    assert root().catalog.product("lamp").stock == 3  # type: ignore[union-attr]


def test_a_price_drop_reaches_who_saw_the_higher_price_unless_it_sold_out_before_sending(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a chair at 200, looked at by a customer
    _feed(pipeline, clock, "chair", name="Oak chair", price=200, stock=10)
    _customer(pipeline, "ben")
    _track(pipeline, "ben", "Product Viewed", product_id="chair", name="Oak chair", price=200)

    # When the price drops to 150, then the chair sells out before the message goes (its delay is an hour)
    clock.advance(timedelta(minutes=10))
    _feed(pipeline, clock, "chair", price=150)
    assert [o for o, _ in _decisions("ben", "price_drop")] == ["scheduled"]
    clock.advance(timedelta(minutes=10))
    _feed(pipeline, clock, "chair", stock=0)
    _days_pass(pipeline, clock)

    # Then the message is not sent: the decision says the product is out of stock
    outcomes = _decisions("ben", "price_drop")
    assert ("suppressed", ["out_of_stock"]) in outcomes
    assert not [m for m in _mail_to(pipeline, "ben") if "costs less" in str(m["Subject"])]


def test_a_cart_reminder_leaves_out_what_sold_out_and_says_what_runs_low(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given two products in the catalog, and a customer who carts both
    _feed(pipeline, clock, "mug", name="Blue mug", price=12, stock=50)
    _feed(pipeline, clock, "vase", name="Glass vase", price=40, stock=2)
    _customer(pipeline, "cy")
    _track(pipeline, "cy", "Product Added", product_id="mug", name="Blue mug", price=12, quantity=1)
    _track(pipeline, "cy", "Product Added", product_id="vase", name="Glass vase", price=40, quantity=1)

    # When the mug sells out before the reminder goes
    clock.advance(timedelta(minutes=20))
    _feed(pipeline, clock, "mug", stock=0)
    _days_pass(pipeline, clock)

    # Then the reminder shows the vase alone, running low, and the decision says what was left out
    (message,) = [m for m in _mail_to(pipeline, "cy") if "cart" in str(m["Subject"])]
    text = _text(message)
    assert "Glass vase" in text and "(only 2 left)" in text and "Blue mug" not in text
    assert "Total: 40.00" in text
    sent = [r for o, r in _decisions("cy", "cart_abandonment") if o == "sent"]
    assert sent and "out_of_stock_removed" in sent[-1]


def test_an_update_older_than_the_stored_one_changes_nothing(pipeline: Pipeline, clock: VirtualClock):
    # Given a product updated now
    _feed(pipeline, clock, "desk", price=300, stock=4)
    # When an update made an hour earlier arrives late
    late = _product(clock, "desk", price=999, stock=0)
    late["timestamp"] = (clock.now() - timedelta(hours=1)).isoformat()
    assert post(pipeline, "/v1/batch", {"batch": [late]})[0] == 200
    pipeline.run_until_idle()
    # Then the stored product is the newer one
    stored = root().catalog.product("desk")
    assert stored is not None and (stored.price, stored.stock) == (300, 4)


def test_a_product_update_that_cannot_describe_a_product_is_refused_naming_the_field(
    pipeline: Pipeline, clock: VirtualClock
):
    for properties, field in (
        ({"name": "No id"}, "properties.product_id"),
        ({"product_id": "x", "stock": -1}, "properties.stock"),
        ({"product_id": "x", "stock": "many"}, "properties.stock"),
        ({"product_id": "x", "price": -5}, "properties.price"),
    ):
        message = {**_product(clock, "x"), "properties": properties}
        status, body = post(pipeline, "/v1/batch", {"batch": [message]})
        assert status == 400, body
        assert any(error["field"] == f"batch.0.{field}" for error in body["errors"]), body


def test_the_post_purchase_cross_sell_suggests_what_other_customers_bought_with_the_order(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a catalog, and three customers who bought the suit with the shoes, one with a tie
    _feed(pipeline, clock, "suit", name="Navy suit", category="suits", price=400, stock=9)
    _feed(pipeline, clock, "shoes", name="Oxford shoes", category="shoes", price=150, stock=9)
    _feed(pipeline, clock, "tie", name="Silk tie", category="ties", price=60, stock=9)
    for n, partner in enumerate(["shoes", "shoes", "shoes", "tie"]):
        products = [{"product_id": "suit", "category": "suits"}, {"product_id": partner, "category": partner}]
        _track(pipeline, f"buyer-{n}", "Order Completed", order_id=f"o-{n}", revenue=500, products=products)

    # When another customer buys the suit alone, and the post-purchase series reaches its cross-sell
    _customer(pipeline, "dan")
    products = [{"product_id": "suit", "category": "suits", "price": 400}]
    _track(pipeline, "dan", "Order Completed", order_id="o-dan", revenue=400, products=products)
    _days_pass(pipeline, clock, days=5)

    # Then it suggests the shoes first, then the tie, saying customers bought them with the same
    (message,) = [m for m in _mail_to(pipeline, "dan") if "go with your order" in str(m["Subject"])]
    assert str(message["Subject"]) == "Oxford shoes to go with your order"
    text = _text(message)
    assert "Customers who bought the same also bought:" in text
    assert text.index("Oxford shoes") < text.index("Silk tie")
    # And the decision records where the suggestions came from
    (sent,) = [
        d
        for d in root().store.decisions("dan", "post_purchase_series--v1--cross_sell")
        if d.outcome.value == "sent"
    ]
    recommended = [r.detail for r in sent.reasons if r.code.value == "recommended"]
    assert recommended == [{"source": "co_purchase", "count": 2}]
