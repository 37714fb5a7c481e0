"""Placement: the earliest instant a campaign's own timing and the global rules allow, then a free slot under
the frequency caps, given the instants already taken by sends and higher priorities."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from righttime.core import calendar
from righttime.core.campaigns import Campaign, Kind, OutsideWindow
from righttime.core.decisions import Outcome, Reason, ReasonCode
from righttime.core.global_policy import FrequencyCap, GlobalPolicy
from righttime.core.policy.spread import spread_release
from righttime.core.policy.zone import CustomerZone
from righttime.core.profiles import Profile

#: the furthest ahead the policy looks for a free slot before giving up
PLACEMENT_HORIZON = timedelta(days=60)


_MAX_STEPS = 500

#: sorts before every real instant: campaigns compared before their messages have a desired time
_NO_TIME = datetime.min.replace(tzinfo=UTC)

PriorityOrder = tuple[int, datetime, str]

#: a cap that pushed a message, and until when
Push = tuple[FrequencyCap, datetime]


def priority_order(priority: int, campaign_id: str, desired_at: datetime | None = None) -> PriorityOrder:
    """The one order in which promotional messages compete for frequency-cap slots, smallest first.

    The higher priority goes first. On equal priority, the earlier desired time (what the campaign's own
    timing asked for, before caps) goes first, then the campaign id in alphabetical order, so the result
    never depends on which event happened to be processed first. `a` outranks `b` when
    `priority_order(a) < priority_order(b)`.
    """
    return (-priority, desired_at or _NO_TIME, campaign_id)


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
            reasons.append(Reason.min_delay(trigger_event, minimum))
    wall = campaign.timing.at_local_time
    if wall is not None:
        local = calendar.next_local_time(at, wall, zone.tz)
        if local != at:
            reasons.append(Reason.local_time(wall, zone.name))
        at = local
    at = max(at, now)
    cooled = False
    if promotional and profile.last_order_at is not None:
        if campaign.follow_up is not None:
            until = profile.last_order_at + campaign.follow_up.min_delay
            waited = Reason.follow_up_delay(profile.last_order_at, until)
        else:
            until = profile.last_order_at + policy.purchase_cooldown
            waited = Reason.purchase_cooldown(profile.last_order_at, until)
        if until > at:
            reasons.append(waited)
            at, cooled = until, True
    if not promotional:
        return Earliest(at, reasons)
    window, quiet = campaign.timing.window, policy.quiet_hours
    allowed_at = next_slot(at, campaign, policy, zone, moved=cooled)
    if allowed_at is None:
        # Either the window and quiet hours never overlap, or they do but never at the campaign's local time.
        at_wall = wall if calendar.next_allowed(at, zone.tz, window, quiet) is not None else None
        never = Reason.window_never_open(window, zone.name, at_wall)
        return Earliest(None, [*reasons, never], Outcome.SUPPRESSED)
    if allowed_at != at:
        local = at.astimezone(zone.tz)
        if window is not None and not window.contains(local):
            if campaign.timing.outside_window is OutsideWindow.DROP:
                dropped = Reason.outside_window_dropped(window, zone.name, local)
                return Earliest(None, [*reasons, dropped], Outcome.SUPPRESSED)
            reasons.append(Reason.outside_window(window, zone.name, local, allowed_at))
        elif quiet is not None and quiet.contains(local):
            reasons.append(Reason.quiet_hours(quiet, zone.name, local, allowed_at))
        elif wall is not None and all(r.code is not ReasonCode.LOCAL_TIME for r in reasons):
            # Allowed as it was, but a cooldown moved it off the campaign's local time.
            reasons.append(Reason.local_time(wall, zone.name))
    send_by = trigger_at + campaign.timing.send_by if campaign.timing.send_by is not None else None
    if send_by is not None and allowed_at > send_by:
        return Earliest(None, [*reasons, Reason.send_by_passed(send_by, allowed_at)], Outcome.EXPIRED)
    allowed_at, reasons = spread_release(allowed_at, reasons, profile, campaign, policy, zone, send_by)
    return Earliest(allowed_at, reasons)


class TakenSlots:
    """The instants already taken by sends and higher-priority messages, kept sorted: a cap counts the
    messages in its period with two binary searches, and placing one more message is one insertion, so
    placing many messages stays close to linear."""

    __slots__ = ("_at", "walks")

    def __init__(self, instants: Iterable[datetime] = ()) -> None:
        self._at = sorted(instants)
        #: the walks made from a slot while these stay as they are (see `_walk_on`)
        self.walks: dict[tuple[object, ...], tuple[datetime | None, datetime | None, tuple[Push, ...]]] = {}

    def copy(self) -> TakenSlots:
        copied = TakenSlots()
        copied._at = list(self._at)
        return copied

    def add(self, at: datetime) -> None:
        insort(self._at, at)
        self.walks.clear()

    def count(self, after: datetime, until: datetime) -> int:
        """How many are in (`after`, `until`]."""
        return bisect_right(self._at, until) - bisect_right(self._at, after)

    def count_from(self, start: datetime, end: datetime) -> int:
        """How many are in [`start`, `end`)."""
        return bisect_left(self._at, end) - bisect_left(self._at, start)

    def nth_before(self, until: datetime, n: int) -> datetime:
        """The `n`th instant counting back from `until` (included), 1 being the latest."""
        return self._at[bisect_right(self._at, until) - n]

    def between(self, after: datetime, before: datetime) -> list[datetime]:
        """The instants in (`after`, `before`), earliest first."""
        return self._at[bisect_right(self._at, after) : bisect_left(self._at, before)]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where `place` put a message (None: nowhere) and what moved it; reasons are made when asked for, since
    a message that was outranked tells that instead."""

    at: datetime | None
    #: each cap that pushed the message, and until when; one entry per cap in a row, since a cap that keeps
    #: pushing it only moves its `until`
    pushed: tuple[tuple[FrequencyCap, datetime], ...]
    #: the send-by deadline and the first allowed slot past it, when that is what ended the search
    too_late: tuple[datetime, datetime] | None

    @property
    def capped(self) -> bool:
        return bool(self.pushed)

    def reasons(self, zone: CustomerZone, *, caps: bool = True) -> list[Reason]:
        """Why it landed where it did, or nowhere; with `caps` false, only what the caps did not cause."""
        reasons = [Reason.frequency_cap(cap, zone.name, until) for cap, until in self.pushed] if caps else []
        if self.too_late is not None:
            return [*reasons, Reason.send_by_passed(*self.too_late)]
        if self.at is None and caps:
            return reasons or [Reason.no_free_slot(PLACEMENT_HORIZON)]
        return reasons


def place(
    desired: datetime,
    zone: CustomerZone,
    campaign: Campaign,
    policy: GlobalPolicy,
    taken: TakenSlots,
    send_by: datetime | None,
) -> Placement:
    """The earliest instant at or after `desired` that the send window, quiet hours and every frequency cap
    allow, given the instants already `taken` by sends and higher-priority messages."""
    pushed: list[tuple[FrequencyCap, datetime]] = []
    at, passed = _walk(desired, zone, campaign, policy, taken, send_by, pushed)
    too_late = (send_by, passed) if passed is not None and send_by is not None else None
    return Placement(at, tuple(pushed), too_late)


def free_slot(
    desired: datetime,
    zone: CustomerZone,
    campaign: Campaign,
    policy: GlobalPolicy,
    taken: TakenSlots,
    send_by: datetime | None,
) -> datetime | None:
    """The instant `place` finds, without its reasons: what a message would get if it were alone."""
    return _walk(desired, zone, campaign, policy, taken, send_by, None)[0]


def _walk(
    desired: datetime,
    zone: CustomerZone,
    campaign: Campaign,
    policy: GlobalPolicy,
    taken: TakenSlots,
    send_by: datetime | None,
    pushed: list[tuple[FrequencyCap, datetime]] | None,
) -> tuple[datetime | None, datetime | None]:
    """From slot to allowed slot until every cap has room: the instant found (or None), and the first slot
    past `send_by` when that is what ended the walk. Records in `pushed` the caps that pushed the message;
    without it, stops as soon as a cap pushes past `send_by`, since no slot can be found after that."""
    at = next_slot(desired, campaign, policy, zone, moved=False)
    for step in range(1, _MAX_STEPS + 1):
        if at is None or at - desired > PLACEMENT_HORIZON:
            break
        if send_by is not None and at > send_by:
            return None, at
        moved = _free_after(at, zone, policy.frequency_caps, taken)
        if moved is None:
            return at, None
        later, cap = moved
        if pushed is None:
            if send_by is not None and later > send_by:
                return None, None
        elif pushed and _same_cap(pushed[-1][0], cap):
            pushed[-1] = (cap, later)
        else:
            pushed.append((cap, later))
        at = next_slot(later, campaign, policy, zone, moved=True)
        if pushed is not None and send_by is not None and send_by - desired <= PLACEMENT_HORIZON:
            # Where a cap pushed it, the walk goes on as every other message's that a cap pushed there.
            return _walk_on(at, desired, zone, campaign, policy, taken, send_by, pushed, _MAX_STEPS - step)
    return None, None


def _walk_on(
    at: datetime | None,
    desired: datetime,
    zone: CustomerZone,
    campaign: Campaign,
    policy: GlobalPolicy,
    taken: TakenSlots,
    send_by: datetime,
    pushed: list[tuple[FrequencyCap, datetime]],
    steps: int,
) -> tuple[datetime | None, datetime | None]:
    """`_walk` from the allowed slot `at` a cap pushed the message to, with `steps` left, remembered while the
    slots taken stay as they are: the messages a full cap refuses in a row walk the same days after their
    first. It does not depend on `desired`, since every slot up to `send_by` is within the horizon of it;
    only the first slot past `send_by` may not be, and that is checked here."""
    window = campaign.timing.window
    key = (at, window.key if window else None, campaign.timing.at_local_time, send_by, steps, id(zone))
    walked = taken.walks.get(key)
    if walked is None:
        walked = taken.walks[key] = _walk_rest(at, zone, campaign, policy, taken, send_by, steps)
    found, passed, caps = walked
    if caps:
        if pushed and _same_cap(pushed[-1][0], caps[0][0]):
            del pushed[-1]
        pushed.extend(caps)
    if passed is not None and passed - desired > PLACEMENT_HORIZON:
        return None, None
    return found, passed


def _walk_rest(
    at: datetime | None,
    zone: CustomerZone,
    campaign: Campaign,
    policy: GlobalPolicy,
    taken: TakenSlots,
    send_by: datetime,
    steps: int,
) -> tuple[datetime | None, datetime | None, tuple[Push, ...]]:
    """`_walk`'s loop from `at` for at most `steps`, without the horizon: the instant found, the first slot
    past `send_by` that ended it, and the caps that pushed the message meanwhile."""
    pushed: list[tuple[FrequencyCap, datetime]] = []
    for _ in range(steps):
        if at is None:
            break
        if at > send_by:
            return None, at, tuple(pushed)
        moved = _free_after(at, zone, policy.frequency_caps, taken)
        if moved is None:
            return at, None, tuple(pushed)
        later, cap = moved
        if pushed and _same_cap(pushed[-1][0], cap):
            pushed[-1] = (cap, later)
        else:
            pushed.append((cap, later))
        at = next_slot(later, campaign, policy, zone, moved=True)
    return None, None, tuple(pushed)


def _same_cap(one: FrequencyCap, other: FrequencyCap) -> bool:
    """Whether two caps read the same in a reason (the same cap, or a copy of it)."""
    return one is other or (one.max, one.per) == (other.max, other.per)


def next_slot(
    at: datetime, campaign: Campaign, policy: GlobalPolicy, zone: CustomerZone, *, moved: bool
) -> datetime | None:
    """The first instant at or after `at` inside the campaign's window and outside quiet hours; None if
    there is none.

    With `at_local_time`, an instant that a rule `moved` (a cooldown, a full cap), or one that is not
    allowed, goes to the next allowed occurrence of that local time instead: the marketer asked for 10:00, not
    for the window's opening. An allowed instant nothing moved stays, so a message due now goes now.
    """
    window, quiet, wall = campaign.timing.window, policy.quiet_hours, campaign.timing.at_local_time
    key = (at, window.key if window else None, quiet.key if quiet else None, wall, moved and wall is not None)
    if key in zone.slots:
        return zone.slots[key]
    slot = calendar.next_allowed(at, zone.tz, window, quiet)
    if wall is not None and slot is not None and (slot != at or moved):
        slot = calendar.next_allowed_local_time(at, wall, zone.tz, window, quiet)
    zone.slots[key] = slot
    return slot


def _free_after(
    at: datetime,
    zone: CustomerZone,
    caps: list[FrequencyCap],
    taken: TakenSlots,
) -> tuple[datetime, FrequencyCap] | None:
    """None if a message at `at` respects every cap; else a later instant worth trying, and the cap."""
    for cap in caps:
        if cap.calendar_day:
            start, end = zone.day_bounds(at)
            if taken.count_from(start, end) >= cap.max:
                return end, cap
            continue
        window = cap.period
        if taken.count(at - window, at) >= cap.max:
            return taken.nth_before(at, cap.max) + window, cap
        # Sending at `at` must not overfill the trailing window of a message already placed after it.
        for later in taken.between(at, at + window):
            if taken.count(later - window, later) + 1 > cap.max:
                return later + timedelta(seconds=1), cap
    return None


def unplaceable_outcome(reasons: list[Reason]) -> Outcome:
    """A message with no slot left: suppressed when caps or priorities took the room, expired when its
    own timing (window, cooldown) ran past its send-by deadline."""
    codes = {r.code for r in reasons}
    if codes & {ReasonCode.FREQUENCY_CAP, ReasonCode.OUTRANKED}:
        return Outcome.SUPPRESSED
    return Outcome.EXPIRED if ReasonCode.SEND_BY_PASSED in codes else Outcome.SUPPRESSED
