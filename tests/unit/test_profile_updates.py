"""How each event changes a customer's profile: traits, cart, orders and context (pure)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.profiles import MAX_CART_ITEMS, CartItem, Profile, apply_event, pending_key

MakeEvent = Callable[..., QueuedEvent]  # the conftest `make_event` fixture


def fresh() -> Profile:
    return Profile(customer_id="cust-1")


def added(make_event: MakeEvent, at: datetime, product_id: str, **props: Any) -> QueuedEvent:
    return make_event("track", at, event="Product Added", properties={"product_id": product_id, **props})


def quantities(profile: Profile) -> dict[str, int]:
    return {item.product_id: item.quantity for item in profile.cart}


# --- identify -------------------------------------------------------------------------------------


def test_identify_stores_the_traits_righttime_uses(make_event: MakeEvent, t0: datetime) -> None:
    # Given a new customer
    # When the app identifies them
    traits = {
        "email": " jane@example.com ",
        "firstName": "Jane",
        "lastName": "Doe",
        "timezone": "Europe/Paris",
        "unsubscribed": True,
        "birthday": "1990-05-17T00:00:00Z",
    }
    profile = apply_event(fresh(), make_event("identify", t0, traits=traits))
    # Then each known trait lands in its own field
    assert profile.email == "jane@example.com"
    assert (profile.first_name, profile.last_name) == ("Jane", "Doe")
    assert profile.timezone == "Europe/Paris"
    assert profile.unsubscribed is True
    assert profile.birthday is not None and profile.birthday.isoformat() == "1990-05-17"
    # And none of them is duplicated among the free-form traits
    assert profile.traits == {}


def test_snake_case_name_traits_are_understood(make_event: MakeEvent, t0: datetime) -> None:
    # Given traits written the snake_case way
    profile = apply_event(fresh(), make_event("identify", t0, traits={"first_name": "Jo", "last_name": "Li"}))
    # Then they fill the same fields
    assert (profile.first_name, profile.last_name) == ("Jo", "Li")


def test_unknown_traits_are_kept_and_merged(make_event: MakeEvent, t0: datetime) -> None:
    # Given a customer identified with a plan
    profile = apply_event(fresh(), make_event("identify", t0, traits={"plan": "gold", "age": 41}))
    # When a later identify adds another trait and changes one
    profile = apply_event(
        profile, make_event("identify", t0 + timedelta(minutes=1), traits={"plan": "platinum", "vip": True})
    )
    # Then every unknown trait is kept with its latest value
    assert profile.traits == {"plan": "platinum", "age": 41, "vip": True}


def test_an_invalid_time_zone_does_not_replace_a_valid_one(make_event: MakeEvent, t0: datetime) -> None:
    # Given a customer known to live in Paris
    profile = fresh().model_copy(update={"timezone": "Europe/Paris"})
    # When an identify sends time zones that are not IANA zones
    for zone in ("Mars/Olympus_Mons", "CET+1", "../../etc/passwd", ""):
        profile = apply_event(profile, make_event("identify", t0, traits={"timezone": zone}))
    # Then the Paris zone is kept
    assert profile.timezone == "Europe/Paris"


def test_an_email_without_at_sign_is_ignored(make_event: MakeEvent, t0: datetime) -> None:
    # Given a customer with an address
    profile = fresh().model_copy(update={"email": "jane@example.com"})
    # When an identify sends something that is not an address
    profile = apply_event(profile, make_event("identify", t0, traits={"email": "not-an-email"}))
    # Then the address is kept
    assert profile.email == "jane@example.com"


def test_a_customer_can_resubscribe(make_event: MakeEvent, t0: datetime) -> None:
    # Given an unsubscribed customer
    profile = fresh().model_copy(update={"unsubscribed": True})
    # When the app identifies them with unsubscribed: false
    profile = apply_event(profile, make_event("identify", t0, traits={"unsubscribed": False}))
    # Then they may receive promotions again
    assert profile.unsubscribed is False


# --- context ----------------------------------------------------------------------------------------


def test_the_device_time_zone_is_stored_apart_from_the_declared_one(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given a customer who declared Paris, now travelling with a phone set to Tokyo
    profile = fresh().model_copy(update={"timezone": "Europe/Paris"})
    # When any event arrives with that context
    profile = apply_event(
        profile, make_event("track", t0, event="Product Viewed", context={"timezone": "Asia/Tokyo"})
    )
    # Then the device zone is remembered as context, and the declared zone is untouched
    assert profile.context_timezone == "Asia/Tokyo"
    assert profile.timezone == "Europe/Paris"


def test_an_invalid_device_time_zone_is_ignored(make_event: MakeEvent, t0: datetime) -> None:
    # Given an event whose context time zone is not an IANA zone
    profile = apply_event(fresh(), make_event("page", t0, name="Home", context={"timezone": "GMT+25"}))
    # Then no context zone is stored
    assert profile.context_timezone is None


def test_the_context_locale_only_fills_a_missing_locale(make_event: MakeEvent, t0: datetime) -> None:
    # Given a customer with no locale, then one from a German device
    first = apply_event(fresh(), make_event("page", t0, name="Home", context={"locale": "de-DE"}))
    # When a later event comes from a French device
    second = apply_event(first, make_event("page", t0, name="Home", context={"locale": "fr-FR"}))
    # Then the first locale learnt is kept
    assert first.locale == second.locale == "de-DE"


def test_first_and_last_seen_follow_event_time_not_arrival_order(make_event: MakeEvent, t0: datetime) -> None:
    # Given events that arrive out of order
    profile = fresh()
    for minutes in (10, 0, 30, 20):
        profile = apply_event(profile, make_event("page", t0 + timedelta(minutes=minutes), name="Home"))
    # Then first seen is the earliest, last seen the latest
    assert profile.first_seen_at == t0
    assert profile.last_seen_at == t0 + timedelta(minutes=30)


# --- cart -------------------------------------------------------------------------------------------


def test_product_added_puts_the_product_in_the_cart(make_event: MakeEvent, t0: datetime) -> None:
    # Given an empty cart
    # When a product is added
    event = added(make_event, t0, "sku-1", name="Linen shirt", price=49.5, quantity=2, category="shirts")
    profile = apply_event(fresh(), event)
    # Then the cart holds it with its details, and knows when it changed
    [item] = profile.cart
    assert item == CartItem(
        product_id="sku-1",
        name="Linen shirt",
        price=Decimal("49.5"),
        quantity=2,
        category="shirts",
    )
    assert profile.cart_total == Decimal("99.0")
    assert profile.cart_updated_at == t0


def test_adding_the_same_product_again_increases_its_quantity(make_event: MakeEvent, t0: datetime) -> None:
    # Given a cart with one shirt
    profile = apply_event(fresh(), added(make_event, t0, "sku-1"))
    # When the same shirt is added twice more, and socks once
    profile = apply_event(profile, added(make_event, t0, "sku-1", quantity=2))
    profile = apply_event(profile, added(make_event, t0, "sku-2"))
    # Then there are two lines: three shirts and one pair of socks
    assert quantities(profile) == {"sku-1": 3, "sku-2": 1}


def test_a_product_is_identified_by_sku_when_it_has_no_product_id(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given a product added by SKU only
    event = make_event("track", t0, event="Product Added", properties={"sku": "SKU-9"})
    # Then it is in the cart under that SKU
    assert quantities(apply_event(fresh(), event)) == {"SKU-9": 1}


def test_a_product_without_any_id_does_not_change_the_cart(make_event: MakeEvent, t0: datetime) -> None:
    # Given a Product Added without product_id or sku
    event = make_event("track", t0, event="Product Added", properties={"name": "Mystery"})
    # Then the cart is unchanged
    profile = apply_event(fresh(), event)
    assert profile.cart == []
    assert profile.cart_updated_at is None


def test_product_removed_lowers_the_quantity_then_removes_the_line(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given three shirts and one pair of socks
    profile = apply_event(fresh(), added(make_event, t0, "sku-1", quantity=3))
    profile = apply_event(profile, added(make_event, t0, "sku-2"))

    def removed(product_id: str, quantity: int) -> QueuedEvent:
        props = {"product_id": product_id, "quantity": quantity}
        return make_event("track", t0 + timedelta(minutes=5), event="Product Removed", properties=props)

    # When two shirts are removed
    profile = apply_event(profile, removed("sku-1", 2))
    # Then one shirt is left
    assert quantities(profile) == {"sku-1": 1, "sku-2": 1}
    # When the socks are removed (more than are in the cart), and a product never added
    profile = apply_event(profile, removed("sku-2", 5))
    profile = apply_event(profile, removed("sku-404", 1))
    # Then the socks line is gone, and nothing else changed
    assert quantities(profile) == {"sku-1": 1}
    assert profile.cart_updated_at == t0 + timedelta(minutes=5)


def test_the_cart_keeps_the_most_recent_lines(make_event: MakeEvent, t0: datetime) -> None:
    # Given a customer adding more distinct products than the cart keeps
    profile = fresh()
    for n in range(MAX_CART_ITEMS + 5):
        profile = apply_event(profile, added(make_event, t0, f"sku-{n}"))
    # Then only the latest MAX_CART_ITEMS lines remain
    assert len(profile.cart) == MAX_CART_ITEMS
    assert profile.cart[0].product_id == "sku-5"
    assert profile.cart[-1].product_id == f"sku-{MAX_CART_ITEMS + 4}"


cart_moves = st.lists(
    st.tuples(
        st.sampled_from(["Product Added", "Product Removed"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(min_value=-2, max_value=5),
    ),
    max_size=30,
)


@given(moves=cart_moves)
def test_cart_lines_always_have_a_positive_quantity(moves: list[tuple[str, str, int]]) -> None:
    # Given any sequence of adds and removes, including odd quantities
    at = datetime(2026, 3, 2, tzinfo=UTC)
    profile = fresh()
    for name, product_id, quantity in moves:
        message = TrackMessage(
            userId="cust-1", event=name, properties={"product_id": product_id, "quantity": quantity}
        )
        profile = apply_event(profile, QueuedEvent(message=message, received_at=at, occurred_at=at))
    # Then the cart has at most one line per product, each with at least one unit
    ids = [item.product_id for item in profile.cart]
    assert len(ids) == len(set(ids))
    assert all(item.quantity >= 1 for item in profile.cart)


# --- orders -----------------------------------------------------------------------------------------


def test_order_completed_records_the_order_and_empties_the_cart(make_event: MakeEvent, t0: datetime) -> None:
    # Given a customer with a cart and one earlier order worth 100
    profile = fresh().model_copy(update={"orders_count": 1, "lifetime_value": Decimal("100.00")})
    profile = apply_event(profile, added(make_event, t0, "sku-1", price=19.99))
    # When they complete an order of 19.99 (bought in any channel)
    order = make_event(
        "track",
        t0 + timedelta(minutes=30),
        event="Order Completed",
        properties={
            "order_id": "ord-7",
            "revenue": 19.99,
            "products": [{"product_id": "sku-1", "category": "shirts"}, {"category": "belts"}],
        },
    )
    profile = apply_event(profile, order)
    # Then the order is counted, its revenue added exactly, and remembered as the last order
    assert profile.orders_count == 2
    assert profile.lifetime_value == Decimal("119.99")
    assert profile.last_order_id == "ord-7"
    assert profile.last_order_at == t0 + timedelta(minutes=30)
    assert profile.last_order_categories == ["belts", "shirts"]
    # And the cart it settled is empty
    assert profile.cart == []
    assert profile.cart_updated_at == t0 + timedelta(minutes=30)


def test_an_order_without_revenue_still_counts(make_event: MakeEvent, t0: datetime) -> None:
    # Given an order with a total but no revenue, then one with neither
    profile = apply_event(
        fresh(), make_event("track", t0, event="Order Completed", properties={"total": "25"})
    )
    profile = apply_event(profile, make_event("track", t0, event="Order Completed", properties={}))
    # Then both count, and the value is the total of the first
    assert profile.orders_count == 2
    assert profile.lifetime_value == Decimal("25")


def test_a_late_arriving_older_order_does_not_replace_the_last_order(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given a customer whose latest order was ord-2
    newer = make_event("track", t0, event="Order Completed", properties={"order_id": "ord-2", "revenue": 10})
    profile = apply_event(fresh(), newer)
    # When an older order arrives late
    older = make_event(
        "track",
        t0 - timedelta(days=1),
        event="Order Completed",
        properties={"order_id": "ord-1", "revenue": 5},
    )
    profile = apply_event(profile, older)
    # Then it counts, but ord-2 stays the last order
    assert profile.orders_count == 2
    assert profile.lifetime_value == Decimal("15")
    assert (profile.last_order_id, profile.last_order_at) == ("ord-2", t0)


def test_order_refunded_takes_the_revenue_back(make_event: MakeEvent, t0: datetime) -> None:
    # Given a customer worth 80
    profile = fresh().model_copy(update={"lifetime_value": Decimal("80")})
    # When an order of 30 is refunded
    profile = apply_event(
        profile, make_event("track", t0, event="Order Refunded", properties={"revenue": 30})
    )
    # Then they are worth 50
    assert profile.lifetime_value == Decimal("50")


# --- purity -----------------------------------------------------------------------------------------


def test_the_input_profile_is_not_modified(make_event: MakeEvent, t0: datetime) -> None:
    # Given a profile with a cart, traits and an order history
    before = apply_event(fresh(), added(make_event, t0, "sku-1", quantity=2))
    before = apply_event(before, make_event("identify", t0, traits={"plan": "gold"}))
    snapshot = before.model_dump()
    # When events that change cart, traits and orders are applied
    after = apply_event(before, added(make_event, t0, "sku-1"))
    after = apply_event(before, make_event("identify", t0, traits={"plan": "silver", "email": "a@b.c"}))
    after = apply_event(before, make_event("track", t0, event="Order Completed", properties={"revenue": 5}))
    # Then the profile passed in is exactly as it was
    assert before.model_dump() == snapshot
    assert after is not before


# --- stored profiles ----------------------------------------------------------------------------------


def test_a_profile_stored_before_receipts_waited_per_trigger_is_read_as_now(t0: datetime) -> None:
    # Given a profile stored when every waiting message was keyed by its campaign id alone
    stored = {
        "customer_id": "cust-1",
        "pending": {
            "cart_abandonment": {"message_id": "m-cart", "send_at": t0, "trigger_at": t0},
            "order_confirmation": {
                "message_id": "m-receipt",
                "send_at": t0,
                "trigger_at": t0,
                "promotional": False,
            },
        },
    }
    # When it is read
    profile = Profile.model_validate(stored)
    # Then each reference names its campaign; the promotion keeps its key, the receipt is keyed per message
    assert {key: ref.campaign_id for key, ref in profile.pending.items()} == {
        "cart_abandonment": "cart_abandonment",
        pending_key("order_confirmation", "m-receipt", promotional=False): "order_confirmation",
    }
    # And writing it back and reading it again changes nothing
    assert Profile.model_validate(profile.model_dump(mode="json")) == profile
