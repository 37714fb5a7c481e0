"""The right-time policy: what an event means for each campaign, and the re-check when a message fires."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from righttime.core.calendar import QuietHours, Weekday, Window
from righttime.core.campaigns import Campaign, Exit, Kind, Timing, Trigger
from righttime.core.conditions import Condition, Op
from righttime.core.decisions import MessageStatus, OutboundMessage, Outcome
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.global_policy import FrequencyCap, GlobalPolicy
from righttime.core.policy import Action, Plan, decide_at_send, plan_event
from righttime.core.policy.placement import priority_order
from righttime.core.profiles import CartItem, PendingRef, Profile, SendRecord, apply_event

MakeEvent = Callable[..., QueuedEvent]  # the type of the `make_event` fixture
DELAY = timedelta(hours=1)
PARIS = ZoneInfo("Europe/Paris")

HAS_CART = Condition(field="cart_items", op=Op.GT, value=0)
CART = Campaign(
    id="cart_abandonment",
    name="Cart reminder",
    kind=Kind.PROMOTIONAL,
    priority=50,
    trigger=Trigger(events=["Product Added", "Checkout Started"]),
    audience=[HAS_CART],
    timing=Timing(delay=DELAY),
    exit=Exit(events=["Order Completed"], conditions=[Condition(field="cart_items", value=0)]),
    template="cart_abandonment",
)
#: no global rule at all: timing is the campaign's own
NO_RULES = GlobalPolicy()
QUIET = QuietHours(start=time(21, 0), end=time(8, 0))


def customer(**changes: Any) -> Profile:
    """A subscribed customer with an address and nothing in the cart yet."""
    return Profile(customer_id="cust-1", email="jane@example.com").model_copy(update=changes)


def add_to_cart(make_event: MakeEvent, at: datetime, message_id: str = "m-add") -> QueuedEvent:
    props = {"product_id": "sku-1", "price": 20}
    return make_event("track", at, event="Product Added", messageId=message_id, properties=props)


def order(make_event: MakeEvent, at: datetime) -> QueuedEvent:
    props = {"order_id": "ord-1", "revenue": 20}
    return make_event("track", at, event="Order Completed", messageId="m-order", properties=props)


def step(
    profile: Profile,
    event: QueuedEvent,
    now: datetime,
    campaigns: list[Campaign] | None = None,
    policy: GlobalPolicy = NO_RULES,
) -> Plan:
    """What the evaluator does: update the profile with the event, then plan against the updated profile."""
    return plan_event(apply_event(profile, event), event, campaigns or [CART], policy, now)


def local(instant: datetime | None, tz: ZoneInfo = PARIS) -> datetime:
    assert instant is not None
    return instant.astimezone(tz)


# --- plan_event: triggers ---------------------------------------------------------------------------


def test_product_added_schedules_a_reminder_after_the_delay(make_event: MakeEvent, t0: datetime) -> None:
    # Given a subscribed customer with an address, and no global rules
    # When they add a product to their cart
    plan = step(customer(), add_to_cart(make_event, t0), now=t0)
    # Then one reminder is scheduled for an hour later, explained as "triggered"
    [decision] = plan.decisions
    assert decision.outcome is Outcome.SCHEDULED
    assert decision.reason_codes == ["triggered"]
    assert decision.send_at == t0 + DELAY
    [message] = plan.schedule
    assert message.message_id == decision.message_id
    assert (message.send_at, message.status, message.to) == (
        t0 + DELAY,
        MessageStatus.PENDING,
        "jane@example.com",
    )
    assert (message.template, message.trigger_at) == ("cart_abandonment", t0)
    # And the profile remembers the pending message, so a purchase can cancel it without another read
    ref = plan.profile.pending["cart_abandonment"]
    assert (ref.message_id, ref.send_at, ref.trigger_at) == (message.message_id, t0 + DELAY, t0)
    assert plan.close == []


def test_a_late_event_is_never_scheduled_in_the_past(make_event: MakeEvent, t0: datetime) -> None:
    # Given a Product Added that happened two hours ago but is evaluated only now
    now = t0 + timedelta(hours=2)
    # When it is planned
    plan = step(customer(), add_to_cart(make_event, t0), now=now)
    # Then the reminder is due now, not an hour ago
    assert plan.schedule[0].send_at == now


def test_replaying_the_same_trigger_gives_the_same_message(make_event: MakeEvent, t0: datetime) -> None:
    # Given the same Product Added evaluated twice (an SQS redelivery)
    event = add_to_cart(make_event, t0)
    # When both are planned from the same starting profile
    first, again = step(customer(), event, now=t0), step(customer(), event, now=t0)
    # Then they describe the same message, so only one can ever exist
    assert first.schedule[0].message_id == again.schedule[0].message_id


def test_a_repeated_trigger_moves_the_pending_reminder(make_event: MakeEvent, t0: datetime) -> None:
    # Given a reminder pending after a first Product Added
    first = step(customer(), add_to_cart(make_event, t0, "m-add-1"), now=t0)
    [pending] = first.schedule
    # When a second Product Added comes 20 minutes later
    later = t0 + timedelta(minutes=20)
    plan = step(first.profile, add_to_cart(make_event, later, "m-add-2"), now=later)
    # Then the same message is moved to an hour after the latest activity, not duplicated
    [decision] = plan.decisions
    assert decision.reason_codes == ["trigger_repeated"]
    assert decision.reasons[0].detail["previous_send_at"] == (t0 + DELAY).isoformat()
    [message] = plan.schedule
    assert message.message_id == pending.message_id
    assert message.send_at == later + DELAY
    # And it is a new generation, so the moved message gets a schedule of its own
    assert message.generation == pending.generation + 1
    assert plan.profile.pending["cart_abandonment"].send_at == later + DELAY


def test_a_late_older_trigger_does_not_bring_the_reminder_forward(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given a reminder pending for an hour after a Product Added on the laptop at t0
    first = step(customer(), add_to_cart(make_event, t0, "m-laptop"), now=t0)
    # When a Product Added the phone recorded offline 30 minutes earlier arrives 5 minutes later
    phone = add_to_cart(make_event, t0 - timedelta(minutes=30), "m-phone")
    plan = step(first.profile, phone, now=t0 + timedelta(minutes=5))
    # Then the reminder still goes out an hour after the latest activity, not 30 minutes after it
    assert plan.schedule[0].send_at == t0 + DELAY


def test_a_trigger_after_the_reminder_was_sent_starts_a_new_one(make_event: MakeEvent, t0: datetime) -> None:
    # Given a reminder that went out (the sender cleared it from the profile's pending messages)
    first = step(customer(), add_to_cart(make_event, t0, "m-add-1"), now=t0)
    sent = first.profile.model_copy(update={"pending": {}})
    # When the customer adds a product two hours later
    later = t0 + timedelta(hours=2)
    plan = step(sent, add_to_cart(make_event, later, "m-add-2"), now=later)
    # Then a new reminder is planned
    [decision] = plan.decisions
    assert decision.reason_codes == ["triggered"]
    assert plan.schedule[0].message_id != first.schedule[0].message_id


def test_a_trigger_about_another_product_supersedes_the_pending_message(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given a pending browse nudge about product X
    browse = Campaign.model_validate(
        {
            "id": "browse",
            "name": "Browse",
            "template": "t",
            "trigger": {"event": "Product Viewed"},
            "timing": {"delay": "4h"},
            "dedupe_key": "product_id",
        }
    )

    def viewed(product: str, message_id: str) -> QueuedEvent:
        props = {"product_id": product}
        return make_event("track", t0, event="Product Viewed", messageId=message_id, properties=props)

    first = step(customer(), viewed("X", "m1"), now=t0, campaigns=[browse])
    (x_message,) = first.schedule
    # When the customer views product Y
    second = step(first.profile, viewed("Y", "m2"), now=t0, campaigns=[browse])
    # Then the nudge about X is cancelled as superseded, and one about Y is scheduled instead
    assert [(mid, status) for mid, status, _ in second.close] == [
        (x_message.message_id, MessageStatus.CANCELLED)
    ]
    outcomes = [(d.outcome, d.reason_codes) for d in second.decisions]
    assert outcomes == [(Outcome.CANCELLED, ["superseded"]), (Outcome.SCHEDULED, ["triggered"])]
    assert second.decisions[0].reasons[0].detail == {"key": "product_id", "previous": "X", "by": "Y"}
    (y_message,) = second.schedule
    assert y_message.dedupe_key == "Y" and second.profile.pending["browse"].message_id == y_message.message_id


def test_events_that_trigger_nothing_plan_nothing(make_event: MakeEvent, t0: datetime) -> None:
    # Given a customer with a cart
    profile = apply_event(customer(), add_to_cart(make_event, t0))
    # When they view a product, or are identified
    for event in (
        make_event("track", t0, event="Product Viewed", properties={"product_id": "sku-2"}),
        make_event("identify", t0, traits={"plan": "gold"}),
    ):
        plan = plan_event(profile, event, [CART], NO_RULES, t0)
        # Then no decision, schedule or cancellation comes out
        assert (plan.decisions, plan.schedule, plan.close) == ([], [], [])


def test_a_trigger_filter_on_event_properties_is_respected(make_event: MakeEvent, t0: datetime) -> None:
    # Given a campaign triggered only by additions from the web
    web_only = CART.model_copy(
        update={"trigger": Trigger(events=["Product Added"], where=[Condition(field="channel", value="web")])}
    )

    def added(channel: str) -> QueuedEvent:
        props = {"product_id": "sku-1", "channel": channel}
        return make_event("track", t0, event="Product Added", properties=props)

    # When products are added from the app and from the web
    # Then only the web addition plans a reminder
    assert step(customer(), added("app"), now=t0, campaigns=[web_only]).schedule == []
    assert len(step(customer(), added("WEB"), now=t0, campaigns=[web_only]).schedule) == 1


def test_a_disabled_campaign_schedules_nothing(make_event: MakeEvent, t0: datetime) -> None:
    # Given the cart campaign switched off
    disabled = CART.model_copy(update={"enabled": False})
    # When a product is added, Then nothing is decided for it
    plan = step(customer(), add_to_cart(make_event, t0), now=t0, campaigns=[disabled])
    assert plan.decisions == []
    assert plan.schedule == []


def test_the_profile_passed_in_is_not_changed(make_event: MakeEvent, t0: datetime) -> None:
    # Given a profile after a Product Added
    event = add_to_cart(make_event, t0)
    profile = apply_event(customer(), event)
    snapshot = profile.model_dump()
    # When the event is planned
    plan = plan_event(profile, event, [CART], NO_RULES, t0)
    # Then only the plan's copy records the pending message
    assert profile.model_dump() == snapshot
    assert "cart_abandonment" in plan.profile.pending


# --- plan_event: who is suppressed ------------------------------------------------------------------


def test_a_customer_without_email_is_suppressed(make_event: MakeEvent, t0: datetime) -> None:
    # Given an anonymous shopper with no address
    # When they add a product
    plan = step(customer(email=None), add_to_cart(make_event, t0), now=t0)
    # Then the campaign is suppressed for "no_email" and nothing is scheduled or remembered
    [decision] = plan.decisions
    assert (decision.outcome, decision.reason_codes) == (Outcome.SUPPRESSED, ["no_email"])
    assert plan.schedule == []
    assert plan.profile.pending == {}


def test_an_unsubscribed_customer_gets_no_promotion(make_event: MakeEvent, t0: datetime) -> None:
    # Given a customer who unsubscribed
    # When they add a product
    plan = step(customer(unsubscribed=True), add_to_cart(make_event, t0), now=t0)
    # Then the promotional reminder is suppressed as "unsubscribed"
    [decision] = plan.decisions
    assert (decision.outcome, decision.reason_codes) == (Outcome.SUPPRESSED, ["unsubscribed"])
    assert plan.schedule == []


def test_an_unsubscribed_customer_still_gets_transactional_mail(make_event: MakeEvent, t0: datetime) -> None:
    # Given a transactional campaign (a receipt), an unsubscribed customer, and quiet hours all day long
    receipt = Campaign(
        id="receipt",
        name="Receipt",
        kind=Kind.TRANSACTIONAL,
        trigger=Trigger(events=["Order Completed"]),
        timing=Timing(delay=timedelta(0)),
        template="receipt",
    )
    policy = GlobalPolicy(quiet_hours=QuietHours(start=time(0, 0), end=time(23, 59)))
    # When they complete an order
    plan = step(
        customer(unsubscribed=True), order(make_event, t0), now=t0, campaigns=[receipt], policy=policy
    )
    # Then the receipt is scheduled right away
    [decision] = plan.decisions
    assert decision.outcome is Outcome.SCHEDULED
    assert plan.schedule[0].send_at == t0


def test_an_empty_cart_is_outside_the_audience(make_event: MakeEvent, t0: datetime) -> None:
    # Given a Product Added that put nothing in the cart (no product id)
    event = make_event("track", t0, event="Product Added", properties={"name": "?"})
    # When it is planned for a campaign whose audience needs cart items
    plan = step(customer(), event, now=t0)
    # Then it is suppressed, naming the condition the cart failed
    [decision] = plan.decisions
    assert (decision.outcome, decision.reason_codes) == (Outcome.SUPPRESSED, ["audience"])
    assert decision.reasons[0].detail["condition"] == {"field": "cart_items", "op": "gt", "value": 0}


# --- plan_event: exits ------------------------------------------------------------------------------


def test_order_completed_cancels_the_pending_reminder(make_event: MakeEvent, t0: datetime) -> None:
    # Given a reminder pending after a Product Added
    first = step(customer(), add_to_cart(make_event, t0), now=t0)
    pending_id = first.schedule[0].message_id
    # When the customer completes an order 30 minutes later
    later = t0 + timedelta(minutes=30)
    plan = step(first.profile, order(make_event, later), now=later)
    # Then that message is cancelled as "converted", with the order that did it
    [(cancelled_id, status, decision)] = plan.close
    assert (cancelled_id, status) == (pending_id, MessageStatus.CANCELLED)
    assert decision.outcome is Outcome.CANCELLED
    assert decision.reason_codes == ["converted"]
    assert decision.reasons[0].detail["order_id"] == "ord-1"
    assert plan.decisions == [decision]
    # And the profile no longer waits for it; nothing new is scheduled
    assert plan.profile.pending == {}
    assert plan.schedule == []


def test_another_exit_event_cancels_with_exit_event(make_event: MakeEvent, t0: datetime) -> None:
    # Given a campaign that also exits when the customer clears the cart
    campaign = CART.model_copy(update={"exit": Exit(events=["Order Completed", "Cart Cleared"])})
    first = step(customer(), add_to_cart(make_event, t0), now=t0, campaigns=[campaign])
    # When the customer clears the cart
    later = t0 + timedelta(minutes=5)
    cleared = make_event("track", later, event="Cart Cleared")
    plan = step(first.profile, cleared, now=later, campaigns=[campaign])
    # Then the reminder is cancelled, explained as an exit event
    [(_, _, decision)] = plan.close
    assert decision.reason_codes == ["exit_event"]
    assert decision.reasons[0].detail["event"] == "Cart Cleared"


def test_an_order_from_before_the_trigger_does_not_cancel(make_event: MakeEvent, t0: datetime) -> None:
    # Given a reminder pending after a Product Added
    first = step(customer(), add_to_cart(make_event, t0), now=t0)
    # When an order placed the day before arrives late
    plan = plan_event(first.profile, order(make_event, t0 - timedelta(days=1)), [CART], NO_RULES, t0)
    # Then the reminder stays pending
    assert plan.close == []
    assert "cart_abandonment" in plan.profile.pending


def test_a_pending_message_of_a_deleted_campaign_is_left_alone(make_event: MakeEvent, t0: datetime) -> None:
    # Given a pending message whose campaign file was removed
    ref = PendingRef(campaign_id="retired", message_id="m-old", send_at=t0 + DELAY, trigger_at=t0)
    profile = customer(pending={"retired": ref})
    # When an order arrives, Then the evaluator does not guess what the campaign would have wanted
    plan = plan_event(profile, order(make_event, t0), [CART], NO_RULES, t0)
    assert plan.close == []
    assert plan.profile.pending == {"retired": ref}


# --- plan_event: the right time ---------------------------------------------------------------------


def test_a_reminder_due_in_quiet_hours_waits_for_morning(make_event: MakeEvent) -> None:
    # Given quiet hours 21:00-08:00 and a customer in Paris
    profile = customer(timezone="Europe/Paris")
    # When they add to cart at 20:30 their time (the reminder would land at 21:30)
    at = datetime(2026, 3, 2, 20, 30, tzinfo=PARIS)
    plan = step(profile, add_to_cart(make_event, at), now=at, policy=GlobalPolicy(quiet_hours=QUIET))
    # Then it is scheduled for 08:00 the next morning in Paris (within the default 5-minute release spread),
    # saying why
    [decision] = plan.decisions
    morning = datetime(2026, 3, 3, 8, 0, tzinfo=PARIS)
    assert morning <= local(decision.send_at) < morning + timedelta(minutes=5)
    assert decision.reason_codes == ["triggered", "quiet_hours", "release_spread"]
    assert (decision.timezone, decision.timezone_source) == ("Europe/Paris", "trait")


def test_quiet_hours_follow_the_customer_across_a_dst_change(make_event: MakeEvent) -> None:
    # Given a Paris customer adding to cart at 20:30 on the evening before clocks go forward (29 March 2026)
    at = datetime(2026, 3, 28, 20, 30, tzinfo=PARIS)
    profile = customer(timezone="Europe/Paris")
    # When the reminder is planned
    plan = step(profile, add_to_cart(make_event, at), now=at, policy=GlobalPolicy(quiet_hours=QUIET))
    # Then it arrives at 08:00 summer time (within the release spread), which is 06:00 UTC (it was 07:00 UTC
    # the day before)
    send_at = plan.schedule[0].send_at
    assert time(8, 0) <= local(send_at).time() < time(8, 5)
    assert datetime(2026, 3, 29, 6, 0, tzinfo=UTC) <= send_at < datetime(2026, 3, 29, 6, 5, tzinfo=UTC)


def test_the_device_zone_is_used_when_no_zone_trait_is_known(make_event: MakeEvent) -> None:
    # Given a customer with no timezone trait whose phone reports Tokyo
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo
    event = make_event(
        "track",
        at,
        event="Product Added",
        properties={"product_id": "sku-1"},
        context={"timezone": "Asia/Tokyo"},
    )
    # When the reminder is planned under quiet hours
    plan = step(customer(), event, now=at, policy=GlobalPolicy(quiet_hours=QUIET))
    # Then it waits for 08:00 in Tokyo, and the decision says the zone came from the event context
    [decision] = plan.decisions
    assert time(8, 0) <= local(decision.send_at, ZoneInfo("Asia/Tokyo")).time() < time(8, 5)
    assert (decision.timezone, decision.timezone_source) == ("Asia/Tokyo", "context")


zones = st.sampled_from(["Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC"])
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
delays = st.sampled_from([timedelta(0), timedelta(minutes=30), DELAY, timedelta(hours=5), timedelta(days=1)])


@settings(deadline=None)
@given(zone=zones, at=moments, delay=delays)
def test_no_promotion_is_ever_planned_in_quiet_hours(zone: str, at: datetime, delay: timedelta) -> None:
    # Given a customer anywhere, a cart campaign of any delay, and quiet hours 21:00-08:00
    campaign = CART.model_copy(update={"timing": Timing(delay=delay)})
    message = TrackMessage(
        userId="cust-1", messageId="m-1", event="Product Added", properties={"product_id": "p"}
    )
    event = QueuedEvent(message=message, received_at=at, occurred_at=at)
    # When a product is added at any instant of the year, across DST changes
    plan = step(
        customer(timezone=zone), event, now=at, campaigns=[campaign], policy=GlobalPolicy(quiet_hours=QUIET)
    )
    # Then the reminder never lands between 21:00 and 08:00 on the customer's clock
    [message_out] = plan.schedule
    wall = message_out.send_at.astimezone(ZoneInfo(zone)).time()
    assert time(8, 0) <= wall < time(21, 0)
    # And it is never early, nor later than the quiet night requires
    assert at + delay <= message_out.send_at <= at + delay + timedelta(hours=12)


def nightly(at_local_time: time) -> Campaign:
    """A cart campaign sent at a fixed wall-clock time, with no delay."""
    return CART.model_copy(update={"timing": Timing(delay=timedelta(0), at_local_time=at_local_time)})


def test_a_local_time_that_occurs_twice_is_the_first_one(make_event: MakeEvent) -> None:
    # Given a campaign sent at 02:30 local time, and a Paris customer on the day clocks go back
    # (25 October 2026: 02:30 happens at 00:30 UTC and again at 01:30 UTC)
    at = datetime(2026, 10, 24, 12, 0, tzinfo=PARIS)
    profile = customer(timezone="Europe/Paris")
    # When the message is planned
    plan = step(profile, add_to_cart(make_event, at), now=at, campaigns=[nightly(time(2, 30))])
    # Then it goes at the first 02:30, saying the local time moved it
    [decision] = plan.decisions
    assert decision.send_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert decision.reason_codes == ["triggered", "local_time"]


def test_a_local_time_skipped_by_dst_is_the_first_instant_after(make_event: MakeEvent) -> None:
    # Given a campaign sent at 02:30 local time, and a Paris customer on the night clocks jump 02:00 -> 03:00
    at = datetime(2026, 3, 28, 12, 0, tzinfo=PARIS)
    profile = customer(timezone="Europe/Paris")
    # When the message is planned
    plan = step(profile, add_to_cart(make_event, at), now=at, campaigns=[nightly(time(2, 30))])
    # Then it goes at 03:00 summer time (01:00 UTC), the first instant after the gap
    assert plan.schedule[0].send_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


WEEKDAYS = Window(
    days=[Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI], start=time(9), end=time(19)
)


def at_ten_on_weekdays(window: Window = WEEKDAYS, wall: time = time(10)) -> Campaign:
    """A campaign sent the next day at a local time, inside a window."""
    return CART.model_copy(
        update={"timing": Timing(delay=timedelta(days=1), at_local_time=wall, window=window)}
    )


def test_a_local_time_outside_the_windows_days_goes_at_the_next_allowed_occurrence(
    make_event: MakeEvent,
) -> None:
    # Given a campaign sent a day later at 10:00, on weekdays 09:00-19:00, and a Paris customer on a Friday
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=PARIS)
    profile = customer(timezone="Europe/Paris")
    # When the message is planned (its first 10:00 is Saturday, outside the window)
    plan = step(profile, add_to_cart(make_event, friday), now=friday, campaigns=[at_ten_on_weekdays()])
    # Then it goes at 10:00 on Monday, the next 10:00 the window allows, not when the window opens at 09:00
    [decision] = plan.decisions
    monday_ten = datetime(2026, 3, 9, 10, 0, tzinfo=PARIS)
    assert (decision.outcome, local(decision.send_at)) == (Outcome.SCHEDULED, monday_ten)
    assert decision.reason_codes == ["triggered", "local_time", "outside_window"]
    assert decision.reasons[-1].detail["until"] == monday_ten.astimezone(UTC).isoformat()


@pytest.mark.parametrize(
    ("wall", "policy", "window"),
    [
        (time(7), NO_RULES, Window(start=time(9), end=time(20))),
        (time(22), GlobalPolicy(quiet_hours=QUIET), None),
    ],
    ids=["before-the-window-opens", "in-quiet-hours"],
)
def test_a_local_time_that_is_never_allowed_is_suppressed(
    make_event: MakeEvent, t0: datetime, wall: time, policy: GlobalPolicy, window: Window | None
) -> None:
    # Given a campaign whose local time is never allowed: before its window opens, or in quiet hours
    campaign = CART.model_copy(update={"timing": Timing(delay=DELAY, at_local_time=wall, window=window)})
    # When a trigger plans it
    plan = step(customer(), add_to_cart(make_event, t0), now=t0, campaigns=[campaign], policy=policy)
    # Then it is suppressed, saying no occurrence of that local time ever fits
    [decision] = plan.decisions
    assert (decision.outcome, decision.reason_codes[-1]) == (Outcome.SUPPRESSED, "outside_window")
    assert decision.reasons[-1].detail == {
        "window": window.describe() if window else None,
        "timezone": "UTC",
        "never_open": True,
        "at_local_time": wall.strftime("%H:%M"),
    }
    assert plan.schedule == []


@settings(deadline=None)
@given(zone=zones, at=moments, delay=delays, days=st.sets(st.sampled_from(list(Weekday)), min_size=1))
def test_a_local_time_message_is_only_ever_planned_at_that_time_inside_its_window(
    zone: str, at: datetime, delay: timedelta, days: set[Weekday]
) -> None:
    # Given a customer anywhere, quiet hours, and a campaign sent at 10:00 local on some days, 09:00-19:00
    window = Window(days=sorted(days, key=lambda d: d.number), start=time(9), end=time(19))
    campaign = CART.model_copy(update={"timing": Timing(delay=delay, at_local_time=time(10), window=window)})
    message = TrackMessage(
        userId="cust-1", messageId="m-1", event="Product Added", properties={"product_id": "p"}
    )
    event = QueuedEvent(message=message, received_at=at, occurred_at=at)
    # When a product is added at any instant, across DST changes
    policy = GlobalPolicy(quiet_hours=QUIET)
    plan = step(customer(timezone=zone), event, now=at, campaigns=[campaign], policy=policy)
    # Then the message goes at 10:00 on the customer's clock, on one of the window's days, within a week
    [planned] = plan.schedule
    local_send = planned.send_at.astimezone(ZoneInfo(zone))
    assert local_send.time() == time(10) and window.contains(local_send)
    assert at + delay <= planned.send_at <= at + delay + timedelta(days=8)


def test_a_full_cap_moves_a_local_time_message_to_its_local_time_the_next_day(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given one promotion a day, one already sent on Tuesday, and a campaign sent at 10:00 on weekdays
    policy = GlobalPolicy(frequency_caps=[FrequencyCap(max=1, per="day")])
    tuesday = t0 + timedelta(days=1)
    sent = SendRecord(at=tuesday + timedelta(hours=-2), campaign_id="newsletter", promotional=True)
    # When a trigger on Monday plans it for Tuesday at 10:00
    plan = step(customer(sends=[sent]), add_to_cart(make_event, t0), t0, [at_ten_on_weekdays()], policy)
    # Then the cap moves it to Wednesday at 10:00, not to when the window opens
    [decision] = plan.decisions
    assert decision.send_at == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert decision.reason_codes == ["triggered", "frequency_cap"]


def test_a_cooldown_moves_a_local_time_message_to_the_next_occurrence(
    make_event: MakeEvent, t0: datetime
) -> None:
    # Given a 3-day purchase cooldown after an order at 15:37, and a campaign sent at 10:00 on weekdays
    ordered = datetime(2026, 3, 1, 15, 37, tzinfo=UTC)
    profile = customer(last_order_at=ordered, orders_count=1)
    policy = GlobalPolicy(purchase_cooldown=timedelta(days=3))
    # When a trigger on Monday plans it for Tuesday at 10:00, before the cooldown ends on Wednesday at 15:37
    plan = step(profile, add_to_cart(make_event, t0), t0, [at_ten_on_weekdays()], policy)
    # Then it goes at the first 10:00 after the cooldown, on Thursday
    [decision] = plan.decisions
    assert decision.send_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    assert decision.reason_codes == ["triggered", "purchase_cooldown", "local_time"]


def test_a_full_daily_cap_moves_the_reminder_to_the_next_day(make_event: MakeEvent, t0: datetime) -> None:
    # Given a cap of one promotion per calendar day, and a promotion already sent this morning
    policy = GlobalPolicy(quiet_hours=QUIET, frequency_caps=[FrequencyCap(max=1, per="day")])
    sent = SendRecord(at=t0 - timedelta(hours=1), campaign_id="newsletter", promotional=True)
    # When the customer adds to cart
    plan = step(customer(sends=[sent]), add_to_cart(make_event, t0), now=t0, policy=policy)
    # Then the reminder waits for the next day, after quiet hours, saying the cap moved it
    [decision] = plan.decisions
    assert decision.send_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert "frequency_cap" in decision.reason_codes


def test_the_higher_priority_campaign_gets_the_only_slot(make_event: MakeEvent, t0: datetime) -> None:
    # Given a cap of one promotion per day and two campaigns triggered by the same Product Added
    policy = GlobalPolicy(frequency_caps=[FrequencyCap(max=1, per="day")])
    upsell = CART.model_copy(update={"id": "upsell", "priority": 10, "audience": [], "exit": Exit()})
    # When the customer adds to cart
    plan = step(customer(), add_to_cart(make_event, t0), now=t0, campaigns=[upsell, CART], policy=policy)
    # Then the cart reminder (priority 50) goes today, and the upsell waits, outranked
    by_campaign = {d.campaign_id: d for d in plan.decisions}
    assert by_campaign["cart_abandonment"].send_at == t0 + DELAY
    assert by_campaign["upsell"].send_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    assert "outranked" in by_campaign["upsell"].reason_codes


def test_one_priority_order_higher_priority_then_earlier_wish_then_campaign_id(t0: datetime) -> None:
    # Given waiting promotions of equal and different priorities, wanting different times
    waiting = [
        ("browse", 20, t0),
        ("cart", 50, t0 + timedelta(days=1)),
        ("search", 20, t0 - timedelta(hours=1)),
        ("alpha", 20, t0),
    ]
    # When they are put in the order they compete for cap slots
    order = sorted(waiting, key=lambda w: priority_order(w[1], w[0], w[2]))
    # Then the higher priority comes first whatever it wants, then the earlier wish, then the campaign id
    assert [campaign for campaign, _, _ in order] == ["cart", "search", "alpha", "browse"]
    # And campaigns compared before any time is known are ordered by priority, then id
    assert priority_order(20, "alpha") < priority_order(20, "browse") < priority_order(10, "aardvark")


def test_no_promotion_during_the_purchase_cooldown(make_event: MakeEvent, t0: datetime) -> None:
    # Given a 3-day purchase cooldown and a customer who ordered yesterday
    policy = GlobalPolicy(purchase_cooldown=timedelta(days=3))
    profile = customer(last_order_at=t0 - timedelta(days=1), orders_count=1)
    # When they add to cart today
    plan = step(profile, add_to_cart(make_event, t0), now=t0, policy=policy)
    # Then the reminder waits until three days after the order
    [decision] = plan.decisions
    assert decision.send_at == t0 + timedelta(days=2)
    assert "purchase_cooldown" in decision.reason_codes


# --- decide_at_send ---------------------------------------------------------------------------------


def outbound(t0: datetime, **changes: Any) -> OutboundMessage:
    """The reminder planned at t0 for t0 + 1h."""
    fields: dict[str, Any] = {
        "message_id": "m-1",
        "customer_id": "cust-1",
        "campaign_id": "cart_abandonment",
        "kind": Kind.PROMOTIONAL,
        "template": "cart_abandonment",
        "send_at": t0 + DELAY,
        "created_at": t0,
        "updated_at": t0,
        "trigger_event": "Product Added",
        "trigger_message_id": "m-add",
        "trigger_at": t0,
        "to": "jane@example.com",
        "priority": CART.priority,
    }
    fields.update(changes)
    return OutboundMessage(**fields)


def with_cart(**changes: Any) -> Profile:
    return customer(cart=[CartItem(product_id="sku-1")], **changes)


def fire(
    profile: Profile,
    message: OutboundMessage,
    now: datetime,
    campaign: Campaign | None = CART,
    suppressed: str | None = None,
    policy: GlobalPolicy = NO_RULES,
) -> Any:
    return decide_at_send(profile, message, campaign, policy, suppressed, now)


def codes(verdict: Any) -> list[str]:
    return [reason.code.value for reason in verdict.reasons]


def test_nothing_changed_so_the_message_is_sent(t0: datetime) -> None:
    # Given a pending reminder firing on time for a customer who still has a cart
    # When the sender re-checks the context
    verdict = fire(with_cart(), outbound(t0), now=t0 + DELAY)
    # Then it sends, with the campaign's template
    assert verdict.action is Action.SEND
    assert verdict.template == "cart_abandonment"


def test_a_purchase_since_the_trigger_cancels_at_send_time(t0: datetime) -> None:
    # Given a customer who bought in the shop 10 minutes after adding to the cart online
    profile = with_cart(last_order_at=t0 + timedelta(minutes=10), last_order_id="pos-9")
    # When the reminder fires
    verdict = fire(profile, outbound(t0), now=t0 + DELAY)
    # Then it is cancelled as converted, naming the order
    assert (verdict.action, verdict.outcome) == (Action.CLOSE, Outcome.CANCELLED)
    assert codes(verdict) == ["converted"]
    assert verdict.reasons[0].detail["order_id"] == "pos-9"


def test_a_purchase_before_the_trigger_does_not_cancel(t0: datetime) -> None:
    # Given a customer whose last order predates the cart activity
    profile = with_cart(last_order_at=t0 - timedelta(days=3))
    # Then the reminder is sent
    assert fire(profile, outbound(t0), now=t0 + DELAY).action is Action.SEND


def test_a_suppressed_address_is_not_mailed(t0: datetime) -> None:
    # Given an address on the suppression list after a hard bounce
    # When the reminder fires
    verdict = fire(with_cart(), outbound(t0), now=t0 + DELAY, suppressed="bounce")
    # Then it is suppressed, saying why
    assert (verdict.action, verdict.outcome) == (Action.CLOSE, Outcome.SUPPRESSED)
    assert codes(verdict) == ["address_suppressed"]
    assert verdict.reasons[0].detail == {"suppression": "bounce"}


def test_unsubscribing_after_the_trigger_suppresses_the_reminder(t0: datetime) -> None:
    # Given a customer who unsubscribed while the reminder was pending
    verdict = fire(with_cart(unsubscribed=True), outbound(t0), now=t0 + DELAY)
    # Then it is suppressed as unsubscribed
    assert (verdict.action, verdict.outcome) == (Action.CLOSE, Outcome.SUPPRESSED)
    assert codes(verdict) == ["unsubscribed"]


def test_an_emptied_cart_cancels_the_reminder(t0: datetime) -> None:
    # Given a customer who emptied the cart while the reminder was pending
    verdict = fire(customer(), outbound(t0), now=t0 + DELAY)
    # Then there is nothing to remind them of: the exit condition cancels it
    assert (verdict.action, verdict.outcome) == (Action.CLOSE, Outcome.CANCELLED)
    assert codes(verdict) == ["exit_condition"]


@pytest.mark.parametrize(
    "campaign", [None, CART.model_copy(update={"enabled": False})], ids=["deleted", "disabled"]
)
def test_a_campaign_switched_off_since_cancels(t0: datetime, campaign: Campaign | None) -> None:
    # Given a campaign deleted or disabled while its message was pending
    verdict = fire(with_cart(), outbound(t0), now=t0 + DELAY, campaign=campaign)
    # Then the message is cancelled, saying so
    assert (verdict.action, verdict.outcome) == (Action.CLOSE, Outcome.CANCELLED)
    assert codes(verdict) == ["campaign_disabled"]


@pytest.mark.parametrize(
    "status", [MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.CANCELLED, MessageStatus.SUPPRESSED]
)
def test_a_message_no_longer_pending_is_ignored(t0: datetime, status: MessageStatus) -> None:
    # Given a schedule firing again for a message already claimed, sent or closed (at-least-once delivery)
    verdict = fire(with_cart(), outbound(t0, status=status), now=t0 + DELAY)
    # Then the sender does nothing and records nothing
    assert (verdict.action, verdict.outcome) == (Action.IGNORE, None)


def test_a_stale_schedule_firing_long_before_send_at_is_ignored(t0: datetime) -> None:
    # Given a reminder moved to a later time, whose old schedule fires anyway
    # When it fires 30 minutes before the message's send_at
    verdict = fire(with_cart(), outbound(t0), now=t0 + DELAY - timedelta(minutes=30))
    # Then it is ignored; the moved schedule will fire later
    assert verdict.action is Action.IGNORE


@pytest.mark.parametrize("offset", [timedelta(minutes=-1), timedelta(0), timedelta(hours=3)])
def test_a_schedule_firing_about_or_after_send_at_sends(t0: datetime, offset: timedelta) -> None:
    # Given a fire a minute early (Scheduler's precision) or late (Scheduler retries)
    verdict = fire(with_cart(), outbound(t0), now=t0 + DELAY + offset)
    # Then the message is sent
    assert verdict.action is Action.SEND


def test_a_reminder_past_its_send_by_expires(t0: datetime) -> None:
    # Given a reminder that had to go out within 2 hours of the trigger, firing after a long outage
    message = outbound(t0, send_by=t0 + timedelta(hours=2))
    # When it fires 5 hours after the trigger
    verdict = fire(with_cart(), message, now=t0 + timedelta(hours=5))
    # Then it expires rather than arriving stale
    assert (verdict.action, verdict.outcome) == (Action.CLOSE, Outcome.EXPIRED)
    assert codes(verdict) == ["send_by_passed"]


def test_a_reminder_firing_in_the_customers_night_is_deferred(t0: datetime) -> None:
    # Given a reminder planned for 12:00 UTC, and a customer since identified as living in Tokyo (21:00 there)
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    message = outbound(noon - DELAY)
    profile = with_cart(timezone="Asia/Tokyo")
    # When it fires under quiet hours 21:00-08:00
    verdict = fire(profile, message, now=noon, policy=GlobalPolicy(quiet_hours=QUIET))
    # Then it is deferred to 08:00 in Tokyo (within the release spread), saying why
    assert (verdict.action, verdict.outcome) == (Action.DEFER, Outcome.DEFERRED)
    morning = datetime(2026, 3, 3, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert morning <= local(verdict.at, ZoneInfo("Asia/Tokyo")) < morning + timedelta(minutes=5)
    assert codes(verdict) == ["quiet_hours", "release_spread"]


def test_a_transactional_message_is_sent_even_in_quiet_hours(t0: datetime) -> None:
    # Given an order confirmation firing at 02:00 in the customer's zone
    receipt = CART.model_copy(
        update={"id": "receipt", "kind": Kind.TRANSACTIONAL, "audience": [], "exit": Exit()}
    )
    night = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    message = outbound(night, send_at=night, campaign_id="receipt", kind=Kind.TRANSACTIONAL)
    # When it fires, Then it goes out now: the customer is waiting for it
    verdict = fire(customer(), message, now=night, campaign=receipt, policy=GlobalPolicy(quiet_hours=QUIET))
    assert verdict.action is Action.SEND


@pytest.mark.parametrize(
    ("other_wanted", "expected"),
    [(timedelta(minutes=-30), Action.DEFER), (timedelta(minutes=30), Action.SEND)],
    ids=["other-wanted-earlier", "other-wanted-later"],
)
def test_at_send_time_an_equal_priority_outranks_only_if_it_wanted_an_earlier_time(
    t0: datetime, other_wanted: timedelta, expected: Action
) -> None:
    # Given a cap of one promotion per day, the reminder firing now, and another campaign of the same priority
    # waiting for later today
    policy = GlobalPolicy(frequency_caps=[FrequencyCap(max=1, per="day")])
    message = outbound(t0, desired_at=t0 + DELAY)
    other = PendingRef(
        campaign_id="zz_other",
        message_id="m-2",
        send_at=t0 + timedelta(hours=3),
        trigger_at=t0,
        desired_at=t0 + DELAY + other_wanted,
        priority=CART.priority,
    )
    profile = with_cart(pending={"zz_other": other})
    # When the reminder fires
    verdict = fire(profile, message, now=t0 + DELAY, policy=policy)
    # Then, as when planning, the one that wanted the earlier time has the day's slot
    assert verdict.action is expected


def test_a_local_time_message_firing_just_after_its_time_is_sent(t0: datetime) -> None:
    # Given a message planned for 10:00 tomorrow on weekdays, whose schedule fires 30 seconds late
    ten = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    message = outbound(t0, send_at=ten, desired_at=ten)
    # When the sender re-checks it
    verdict = fire(with_cart(), message, now=ten + timedelta(seconds=30), campaign=at_ten_on_weekdays())
    # Then it goes now, rather than waiting for the next 10:00
    assert verdict.action is Action.SEND
