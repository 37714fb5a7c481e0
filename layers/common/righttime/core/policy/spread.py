"""Release spread: messages that wait for a window to open (or quiet hours to end) would all go at the same
minute, every 08:00 cart reminder of a zone at once, and one minute's burst can throttle SES. Each such
message goes instead at a stable offset within the policy's `release_spread` after the opening."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from righttime.core import calendar
from righttime.core.campaigns import Campaign
from righttime.core.decisions import Reason, ReasonCode
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy.zone import CustomerZone
from righttime.core.profiles import Profile

#: the rules that release messages at an opening: only they are spread (a delay or a local time is explicit)
_RELEASED_BY = (ReasonCode.OUTSIDE_WINDOW, ReasonCode.QUIET_HOURS)


def release_offset(key: str, spread: timedelta) -> timedelta:
    """Where within `spread` the message of `key` goes: whole seconds, the same for the same key, evenly
    spread over many keys."""
    seconds = int(spread.total_seconds())
    if seconds <= 0:
        return timedelta(0)
    return timedelta(seconds=int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % seconds)


def spread_release(
    at: datetime,
    reasons: list[Reason],
    profile: Profile,
    campaign: Campaign,
    policy: GlobalPolicy,
    zone: CustomerZone,
    send_by: datetime | None,
) -> tuple[datetime, list[Reason]]:
    """`at`, moved by the customer's offset within the policy's `release_spread` when the last rule that
    moved it was the window or quiet hours, with a `release_spread` reason. Unchanged when the campaign
    asked for a local time (explicit), or when the later instant would leave the window, enter quiet hours
    or pass `send_by`."""
    moved_by = reasons[-1] if reasons else None
    if moved_by is None or moved_by.code not in _RELEASED_BY or moved_by.detail.get("until") is None:
        return at, reasons
    if campaign.timing.at_local_time is not None:
        return at, reasons
    later = at + release_offset(f"{profile.customer_id}\x1f{campaign.id}", policy.release_spread)
    allowed = calendar.next_allowed(later, zone.tz, campaign.timing.window, policy.quiet_hours)
    if later == at or allowed != later or (send_by is not None and later > send_by):
        return at, reasons
    return later, [*reasons, Reason.release_spread(policy.release_spread, later - at)]
