"""Time correctness, property-based: windows that wrap midnight, DST gaps and folds, zones at UTC+14,
UTC-12 and half- or quarter-hour offsets. No promotional send lands in quiet hours or outside its window,
none is earlier than its trigger plus delay, and a deferred message goes to the earliest allowed instant."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from righttime.core import calendar
from righttime.core.calendar import QuietHours, Weekday, Window
from righttime.core.campaigns import Campaign
from righttime.core.decisions import Outcome
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy import Action, decide_at_send, plan_event
from righttime.core.profiles import Profile

ZONES = [
    "Pacific/Kiritimati",  # UTC+14
    "Etc/GMT+12",  # UTC-12
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Adelaide",  # +09:30 / +10:30 with DST
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/New_York",
    "Europe/Paris",
    "America/Santiago",  # DST in the southern summer
    "UTC",
]
# 2026 around the DST changes of the zones above, plus ordinary days.
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
dst_instants = st.sampled_from(
    [
        datetime(2026, 3, 8, 6, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 45, tzinfo=UTC),
        datetime(2026, 4, 4, 15, 10, tzinfo=UTC),
        datetime(2026, 10, 3, 16, 20, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 59, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
    ]
).flatmap(lambda base: st.integers(-180, 180).map(lambda m: base + timedelta(minutes=m)))
walls = st.times().map(lambda t: t.replace(second=0, microsecond=0))
windows = st.builds(
    Window,
    days=st.lists(st.sampled_from(list(Weekday)), min_size=1, max_size=7, unique=True),
    start=walls,
    end=walls,
)
quiets = st.one_of(st.none(), st.builds(QuietHours, start=walls, end=walls))
any_instant = st.one_of(instants, dst_instants)


def _minutes(start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    first = start.replace(second=0, microsecond=0)
    if first < start:
        first += timedelta(minutes=1)
    while first < end:
        yield first
        first += timedelta(minutes=1)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instant=any_instant, zone=st.sampled_from(ZONES), window=st.one_of(st.none(), windows), quiet=quiets)
def test_next_allowed_is_the_earliest_allowed_instant(instant, zone, window, quiet):  # type: ignore[no-untyped-def]
    tz = ZoneInfo(zone)
    found = calendar.next_allowed(instant, tz, window, quiet)
    if found is None:
        # Only when nothing in the next eight days is allowed (quiet hours covering the whole window).
        assert not any(
            calendar.allowed(m, tz, window, quiet) for m in _minutes(instant, instant + timedelta(days=8))
        )
        return
    assert found >= instant
    assert calendar.allowed(found, tz, window, quiet)
    # Boundaries fall on whole minutes, so checking each minute before `found` proves nothing earlier fits.
    assert not any(calendar.allowed(m, tz, window, quiet) for m in _minutes(instant, found))


@given(
    day=st.dates(min_value=datetime(2026, 1, 1).date(), max_value=datetime(2026, 12, 31).date()),
    wall=walls,
    zone=st.sampled_from(ZONES),
)
def test_a_wall_time_maps_to_the_first_instant_showing_it_or_the_end_of_a_gap(day, wall, zone):  # type: ignore[no-untyped-def]
    tz = ZoneInfo(zone)
    found = calendar.wall_to_utc(day, wall, tz)
    local = found.astimezone(tz).replace(tzinfo=None)
    wanted = datetime.combine(day, wall)
    assert local >= wanted
    # one second earlier, the clock had not yet reached the wanted wall time (earliest fold, or gap end)
    assert (found - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None) < wanted


def _campaign(window: Window | None, delay: timedelta) -> Campaign:
    return Campaign.model_validate(
        {
            "id": "reminder",
            "name": "Reminder",
            "kind": "promotional",
            "template": "t",
            "trigger": {"event": "Product Added"},
            "timing": {"delay": delay, **({"window": window.model_dump(mode="json")} if window else {})},
        }
    )


@settings(max_examples=120, deadline=None)
@given(
    occurred=any_instant,
    zone=st.sampled_from(ZONES),
    window=st.one_of(st.none(), windows),
    quiet=quiets,
    delay_minutes=st.integers(0, 3 * 24 * 60),
)
def test_no_promotional_send_lands_in_quiet_hours_outside_its_window_or_before_its_delay(  # type: ignore[no-untyped-def]
    occurred, zone, window, quiet, delay_minutes
):
    # Given a customer in `zone`, a promotional campaign with a window and delay, and global quiet hours
    delay = timedelta(minutes=delay_minutes)
    campaign = _campaign(window, delay)
    policy = GlobalPolicy(quiet_hours=quiet)
    profile = Profile(customer_id="c", email="c@example.com", timezone=zone, version=1)
    event = QueuedEvent(
        message=TrackMessage(
            userId="c", messageId="m1", event="Product Added", properties={"product_id": "p"}
        ),
        received_at=occurred,
        occurred_at=occurred,
    )
    # When the trigger is evaluated
    plan = plan_event(profile, event, [campaign], policy, occurred)
    (decision,) = plan.decisions
    if decision.outcome is not Outcome.SCHEDULED:
        # the window and quiet hours never overlap within a week: refused, and said so
        assert decision.outcome is Outcome.SUPPRESSED
        assert decision.reason_codes == ["outside_window"]
        return
    send_at = decision.send_at
    assert send_at is not None
    tz = ZoneInfo(zone)
    # Then the send is allowed in the customer's zone, never before trigger + delay, and the earliest such,
    # or, released at an opening, within the policy's release spread after it
    assert send_at >= occurred + delay
    assert calendar.allowed(send_at, tz, window, quiet)
    earliest = calendar.next_allowed(occurred + delay, tz, window, quiet)
    assert earliest is not None
    if "release_spread" in decision.reason_codes:
        assert earliest < send_at < earliest + policy.release_spread
    else:
        assert send_at == earliest
    # And when the schedule fires at that instant, the same policy says: send now
    (message,) = plan.schedule
    verdict = decide_at_send(plan.profile, message, campaign, policy, None, send_at)
    assert verdict.action is Action.SEND


@settings(max_examples=60, deadline=None)
@given(occurred=instants, zone=st.sampled_from(ZONES), start=st.integers(0, 23), length=st.integers(1, 12))
def test_a_message_deferred_by_quiet_hours_goes_out_when_they_end(occurred, zone, start, length):  # type: ignore[no-untyped-def]
    # Given quiet hours that may wrap midnight, and a message due inside them
    quiet = QuietHours(start=time(start), end=time((start + length) % 24))
    tz = ZoneInfo(zone)
    campaign = _campaign(None, timedelta(0))
    plan = plan_event(
        Profile(customer_id="c", email="c@example.com", timezone=zone, version=1),
        QueuedEvent(
            message=TrackMessage(userId="c", messageId="m", event="Product Added"),
            received_at=occurred,
            occurred_at=occurred,
        ),
        [campaign],
        GlobalPolicy(quiet_hours=quiet),
        occurred,
    )
    (decision,) = plan.decisions
    assert decision.send_at is not None
    if quiet.contains(occurred.astimezone(tz)):
        # Then it is deferred (never dropped) to the end of quiet hours, and the reason says so
        assert "quiet_hours" in decision.reason_codes
        assert not quiet.contains(decision.send_at.astimezone(tz))
        # the first instant quiet hours end, or within the release spread after it
        ended = calendar.next_allowed(occurred, tz, None, quiet)
        assert ended is not None
        assert ended == calendar.wall_to_utc(ended.astimezone(tz).date(), quiet.end, tz)
        assert ended <= decision.send_at < ended + timedelta(minutes=5)
        assert ("release_spread" in decision.reason_codes) == (decision.send_at != ended)
    else:
        assert decision.send_at == occurred
