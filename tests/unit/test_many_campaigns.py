"""Many campaigns at once: one event that triggers dozens of promotions never overfills a frequency cap, and
planning always follows the campaign set it is given, even when it changes between two events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from righttime.core.calendar import QuietHours, Window
from righttime.core.campaigns import Campaign, Kind, Timing, Trigger
from righttime.core.decisions import Outcome
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.global_policy import FrequencyCap, GlobalPolicy
from righttime.core.policy import plan_event
from righttime.core.profiles import Profile, SendRecord

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ZONES = ["Europe/Paris", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"]


def promotion(number: int, delay_hours: int, priority: int) -> Campaign:
    return Campaign(
        id=f"promo-{number:02d}",
        name=f"Promotion {number}",
        kind=Kind.PROMOTIONAL,
        priority=priority,
        trigger=Trigger(events=["Product Viewed"]),
        timing=Timing(
            delay=timedelta(hours=delay_hours),
            window=Window.model_validate({"start": "09:00", "end": "20:00"}),
            send_by=timedelta(days=5),
        ),
        template="promo",
    )


def viewed(message_id: str = "m-view") -> QueuedEvent:
    message = TrackMessage(userId="cust-1", messageId=message_id, event="Product Viewed")
    return QueuedEvent(message=message, received_at=NOW, occurred_at=NOW)


def customer(zone: str, sent_hours_ago: list[int]) -> Profile:
    sends = [SendRecord(at=NOW - timedelta(hours=h), campaign_id="newsletter") for h in sent_hours_ago]
    return Profile(customer_id="cust-1", email="jane@example.com", timezone=zone, sends=sends)


caps = st.lists(
    st.builds(
        FrequencyCap,
        max=st.integers(1, 3),
        per=st.one_of(st.just("day"), st.integers(1, 7).map(lambda d: timedelta(days=d))),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    sent_hours_ago=st.lists(st.integers(1, 24 * 7), max_size=4),
    cap_list=caps,
    timings=st.lists(st.tuples(st.integers(0, 72), st.integers(0, 5)), min_size=1, max_size=25),
)
def test_the_messages_of_one_event_never_overfill_a_cap(
    zone: str, sent_hours_ago: list[int], cap_list: list[FrequencyCap], timings: list[tuple[int, int]]
) -> None:
    # Given a customer with recent sends, frequency caps, and up to 25 promotions the same event triggers
    policy = GlobalPolicy(
        quiet_hours=QuietHours.model_validate({"start": "21:00", "end": "08:00"}), frequency_caps=cap_list
    )
    campaigns = [promotion(n, delay, priority) for n, (delay, priority) in enumerate(timings)]
    profile = customer(zone, sent_hours_ago)
    # When the event is planned
    plan = plan_event(profile, viewed(), campaigns, policy, NOW)
    # Then, wherever a message lands, each cap's period holds at most its maximum, sends included
    tz = ZoneInfo(zone)
    planned = [d.send_at for d in plan.decisions if d.outcome is Outcome.SCHEDULED and d.send_at]
    everything = [s.at for s in profile.sends] + planned
    for at in planned:
        for cap in cap_list:
            if cap.calendar_day:
                in_period = [t for t in everything if t.astimezone(tz).date() == at.astimezone(tz).date()]
            else:
                in_period = [t for t in everything if at - cap.period < t <= at]
            assert len(in_period) <= cap.max, (cap.describe(), at)
    # And every triggered campaign has exactly one decision
    assert sorted(d.campaign_id for d in plan.decisions) == sorted(c.id for c in campaigns)


def test_a_campaign_added_between_two_events_is_planned_on_the_next_one() -> None:
    # Given one promotion, planned once
    first = [promotion(1, 1, 10)]
    plan_event(customer("UTC", []), viewed("m-1"), first, GlobalPolicy(), NOW)
    # When a second promotion on the same event is added, and the next event is planned with both
    both = [*first, promotion(2, 2, 20)]
    plan = plan_event(customer("UTC", []), viewed("m-2"), both, GlobalPolicy(), NOW)
    # Then both are scheduled, the higher priority first
    assert [d.campaign_id for d in plan.decisions] == ["promo-02", "promo-01"]


def test_a_campaign_switched_off_between_two_events_is_not_planned_on_the_next_one() -> None:
    # Given two promotions, planned once
    campaigns = [promotion(1, 1, 10), promotion(2, 2, 20)]
    plan_event(customer("UTC", []), viewed("m-1"), campaigns, GlobalPolicy(), NOW)
    # When the second is switched off, and the next event is planned
    switched = [campaigns[0], campaigns[1].model_copy(update={"enabled": False})]
    plan = plan_event(customer("UTC", []), viewed("m-2"), switched, GlobalPolicy(), NOW)
    # Then only the first is scheduled
    assert [d.campaign_id for d in plan.decisions] == ["promo-01"]


def test_a_campaign_triggered_by_several_events_is_planned_on_each() -> None:
    # Given a promotion triggered by either of two events
    campaign = promotion(1, 1, 10).model_copy(
        update={"trigger": Trigger(events=["Product Viewed", "Product Added"])}
    )
    for name in ("Product Viewed", "Product Added"):
        message = TrackMessage(userId="cust-1", messageId=f"m-{name}", event=name)
        event = QueuedEvent(message=message, received_at=NOW, occurred_at=NOW)
        # When either is planned
        plan = plan_event(customer("UTC", []), event, [campaign], GlobalPolicy(), NOW)
        # Then the promotion is scheduled
        assert [d.outcome for d in plan.decisions] == [Outcome.SCHEDULED]
