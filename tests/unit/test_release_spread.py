"""Release spread: messages that wait for a window to open, or for quiet hours to end, go over a few minutes
after the opening, each at its own stable offset, instead of all in the same minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from righttime.core.calendar import QuietHours
from righttime.core.campaigns import Campaign
from righttime.core.decisions import ReasonCode
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy import customer_zone
from righttime.core.policy.placement import earliest_for_campaign
from righttime.core.policy.spread import release_offset
from righttime.core.profiles import Profile

#: a Friday, 06:30 in Paris: before the window opens at 09:00
TRIGGER = datetime(2026, 11, 20, 5, 30, tzinfo=UTC)
OPENING = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 09:00 in Paris
POLICY = GlobalPolicy(release_spread=timedelta(minutes=5))


def campaign(**timing: Any) -> Campaign:
    return Campaign.model_validate(
        {
            "id": "cart_abandonment",
            "name": "Cart",
            "trigger": {"event": "Product Added"},
            "timing": {"delay": "0s", "window": {"start": "09:00", "end": "20:00"}, **timing},
            "template": "cart_abandonment",
        }
    )


def earliest(customer: str, policy: GlobalPolicy = POLICY, **timing: Any) -> tuple[datetime, list[str]]:
    profile = Profile(customer_id=customer, timezone="Europe/Paris")
    found = earliest_for_campaign(
        profile, campaign(**timing), policy, customer_zone(profile, policy), TRIGGER, "Product Added", TRIGGER
    )
    assert found.at is not None
    return found.at, [r.code.value for r in found.reasons]


def test_messages_waiting_for_the_window_are_spread_over_the_policy_spread():
    # Given 200 customers whose reminders all wait for the 09:00 opening
    times = [earliest(f"cust-{i}")[0] for i in range(200)]
    # Then each goes within five minutes of the opening, and they don't all share a minute
    assert all(OPENING <= t < OPENING + timedelta(minutes=5) for t in times)
    per_minute = {t.replace(second=0) for t in times}
    assert len(per_minute) == 5


def test_the_decision_says_where_in_the_spread_the_message_goes():
    at, codes = earliest("cust-1")
    assert codes == ["outside_window", "release_spread"]
    assert at == OPENING + release_offset("cust-1\x1fcart_abandonment", timedelta(minutes=5))


def test_the_same_customer_gets_the_same_offset_every_time():
    assert earliest("cust-7") == earliest("cust-7")


def test_the_end_of_quiet_hours_is_spread_too():
    policy = GlobalPolicy(quiet_hours=QuietHours.model_validate({"start": "21:00", "end": "08:00"}))
    profile = Profile(customer_id="cust-1", timezone="UTC")
    night = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    no_window = Campaign.model_validate(
        {
            "id": "browse",
            "name": "Browse",
            "trigger": {"event": "Product Viewed"},
            "timing": {"delay": "0s"},
            "template": "browse_abandonment",
        }
    )
    found = earliest_for_campaign(
        profile, no_window, policy, customer_zone(profile, policy), night, "Product Viewed", night
    )
    assert found.at is not None
    assert [r.code for r in found.reasons] == [ReasonCode.QUIET_HOURS, ReasonCode.RELEASE_SPREAD]
    morning = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    assert morning < found.at < morning + timedelta(minutes=5)


def test_an_explicit_local_time_is_kept_to_the_minute():
    at, codes = earliest("cust-1", at_local_time="10:00")
    assert at == OPENING + timedelta(hours=1)
    assert "release_spread" not in codes


def test_a_message_inside_its_window_goes_when_due_unspread():
    at, codes = earliest("cust-1", delay="3h")  # 09:30 in Paris, inside the window
    assert at == TRIGGER + timedelta(hours=3) and codes == []


def test_no_spread_when_it_is_turned_off_or_would_pass_send_by():
    assert earliest("cust-1", GlobalPolicy(release_spread=timedelta(0)))[0] == OPENING
    at, codes = earliest("cust-1", send_by="2h30m")  # send_by is 09:00 sharp in Paris
    assert at == OPENING and "release_spread" not in codes


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=3600))
def test_an_offset_is_whole_seconds_within_the_spread(key: str, seconds: int):
    offset = release_offset(key, timedelta(seconds=seconds))
    assert timedelta(0) <= offset < timedelta(seconds=seconds)
    assert offset.microseconds == 0
    assert offset == release_offset(key, timedelta(seconds=seconds))
