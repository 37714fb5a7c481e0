"""Transactional messages (receipts, password resets): expected by the customer, so they are sent when due,
take no frequency-cap slot from promotions, and every trigger gets its own message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from righttime.core.campaigns import Campaign, Kind
from righttime.core.decisions import OutboundMessage, Outcome
from righttime.core.events import QueuedEvent
from righttime.core.global_policy import FrequencyCap, GlobalPolicy
from righttime.core.policy import Action, Plan, decide_at_send, plan_event
from righttime.core.profiles import PendingRef, Profile, apply_event

MakeEvent = Callable[..., QueuedEvent]  # the type of the `make_event` fixture

#: one promotion per calendar day: the rule a pending receipt used to eat into
ONE_A_DAY = GlobalPolicy(frequency_caps=[FrequencyCap(max=1, per="day")])
RECEIPT = Campaign.model_validate(
    {
        "id": "order_confirmation",
        "name": "Order confirmation",
        "kind": "transactional",
        "priority": 100,
        "trigger": {"event": "Order Completed"},
        "timing": {"delay": "0s"},
        "template": "order_confirmation",
    }
)
RESET = Campaign.model_validate(
    {
        "id": "password_reset",
        "name": "Password reset",
        "kind": "transactional",
        "priority": 100,
        "trigger": {"event": "Password Reset Requested"},
        "timing": {"delay": "5m"},
        "template": "password_reset",
    }
)
THANK_YOU = Campaign.model_validate(
    {
        "id": "thank_you",
        "name": "Thank you, with ideas",
        "priority": 10,
        "trigger": {"event": "Order Completed"},
        "timing": {"delay": "1h"},
        "template": "thank_you",
    }
)
CART = Campaign.model_validate(
    {
        "id": "cart_abandonment",
        "name": "Cart reminder",
        "priority": 50,
        "trigger": {"event": "Product Added"},
        "timing": {"delay": "1h"},
        "template": "cart_abandonment",
    }
)


def customer(**changes: Any) -> Profile:
    return Profile(customer_id="cust-1", email="jane@example.com").model_copy(update=changes)


def step(
    profile: Profile, event: QueuedEvent, now: datetime, campaigns: list[Campaign], policy: GlobalPolicy
) -> Plan:
    """What the evaluator does: update the profile with the event, then plan against the updated profile."""
    return plan_event(apply_event(profile, event), event, campaigns, policy, now)


def order(make_event: MakeEvent, at: datetime, order_id: str) -> QueuedEvent:
    props = {"order_id": order_id, "revenue": 20}
    return make_event("track", at, event="Order Completed", messageId=f"m-{order_id}", properties=props)


# --- caps and priorities are about promotions ---------------------------------------------------------


def test_a_receipt_planned_by_the_same_order_takes_no_promotional_slot(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given one promotion a day, a receipt (priority 100) and a thank-you promotion, both triggered by an order
    campaigns = [RECEIPT, THANK_YOU]
    # When the customer orders
    plan = step(customer(), order(make_event, t0, "o-1"), t0, campaigns, ONE_A_DAY)
    # Then the receipt goes now and the thank-you an hour later, the same day: nothing outranked it
    by_campaign = {d.campaign_id: d for d in plan.decisions}
    assert (by_campaign["order_confirmation"].outcome, by_campaign["order_confirmation"].send_at) == (
        Outcome.SCHEDULED,
        t0,
    )
    assert (by_campaign["thank_you"].outcome, by_campaign["thank_you"].send_at) == (
        Outcome.SCHEDULED,
        t0 + timedelta(hours=1),
    )
    assert by_campaign["thank_you"].reason_codes == ["triggered"]


def test_a_waiting_password_reset_does_not_push_a_cart_reminder_to_tomorrow(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given one promotion a day and a password reset (transactional) waiting to go in 5 minutes
    reset = make_event("track", t0, event="Password Reset Requested", messageId="m-reset")
    waiting = step(customer(), reset, t0, [RESET, CART], ONE_A_DAY)
    # When the customer adds a product to the cart a minute later
    now = t0 + timedelta(minutes=1)
    added = make_event("track", now, event="Product Added", messageId="m-add", properties={"product_id": "p"})
    plan = step(waiting.profile, added, now, [RESET, CART], ONE_A_DAY)
    # Then the cart reminder is planned for an hour later, today, and the reset is left as it was
    [decision] = plan.decisions
    assert (decision.campaign_id, decision.outcome) == ("cart_abandonment", Outcome.SCHEDULED)
    assert decision.send_at == now + timedelta(hours=1)
    assert "outranked" not in decision.reason_codes and "frequency_cap" not in decision.reason_codes
    assert plan.move == [] and plan.close == []


def test_at_send_time_a_waiting_receipt_takes_no_promotional_slot(t0: datetime) -> None:
    # Given one promotion a day, a cart reminder firing now, and a receipt (priority 100) waiting for later today
    receipt = PendingRef(
        message_id="m-receipt",
        send_at=t0 + timedelta(hours=2),
        trigger_at=t0,
        priority=100,
        promotional=False,
    )
    profile = customer(pending={"order_confirmation": receipt})
    reminder = OutboundMessage(
        message_id="m-cart",
        customer_id="cust-1",
        campaign_id="cart_abandonment",
        kind=Kind.PROMOTIONAL,
        template="cart_abandonment",
        send_at=t0 + timedelta(hours=1),
        created_at=t0,
        updated_at=t0,
        trigger_event="Product Added",
        trigger_message_id="m-add",
        trigger_at=t0,
        priority=50,
    )
    # When the reminder fires
    verdict = decide_at_send(profile, reminder, CART, ONE_A_DAY, None, t0 + timedelta(hours=1))
    # Then it is sent: only promotions compete for the day's slot
    assert verdict.action is Action.SEND
