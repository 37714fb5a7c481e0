"""Optimal send time, property-based: on generated engagement histories, zones (DST, half- and quarter-hour
offsets), windows, quiet hours, delays and deadlines, the chosen instant is the first allowed instant of the
history's most engaged allowed hour within reach, checked minute by minute; it is never in quiet hours,
outside the window, later than `max_delay` after where the campaign's own timing put it, or past send_by."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from righttime.core import calendar
from righttime.core.calendar import QuietHours, Weekday, Window
from righttime.core.campaigns import Campaign
from righttime.core.decisions import Outcome, ReasonCode
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy import plan_event
from righttime.core.profiles import MAX_ENGAGEMENT, Engagement, Profile
from righttime.core.send_time import (
    CUSTOMER_PERIOD,
    MIN_CUSTOMER_EVIDENCE,
    Evidence,
    HourCounts,
    choose_send_time,
    customer_hours,
)

ZONES = [
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "America/New_York",
    "Europe/Paris",
    "America/Santiago",
    "UTC",
]
minutes = st.integers(0, 365 * 24 * 60).map(lambda m: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=m))
around_dst = st.sampled_from(
    [
        datetime(2026, 3, 8, 6, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
        datetime(2026, 4, 4, 15, 0, tzinfo=UTC),
        datetime(2026, 10, 3, 16, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 0, tzinfo=UTC),
    ]
).flatmap(lambda base: st.integers(-36 * 60, 12 * 60).map(lambda m: base + timedelta(minutes=m)))
instants = st.one_of(minutes, around_dst)
walls = st.times().map(lambda t: t.replace(second=0, microsecond=0))
windows = st.one_of(
    st.none(),
    st.builds(
        Window,
        days=st.lists(st.sampled_from(list(Weekday)), min_size=1, max_size=7, unique=True),
        start=walls,
        end=walls,
    ),
)
quiets = st.one_of(st.none(), st.builds(QuietHours, start=walls, end=walls))
# A history concentrated on a few favourite hours, with noise, as people read mail.
hour_weights = st.lists(st.integers(0, 30), min_size=24, max_size=24)


def _minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    """`start`, then every whole minute after it up to `end`: every rule changes on a whole minute."""
    yield start
    at = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while at <= end:
        yield at
        at += timedelta(minutes=1)


def _expected(
    base: datetime,
    limit: datetime,
    tz: ZoneInfo,
    window: Window | None,
    quiet: QuietHours | None,
    hours: HourCounts,
) -> datetime:
    """The oracle, by brute force: every allowed minute from `base` to `limit`, the first of the best hour."""
    allowed = [m for m in _minutes(base, limit) if calendar.allowed(m, tz, window, quiet)]
    best = max(hours.counts[m.astimezone(tz).hour] for m in allowed)
    return next(m for m in allowed if hours.counts[m.astimezone(tz).hour] == best)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=instants,
    zone=st.sampled_from(ZONES),
    window=windows,
    quiet=quiets,
    weights=hour_weights,
    max_delay_hours=st.integers(1, 48),
    send_by_minutes=st.one_of(st.none(), st.integers(0, 60 * 60)),
)
def test_the_chosen_instant_is_the_first_of_the_most_engaged_allowed_hour(  # type: ignore[no-untyped-def]
    start, zone, window, quiet, weights, max_delay_hours, send_by_minutes
):
    # Given an allowed instant where the campaign's own timing put the message, and the customer's hours
    tz = ZoneInfo(zone)
    base = calendar.next_allowed(start, tz, window, quiet)
    if base is None:
        return  # never allowed: planning suppresses such a message before choosing a time
    hours = HourCounts(tuple(weights))
    max_delay = timedelta(hours=max_delay_hours)
    send_by = base + timedelta(minutes=send_by_minutes) if send_by_minutes is not None else None
    # When the send time is chosen
    choice = choose_send_time(base, max_delay, tz, window, quiet, send_by, Evidence(hours, "customer", 1))
    # Then it is allowed, within reach, and the first instant of the best hour the oracle finds
    limit = min(base + max_delay, send_by) if send_by is not None else base + max_delay
    assert base <= choice.at <= limit
    assert calendar.allowed(choice.at, tz, window, quiet)
    assert choice.hour == choice.at.astimezone(tz).hour
    assert choice.at == _expected(base, limit, tz, window, quiet, hours)


def _history(now: datetime, tz: ZoneInfo, weights: list[int], days: list[int]) -> list[Engagement]:
    """Opens at each local hour as often as its weight says, on the given days before `now`."""
    found = []
    for n, days_ago in enumerate(days):
        hour = n % 24
        for repeat in range(weights[hour] // 10):
            local = (now - timedelta(days=days_ago + repeat)).astimezone(tz).replace(hour=hour, minute=17)
            found.append(
                Engagement(
                    kind="open", at=local.astimezone(UTC), message_id=f"m{n}-{repeat}", campaign_id="x"
                )
            )
    return sorted(found, key=lambda e: e.at)[-MAX_ENGAGEMENT:]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    occurred=instants,
    zone=st.sampled_from(ZONES),
    window=windows,
    quiet=quiets,
    weights=hour_weights,
    days=st.lists(st.integers(0, 120), min_size=0, max_size=60),
    delay_hours=st.integers(0, 30),
    max_delay_hours=st.integers(1, 48),
)
def test_planned_on_a_generated_history_the_send_matches_it_and_breaks_no_rule(  # type: ignore[no-untyped-def]
    occurred, zone, window, quiet, weights, days, delay_hours, max_delay_hours
):
    # Given a customer with a generated engagement history, a promotion with send_time: optimal
    tz = ZoneInfo(zone)
    history = _history(occurred, tz, weights, days)
    profile = Profile(customer_id="c", email="c@example.com", timezone=zone, engagement=history, version=1)
    timing: dict[str, object] = {
        "delay": f"{delay_hours}h",
        "send_time": {"mode": "optimal", "max_delay": f"{max_delay_hours}h"},
    }
    if window is not None:
        timing["window"] = window.model_dump(mode="json")
    campaign = Campaign.model_validate(
        {"id": "offer", "name": "Offer", "template": "t", "trigger": {"event": "Viewed"}, "timing": timing}
    )
    policy = GlobalPolicy(quiet_hours=quiet)
    event = QueuedEvent(
        message=TrackMessage(userId="c", messageId="m1", event="Viewed"),
        received_at=occurred,
        occurred_at=occurred,
    )
    # When the trigger is planned
    plan = plan_event(profile, event, [campaign], policy, occurred)
    (decision,) = plan.decisions
    if decision.outcome is not Outcome.SCHEDULED:
        assert decision.outcome is Outcome.SUPPRESSED  # the window and quiet hours never overlap
        return
    send_at = decision.send_at
    assert send_at is not None
    (reason,) = [r for r in decision.reasons if r.code is ReasonCode.SEND_TIME_OPTIMISED]
    # Then the send is allowed on the customer's clock, no earlier than the campaign's own time, and no
    # later than max_delay after it
    assert calendar.allowed(send_at, tz, window, quiet)
    codes = decision.reason_codes
    base = calendar.next_allowed(occurred + timedelta(hours=delay_hours), tz, window, quiet)
    assert base is not None
    at = codes.index(ReasonCode.SEND_TIME_OPTIMISED.value)
    for released in decision.reasons[:at]:
        if released.code is ReasonCode.RELEASE_SPREAD:  # released at an opening, at its own offset
            base += timedelta(seconds=int(str(released.detail["offset_seconds"])))
    until = datetime.fromisoformat(str(reason.detail["until"]))
    limit = base + timedelta(hours=max_delay_hours)
    assert base <= until <= send_at <= limit
    # And it goes at the instant chosen, or within the release spread after it, in the same hour
    if ReasonCode.RELEASE_SPREAD.value in codes[at:]:
        assert until < send_at < until + policy.release_spread
        assert send_at.astimezone(tz).hour == until.astimezone(tz).hour
    else:
        assert send_at == until
    # And the hour is the history's most engaged one within reach, as the reason says
    own = customer_hours((e.at for e in history), tz, occurred)
    recent = [e for e in history if occurred - CUSTOMER_PERIOD <= e.at <= occurred]
    assert reason.detail["hour"] == send_at.astimezone(tz).hour
    if len(recent) >= MIN_CUSTOMER_EVIDENCE:
        assert reason.detail["fallback"] == "customer"
        assert reason.detail["evidence"] == len(recent)
        assert until == _expected(base, limit, tz, window, quiet, own)
    else:
        assert reason.detail["fallback"] == "none"
        assert until == base == send_at
