"""Transactional messages (receipts, password resets): expected by the customer, so they are sent when due,
take no frequency-cap slot from promotions, and every trigger gets its own message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from righttime.core.campaigns import Campaign, Kind, load_campaigns
from righttime.core.decisions import MessageStatus, OutboundMessage, Outcome
from righttime.core.events import QueuedEvent
from righttime.core.global_policy import FrequencyCap, GlobalPolicy
from righttime.core.policy import Action, Plan, decide_at_send, plan_event
from righttime.core.profiles import (
    MAX_PENDING_TRANSACTIONAL,
    PendingRef,
    Profile,
    apply_event,
    forget_pending,
)

MakeEvent = Callable[..., QueuedEvent]  # the type of the `make_event` fixture
SHIPPED = {c.id: c for c in load_campaigns(Path(__file__).resolve().parents[2] / "campaigns")}

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


def order(make_event: MakeEvent, at: datetime, order_id: str, message_id: str | None = None) -> QueuedEvent:
    props = {"order_id": order_id, "revenue": 20, "channel": "web"}
    message_id = message_id or f"m-{order_id}"
    return make_event("track", at, event="Order Completed", messageId=message_id, properties=props)


# --- caps and priorities are about promotions ---------------------------------------------------------


def test_a_receipt_planned_by_the_same_order_takes_no_promotional_slot(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given one promotion a day, and a receipt (priority 100) and a thank-you promotion, both on orders
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
    # Given one promotion a day, a cart reminder firing now, and a receipt (priority 100) waiting for later
    receipt = PendingRef(
        campaign_id="order_confirmation",
        message_id="m-receipt",
        send_at=t0 + timedelta(hours=2),
        trigger_at=t0,
        priority=100,
        promotional=False,
    )
    profile = customer(pending={receipt.key: receipt})
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


# --- every trigger gets its own message ---------------------------------------------------------------


def test_two_orders_a_minute_apart_each_get_their_confirmation(make_event: MakeEvent, t0: datetime) -> None:
    # Given the shipped order confirmation, and a first order whose receipt is waiting to go
    receipts = [SHIPPED["order_confirmation"]]
    first = step(customer(), order(make_event, t0, "o-1"), t0, receipts, GlobalPolicy())
    [first_receipt] = first.schedule
    # When a second order follows a minute later
    now = t0 + timedelta(minutes=1)
    second = step(first.profile, order(make_event, now, "o-2"), now, receipts, GlobalPolicy())
    # Then a second receipt is scheduled for it, and the first one is neither moved nor cancelled
    [decision] = second.decisions
    assert (decision.outcome, decision.reason_codes, decision.send_at) == (
        Outcome.SCHEDULED,
        ["triggered"],
        now,
    )
    [second_receipt] = second.schedule
    assert second_receipt.message_id != first_receipt.message_id
    assert second_receipt.trigger_properties["order_id"] == "o-2"
    assert second.close == [] and second.move == []
    # And both wait on the profile, each under its own key
    waiting = second.profile.waiting_for("order_confirmation")
    assert {ref.message_id for ref in waiting} == {first_receipt.message_id, second_receipt.message_id}


def test_sending_one_confirmation_forgets_only_its_own_reference(make_event: MakeEvent, t0: datetime) -> None:
    # Given two receipts waiting for two orders
    receipts = [SHIPPED["order_confirmation"]]
    first = step(customer(), order(make_event, t0, "o-1"), t0, receipts, GlobalPolicy())
    second = step(first.profile, order(make_event, t0, "o-2"), t0, receipts, GlobalPolicy())
    [sent] = first.schedule
    # When the sender settles the first one
    profile = second.profile.model_copy(deep=True)
    forget_pending(profile, sent.campaign_id, sent.message_id, promotional=False)
    # Then only the second one still waits
    assert [ref.message_id for ref in profile.waiting_for("order_confirmation")] == [
        second.schedule[0].message_id
    ]


def test_the_same_trigger_evaluated_again_moves_its_own_receipt(make_event: MakeEvent, t0: datetime) -> None:
    # Given a receipt waiting for an order
    receipts = [SHIPPED["order_confirmation"]]
    event = order(make_event, t0, "o-1")
    first = step(customer(), event, t0, receipts, GlobalPolicy())
    # When the same event is evaluated again (a redelivery that slipped past de-duplication)
    again = step(first.profile, event, t0, receipts, GlobalPolicy())
    # Then it is the same message, not a second receipt
    assert [m.message_id for m in again.schedule] == [first.schedule[0].message_id]
    assert again.decisions[0].reason_codes == ["trigger_repeated"]
    assert len(again.profile.waiting_for("order_confirmation")) == 1


def test_with_a_dedupe_key_the_same_order_sent_twice_gets_one_receipt(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given a receipt de-duplicated by order_id, waiting for order o-1
    receipt = SHIPPED["order_confirmation"].model_copy(update={"dedupe_key": "order_id"})
    first = step(customer(), order(make_event, t0, "o-1"), t0, [receipt], GlobalPolicy())
    # When the shop sends the same order again under another messageId, then another order
    now = t0 + timedelta(minutes=1)
    again = step(first.profile, order(make_event, now, "o-1", "m-o-1-again"), now, [receipt], GlobalPolicy())
    other = step(again.profile, order(make_event, now, "o-2"), now, [receipt], GlobalPolicy())
    # Then the repeat moves the waiting receipt, and the other order gets a receipt of its own
    assert again.decisions[0].reason_codes == ["trigger_repeated"]
    assert again.schedule[0].message_id == first.schedule[0].message_id
    assert other.decisions[0].reason_codes == ["triggered"] and other.close == []
    assert sorted(ref.dedupe_key or "" for ref in other.profile.waiting_for(receipt.id)) == ["o-1", "o-2"]


def test_an_exit_event_cancels_every_waiting_message_of_a_transactional_campaign(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given a transactional payment reminder that waits three days, for two invoices
    reminder = Campaign.model_validate(
        {
            "id": "payment_reminder",
            "name": "Payment reminder",
            "kind": "transactional",
            "trigger": {"event": "Invoice Issued"},
            "timing": {"delay": "3d"},
            "exit": {"events": ["Account Settled"]},
            "template": "payment_reminder",
        }
    )
    profile = customer()
    for number in ("i-1", "i-2"):
        issued = make_event("track", t0, event="Invoice Issued", messageId=f"m-{number}")
        profile = step(profile, issued, t0, [reminder], GlobalPolicy()).profile
    # When the account is settled
    settled = make_event("track", t0 + timedelta(hours=1), event="Account Settled", messageId="m-settled")
    plan = step(profile, settled, t0 + timedelta(hours=1), [reminder], GlobalPolicy())
    # Then both reminders are cancelled, and none waits any more
    assert [(d.outcome, d.reason_codes) for d in plan.decisions] == [(Outcome.CANCELLED, ["exit_event"])] * 2
    assert {status for _, status, _ in plan.close} == {MessageStatus.CANCELLED} and len(plan.close) == 2
    assert plan.profile.pending == {}


def test_waiting_receipts_are_bounded_per_campaign(make_event: MakeEvent, t0: datetime) -> None:
    # Given as many receipts waiting as a campaign may keep for one customer
    receipt = SHIPPED["order_confirmation"].model_copy(update={"timing": RESET.timing})
    profile = customer()
    for n in range(MAX_PENDING_TRANSACTIONAL):
        profile = step(profile, order(make_event, t0, f"o-{n}"), t0, [receipt], GlobalPolicy()).profile
    # When one more order arrives before any was sent
    plan = step(profile, order(make_event, t0, "o-extra"), t0, [receipt], GlobalPolicy())
    # Then it is suppressed, saying the limit, and the profile stays bounded
    [decision] = plan.decisions
    assert (decision.outcome, decision.reason_codes) == (Outcome.SUPPRESSED, ["pending_limit"])
    assert decision.reasons[0].detail == {"limit": MAX_PENDING_TRANSACTIONAL}
    assert len(plan.profile.waiting_for("order_confirmation")) == MAX_PENDING_TRANSACTIONAL
