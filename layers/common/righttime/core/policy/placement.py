"""Placement: the earliest instant a campaign's own timing and the global rules allow, then a free slot under
the frequency caps, given the instants already taken by sends and higher priorities."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from righttime.core import calendar
from righttime.core.campaigns import Campaign, Kind, OutsideWindow
from righttime.core.decisions import (
    Outcome,
    Reason,
    ReasonCode,
)
from righttime.core.durations import format_duration
from righttime.core.global_policy import FrequencyCap, GlobalPolicy
from righttime.core.policy.zone import CustomerZone
from righttime.core.profiles import Profile

#: the furthest ahead the policy looks for a free slot before giving up
PLACEMENT_HORIZON = timedelta(days=60)


_MAX_STEPS = 500


@dataclass(frozen=True)
class Earliest:
    at: datetime | None
    reasons: list[Reason]
    outcome: Outcome | None = None


def earliest_for_campaign(
    profile: Profile,
    campaign: Campaign,
    policy: GlobalPolicy,
    zone: CustomerZone,
    trigger_at: datetime,
    trigger_event: str,
    now: datetime,
) -> Earliest:
    """The earliest instant the campaign's own timing and the global rules (minimum delay, local time,
    purchase cooldown, send window, quiet hours) allow, with a reason for each rule that moved it."""
    reasons: list[Reason] = []
    delay = campaign.timing.delay
    at = trigger_at + delay
    promotional = campaign.kind is Kind.PROMOTIONAL
    if promotional:
        minimum = policy.min_delay.get(trigger_event)
        if minimum is not None and minimum > delay:
            at = trigger_at + minimum
            reasons.append(
                Reason(
                    code=ReasonCode.MIN_DELAY,
                    detail={"event": trigger_event, "min_delay": format_duration(minimum)},
                )
            )
    if campaign.timing.at_local_time is not None:
        local = calendar.next_local_time(at, campaign.timing.at_local_time, zone.tz)
        if local != at:
            reasons.append(
                Reason(
                    code=ReasonCode.LOCAL_TIME,
                    detail={"time": campaign.timing.at_local_time.strftime("%H:%M"), "timezone": zone.name},
                )
            )
        at = local
    at = max(at, now)
    if promotional and profile.last_order_at is not None:
        if campaign.follow_up is not None:
            until = profile.last_order_at + campaign.follow_up.min_delay
            code = ReasonCode.FOLLOW_UP_DELAY
        else:
            until = profile.last_order_at + policy.purchase_cooldown
            code = ReasonCode.PURCHASE_COOLDOWN
        if until > at:
            reasons.append(
                Reason(
                    code=code,
                    detail={"order_at": profile.last_order_at.isoformat(), "until": until.isoformat()},
                )
            )
            at = until
    if not promotional:
        return Earliest(at, reasons)
    window, quiet = campaign.timing.window, policy.quiet_hours
    allowed_at = calendar.next_allowed(at, zone.tz, window, quiet)
    if allowed_at is None:
        return Earliest(
            None,
            [
                *reasons,
                Reason(
                    code=ReasonCode.OUTSIDE_WINDOW,
                    detail={
                        "window": window.describe() if window else None,
                        "timezone": zone.name,
                        "never_open": True,
                    },
                ),
            ],
            Outcome.SUPPRESSED,
        )
    if allowed_at != at:
        local = at.astimezone(zone.tz)
        if window is not None and not window.contains(local):
            if campaign.timing.outside_window is OutsideWindow.DROP:
                return Earliest(
                    None,
                    [
                        *reasons,
                        Reason(
                            code=ReasonCode.OUTSIDE_WINDOW,
                            detail={
                                "window": window.describe(),
                                "timezone": zone.name,
                                "local_time": local.isoformat(),
                                "action": "drop",
                            },
                        ),
                    ],
                    Outcome.SUPPRESSED,
                )
            reasons.append(
                Reason(
                    code=ReasonCode.OUTSIDE_WINDOW,
                    detail={
                        "window": window.describe(),
                        "timezone": zone.name,
                        "local_time": local.isoformat(),
                        "until": allowed_at.isoformat(),
                    },
                )
            )
        else:
            assert quiet is not None
            reasons.append(
                Reason(
                    code=ReasonCode.QUIET_HOURS,
                    detail={
                        "quiet_hours": quiet.describe(),
                        "timezone": zone.name,
                        "local_time": local.isoformat(),
                        "until": allowed_at.isoformat(),
                    },
                )
            )
    send_by = trigger_at + campaign.timing.send_by if campaign.timing.send_by is not None else None
    if send_by is not None and allowed_at > send_by:
        return Earliest(
            None,
            [
                *reasons,
                Reason(
                    code=ReasonCode.SEND_BY_PASSED,
                    detail={"send_by": send_by.isoformat(), "earliest": allowed_at.isoformat()},
                ),
            ],
            Outcome.EXPIRED,
        )
    return Earliest(allowed_at, reasons)


def place(
    desired: datetime,
    zone: CustomerZone,
    campaign: Campaign,
    policy: GlobalPolicy,
    taken: Iterable[datetime],
    send_by: datetime | None,
) -> tuple[datetime | None, list[Reason]]:
    """The earliest instant at or after `desired` that the send window, quiet hours and every frequency cap
    allow, given the instants already `taken` by sends and higher-priority messages."""
    taken = sorted(taken)
    at: datetime | None = desired
    capped: list[Reason] = []
    for _ in range(_MAX_STEPS):
        at = calendar.next_allowed(at, zone.tz, campaign.timing.window, policy.quiet_hours) if at else None
        if at is None or at - desired > PLACEMENT_HORIZON:
            break
        if send_by is not None and at > send_by:
            return None, [
                *capped,
                Reason(
                    code=ReasonCode.SEND_BY_PASSED,
                    detail={"send_by": send_by.isoformat(), "earliest": at.isoformat()},
                ),
            ]
        moved = _free_after(at, zone, policy.frequency_caps, taken)
        if moved is None:
            return at, capped
        later, cap = moved
        if not capped or capped[-1].detail.get("cap") != cap.describe():
            capped.append(
                Reason(
                    code=ReasonCode.FREQUENCY_CAP,
                    detail={"cap": cap.describe(), "timezone": zone.name, "until": later.isoformat()},
                )
            )
        else:
            capped[-1] = Reason(
                code=ReasonCode.FREQUENCY_CAP, detail={**capped[-1].detail, "until": later.isoformat()}
            )
        at = later
    return None, capped or [
        Reason(code=ReasonCode.FREQUENCY_CAP, detail={"horizon": format_duration(PLACEMENT_HORIZON)})
    ]


def _free_after(
    at: datetime,
    zone: CustomerZone,
    caps: list[FrequencyCap],
    taken: list[datetime],
) -> tuple[datetime, FrequencyCap] | None:
    """None if a message at `at` respects every cap; else a later instant worth trying, and the cap."""
    for cap in caps:
        if cap.calendar_day:
            start, end = calendar.local_day_bounds(at, zone.tz)
            if sum(start <= t < end for t in taken) >= cap.max:
                return end, cap
            continue
        window = cap.period
        before = [t for t in taken if at - window < t <= at]
        if len(before) >= cap.max:
            return before[len(before) - cap.max] + window, cap
        # Sending at `at` must not overfill the trailing window of a message already placed after it.
        for later in (t for t in taken if at < t < at + window):
            if sum(later - window < t <= later for t in taken) + 1 > cap.max:
                return later + timedelta(seconds=1), cap
    return None


def unplaceable_outcome(reasons: list[Reason]) -> Outcome:
    """A message with no slot left: suppressed when caps or priorities took the room, expired when its
    own timing (window, cooldown) ran past its send-by deadline."""
    codes = {r.code for r in reasons}
    if codes & {ReasonCode.FREQUENCY_CAP, ReasonCode.OUTRANKED}:
        return Outcome.SUPPRESSED
    return Outcome.EXPIRED if ReasonCode.SEND_BY_PASSED in codes else Outcome.SUPPRESSED
