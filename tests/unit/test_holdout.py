"""Holdout groups: a deterministic share of customers who are never sent a promotion, so that its effect can
be measured against them; no minimum list size, and the same answer on every run."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from righttime.core.campaigns import Campaign
from righttime.core.decisions import Outcome
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.global_policy import GlobalPolicy
from righttime.core.holdout import BUCKETS, bucket, held_out, parse_percent
from righttime.core.policy import Plan, plan_event
from righttime.core.profiles import Profile, apply_event
from righttime.core.programs import Program

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
CART = {
    "id": "cart",
    "name": "Cart reminder",
    "trigger": {"event": "Product Added"},
    "timing": {"delay": "1h"},
    "template": "cart_abandonment",
}
RECEIPT = {
    "id": "receipt",
    "name": "Receipt",
    "kind": "transactional",
    "trigger": {"event": "Product Added"},
    "timing": {"delay": "0s"},
    "template": "order_confirmation",
}


def _customer_in(group: str, percent: Decimal, inside: bool) -> str:
    """A customer id that is (or is not) in `group`'s holdout of `percent`."""
    return next(f"c-{n}" for n in range(10_000) if held_out(group, f"c-{n}", percent) is inside)


NO_RULES = GlobalPolicy()


def _plan(customer_id: str, campaigns: list[Campaign], policy: GlobalPolicy = NO_RULES) -> Plan:
    message = TrackMessage(
        userId=customer_id, messageId="m-1", event="Product Added", properties={"product_id": "p"}
    )
    event = QueuedEvent(message=message, received_at=NOW, occurred_at=NOW)
    profile = Profile(customer_id=customer_id, email="ana@example.com")
    return plan_event(apply_event(profile, event), event, campaigns, policy, NOW)


def test_a_held_out_customer_is_recorded_as_held_out_and_never_gets_a_message() -> None:
    # Given a cart reminder with a 10% holdout, and one customer in it and one not
    campaign = Campaign.model_validate({**CART, "holdout": "10%"})
    inside, outside = _customer_in("cart", Decimal(10), True), _customer_in("cart", Decimal(10), False)
    # When each adds to their cart
    held, sent = _plan(inside, [campaign]), _plan(outside, [campaign])
    # Then the one in the holdout gets a held_out decision naming the group, and no message
    (decision,) = held.decisions
    assert decision.outcome is Outcome.HELD_OUT
    assert [(r.code.value, r.detail) for r in decision.reasons][1] == (
        "holdout",
        {"group": "cart", "percent": "10%"},
    )
    assert held.schedule == [] and held.profile.pending == {}
    # And the other one is scheduled as usual
    assert [d.outcome for d in sent.decisions] == [Outcome.SCHEDULED]


def test_the_global_control_group_holds_out_every_promotion_but_never_a_receipt() -> None:
    # Given a 5% global control group, and a customer in it
    policy = GlobalPolicy(control_group=Decimal(5))
    customer = _customer_in("global", Decimal(5), True)
    # When they trigger a promotion and a transactional message at once
    plan = _plan(customer, [Campaign.model_validate(CART), Campaign.model_validate(RECEIPT)], policy)
    # Then the promotion is held out (group global), and the receipt is scheduled
    outcomes = {d.campaign_id: (d.outcome, d.reasons[-1].detail.get("group")) for d in plan.decisions}
    assert outcomes["cart"] == (Outcome.HELD_OUT, "global")
    assert outcomes["receipt"][0] is Outcome.SCHEDULED


def test_assignment_is_stable_close_to_its_share_and_independent_between_groups() -> None:
    # Given 20,000 customers
    customers = [f"customer-{n}" for n in range(20_000)]
    # When a 10% holdout is drawn for two campaigns
    cart = {c for c in customers if held_out("cart", c, Decimal(10))}
    browse = {c for c in customers if held_out("browse", c, Decimal(10))}
    # Then each holds out about 10%, the two groups are independent, and drawing again gives the same set
    assert 1_850 <= len(cart) <= 2_150 and 1_850 <= len(browse) <= 2_150
    assert 150 <= len(cart & browse) <= 260  # about 1% of customers are in both, as chance would have it
    assert cart == {c for c in customers if held_out("cart", c, Decimal(10))}


def test_a_bigger_share_keeps_everyone_already_held_out() -> None:
    # Given the customers held out at 5%
    customers = [f"customer-{n}" for n in range(5_000)]
    five = {c for c in customers if held_out("cart", c, Decimal(5))}
    # When the share grows to 20%
    twenty = {c for c in customers if held_out("cart", c, Decimal(20))}
    # Then nobody leaves the holdout: the measurement so far stays valid
    assert five < twenty


def test_a_small_list_has_a_holdout_too() -> None:
    # Given a list of 30 customers and a 20% holdout (no minimum list size, unlike some ESPs' 400,000)
    customers = [f"vip-{n}" for n in range(30)]
    # Then the customers whose bucket falls in the first fifth are held out, and there are some
    held = [c for c in customers if held_out("vip_offer", c, Decimal(20))]
    assert held == [c for c in customers if bucket("vip_offer", c) < BUCKETS // 5]
    assert 1 <= len(held) <= 15


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("10", "write it with a percent sign"),
        (10, "write it with a percent sign"),
        ("0%", "between 0.01% and 50%"),
        ("75%", "between 0.01% and 50%"),
        ("2.555%", "write it with a percent sign"),
    ],
)
def test_a_share_must_be_a_percentage_between_0_01_and_50(written: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_percent(written)


def test_a_transactional_campaign_or_program_cannot_hold_anyone_out() -> None:
    # Given a receipt and a transactional program declaring a holdout
    # Then neither loads, and the error names the field
    with pytest.raises(ValidationError, match=r"a transactional message \(a receipt\) is never held out"):
        Campaign.model_validate({**RECEIPT, "holdout": "10%"})
    with pytest.raises(ValidationError, match="a transactional program is never held out"):
        Program.model_validate(
            {
                "id": "renewal",
                "name": "Renewal",
                "kind": "transactional",
                "holdout": "10%",
                "trigger": {"event": "Renewal Due"},
                "steps": [{"id": "remind", "send": "renewal_reminder"}],
            }
        )


def test_a_holdout_survives_the_compiled_content_round_trip() -> None:
    # Given a campaign with a 2.5% holdout, dumped as the build compiles it
    campaign = Campaign.model_validate({**CART, "holdout": "2.5%"})
    dumped = campaign.model_dump(mode="json")
    # Then it reads back the same
    assert dumped["holdout"] == "2.5%"
    assert Campaign.model_validate(dumped) == campaign


def test_a_held_out_customer_does_not_enter_a_program_and_is_counted_once_per_entry() -> None:
    # Given a welcome program with a 20% holdout (entered once), and a customer in it
    welcome = Program.model_validate(
        {
            "id": "welcome",
            "name": "Welcome",
            "holdout": "20%",
            "reentry": {"mode": "once"},
            "trigger": {"event": "Product Added"},
            "steps": [{"id": "hello", "send": "welcome"}],
        }
    )
    customer = _customer_in("welcome", Decimal(20), True)
    message = TrackMessage(userId=customer, messageId="m-1", event="Product Added", properties={})
    event = QueuedEvent(message=message, received_at=NOW, occurred_at=NOW)
    profile = Profile(customer_id=customer, email="ana@example.com")
    # When the trigger comes
    plan = plan_event(apply_event(profile, event), event, [], NO_RULES, NOW, [welcome], before=profile)
    # Then they are held out (not entered, nothing planned), and their entry is counted for re-entry
    assert [(d.campaign_id, d.outcome) for d in plan.decisions] == [("welcome", Outcome.HELD_OUT)]
    assert plan.profile.programs == {} and plan.schedule == []
    assert plan.profile.program_memory["welcome"].entered_count == 1
    # And the same trigger later is refused by the re-entry rule, not held out again
    again = TrackMessage(userId=customer, messageId="m-2", event="Product Added", properties={})
    later = QueuedEvent(message=again, received_at=NOW, occurred_at=NOW)
    second = plan_event(
        apply_event(plan.profile, later), later, [], NO_RULES, NOW, [welcome], before=plan.profile
    )
    assert [d.outcome for d in second.decisions] == [Outcome.SUPPRESSED]
