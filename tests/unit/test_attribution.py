"""Conversion attribution: an order is credited to its last touch within the window (a send, a click, or a
holdout), once per order, and a refund takes the credit back (docs/reporting.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from righttime.core.campaigns import Campaign
from righttime.core.decisions import Decision, Outcome
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.global_policy import Attribution, GlobalPolicy
from righttime.core.holdout import held_out
from righttime.core.policy import Plan, plan_event
from righttime.core.profiles import Engagement, Profile, SendRecord, apply_event

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
DAY = timedelta(days=1)
POLICY = GlobalPolicy()
CART = Campaign.model_validate(
    {"id": "cart", "name": "Cart", "priority": 50, "trigger": {"event": "Product Added"}, "template": "cart"}
)
BROWSE = Campaign.model_validate(
    {
        "id": "browse",
        "name": "Browse",
        "priority": 20,
        "trigger": {"event": "Product Viewed"},
        "template": "b",
    }
)


def customer(**fields: Any) -> Profile:
    return Profile(customer_id="cust-1", email="ana@example.com", **fields)


def sent(campaign: str, at: datetime, message: str = "m") -> SendRecord:
    return SendRecord(at=at, campaign_id=campaign, promotional=True, message_id=f"{message}-{campaign}")


def event(name: str, at: datetime, message_id: str, **props: Any) -> QueuedEvent:
    track = TrackMessage(userId="cust-1", messageId=message_id, event=name, properties=props)
    return QueuedEvent(message=track, received_at=at, occurred_at=at)


def run(profile: Profile, queued: QueuedEvent, policy: GlobalPolicy = POLICY) -> Plan:
    return plan_event(apply_event(profile, queued), queued, [CART, BROWSE], policy, queued.occurred_at)


def credits(plan: Plan) -> list[Decision]:
    return [d for d in plan.decisions if d.outcome is Outcome.ATTRIBUTED]


def test_an_order_is_credited_to_the_last_message_sent_within_the_window() -> None:
    # Given a browse nudge sent 4 days ago and a cart reminder 2 days ago
    profile = customer(sends=[sent("browse", T0 - 4 * DAY), sent("cart", T0 - 2 * DAY)])
    # When the customer orders for 49.90 EUR
    plan = run(profile, event("Order Completed", T0, "o-msg", order_id="o-1", revenue=49.9, currency="eur"))
    # Then the cart reminder gets the credit, with the revenue and currency
    (credit,) = credits(plan)
    assert credit.campaign_id == "cart" and credit.message_id == "m-cart"
    detail = credit.reasons[0].detail
    assert (detail["order_id"], detail["revenue"], detail["currency"], detail["touch"]) == (
        "o-1",
        "49.9",
        "EUR",
        "sent",
    )


def test_a_click_is_a_later_touch_than_the_send_it_came_from() -> None:
    # Given a cart reminder sent 2 days ago, a browse nudge yesterday, and a click in the cart reminder today
    profile = customer(
        sends=[sent("cart", T0 - 2 * DAY), sent("browse", T0 - DAY)],
        engagement=[
            Engagement(kind="click", at=T0 - timedelta(hours=1), message_id="m-cart", campaign_id="cart")
        ],
    )
    # When the customer orders
    plan = run(profile, event("Order Completed", T0, "o-msg", order_id="o-2", revenue=10))
    # Then the click wins: it is the last touch
    (credit,) = credits(plan)
    assert (credit.campaign_id, credit.reasons[0].detail["touch"]) == ("cart", "clicked")


def test_a_send_older_than_the_window_gets_no_credit() -> None:
    # Given a reminder sent 6 days ago, and the default 5-day window
    profile = customer(sends=[sent("cart", T0 - 6 * DAY)])
    # When the customer orders
    plan = run(profile, event("Order Completed", T0, "o-msg", order_id="o-3", revenue=10))
    # Then nothing is credited; a 7-day window would credit it
    assert credits(plan) == []
    longer = GlobalPolicy(attribution=Attribution(window=timedelta(days=7)))
    assert [
        c.campaign_id
        for c in credits(run(profile, event("Order Completed", T0, "o", order_id="o-3"), longer))
    ] == ["cart"]


def test_a_tie_goes_to_the_higher_priority() -> None:
    # Given two messages sent at the same instant
    profile = customer(sends=[sent("browse", T0 - DAY), sent("cart", T0 - DAY)])
    # When the customer orders
    plan = run(profile, event("Order Completed", T0, "o-msg", order_id="o-4", revenue=10))
    # Then the higher-priority campaign gets the credit
    assert [c.campaign_id for c in credits(plan)] == ["cart"]


def test_the_same_order_sent_twice_is_credited_once_and_a_refund_takes_the_credit_back() -> None:
    # Given an order credited to the cart reminder
    profile = customer(sends=[sent("cart", T0 - DAY)])
    first = run(profile, event("Order Completed", T0, "o-a", order_id="o-5", revenue=80))
    assert [c.campaign_id for c in credits(first)] == ["cart"]
    # When the same order comes again (another messageId), then is refunded
    again = run(first.profile, event("Order Completed", T0 + DAY, "o-b", order_id="o-5", revenue=80))
    refund = run(again.profile, event("Order Refunded", T0 + 2 * DAY, "r-1", order_id="o-5"))
    # Then it is not credited twice, and the refund takes the 80 back from the same campaign
    assert credits(again) == []
    (taken_back,) = credits(refund)
    assert taken_back.campaign_id == "cart"
    assert [r.code.value for r in taken_back.reasons] == ["credit_refunded"]
    assert taken_back.reasons[0].detail["revenue"] == "-80"
    # And a second refund of the same order takes nothing more back
    assert credits(run(refund.profile, event("Order Refunded", T0 + 3 * DAY, "r-2", order_id="o-5"))) == []


def test_a_held_out_customers_order_is_credited_to_the_holdout_for_the_lift() -> None:
    # Given a cart reminder with a 50% holdout, and a customer in it who adds to their cart
    with_holdout = CART.model_copy(update={"holdout": Decimal(50)})
    customer_id = next(f"c-{n}" for n in range(1000) if held_out("cart", f"c-{n}", Decimal(50)))
    profile = Profile(customer_id=customer_id, email="ana@example.com")
    added = TrackMessage(
        userId=customer_id, messageId="add", event="Product Added", properties={"product_id": "p"}
    )
    queued = QueuedEvent(message=added, received_at=T0, occurred_at=T0)
    held = plan_event(apply_event(profile, queued), queued, [with_holdout], POLICY, T0)
    assert [d.outcome for d in held.decisions] == [Outcome.HELD_OUT]
    # When they order two days later, never having been sent anything
    order = TrackMessage(
        userId=customer_id, messageId="o", event="Order Completed", properties={"revenue": 30}
    )
    later = QueuedEvent(message=order, received_at=T0 + 2 * DAY, occurred_at=T0 + 2 * DAY)
    plan = plan_event(apply_event(held.profile, later), later, [with_holdout], POLICY, T0 + 2 * DAY)
    # Then the order is credited to the cart reminder's holdout, so the lift can be measured
    (credit,) = credits(plan)
    assert (credit.campaign_id, credit.reasons[0].detail["touch"], credit.reasons[0].detail["held_out"]) == (
        "cart",
        "held_out",
        True,
    )


def test_a_transactional_message_gets_no_credit() -> None:
    # Given only an order confirmation sent yesterday
    profile = customer(
        sends=[SendRecord(at=T0 - DAY, campaign_id="receipt", promotional=False, message_id="r")]
    )
    # When the customer orders again
    plan = run(profile, event("Order Completed", T0, "o-msg", order_id="o-6", revenue=10))
    # Then nothing is credited: a receipt does not sell the next order
    assert credits(plan) == []
