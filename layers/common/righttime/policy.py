"""The right-time policy: pure functions from (profile, event, campaigns, global policy, now) to explained
decisions. "Real time is not always the right time": context decides whether and when.

The same code runs twice: when an event is evaluated (`plan_event`), and again when a message's schedule
fires (`decide_at_send`), because context changes in between (a purchase in store, an unsubscribe, a cap
filled by another message, a delay that now lands in quiet hours).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import JsonValue

from righttime import timing
from righttime.campaigns import Campaign, Kind, OutsideWindow, ReentryMode
from righttime.conditions import first_failing
from righttime.decisions import (
    Decision,
    MessageStatus,
    OutboundMessage,
    Outcome,
    Reason,
    ReasonCode,
    message_id_for,
)
from righttime.durations import format_duration
from righttime.events import QueuedEvent, TrackMessage
from righttime.global_policy import FrequencyCap, GlobalPolicy
from righttime.profiles import PendingRef, Profile, facts

ORDER_COMPLETED = "Order Completed"
#: a schedule that fires this much before its message's send_at is stale (the message moved since)
STALE_FIRE_TOLERANCE = timedelta(minutes=5)
#: a message due within this much of now is sent now rather than deferred (Scheduler fires within a minute)
SEND_NOW_TOLERANCE = timedelta(minutes=2)
#: the furthest ahead the policy looks for a free slot before giving up
PLACEMENT_HORIZON = timedelta(days=60)
_MAX_STEPS = 500


@dataclass(frozen=True)
class CustomerZone:
    tz: ZoneInfo
    name: str
    source: str


def customer_zone(profile: Profile, policy: GlobalPolicy) -> CustomerZone:
    """The zone a person's day is judged in: their `timezone` trait, else the latest event's
    `context.timezone`, else the policy's default."""
    for name, source in ((profile.timezone, "trait"), (profile.context_timezone, "context")):
        tz = timing.zone(name)
        if tz is not None and name is not None:
            return CustomerZone(tz, name, source)
    return CustomerZone(
        timing.zone(policy.default_timezone) or ZoneInfo("UTC"), policy.default_timezone, "default"
    )


# -- planning, when an event arrives -------------------------------------------------------------------------


@dataclass
class Plan:
    """What one event changes: the profile to store, decisions to record, messages to write or settle."""

    profile: Profile
    decisions: list[Decision] = field(default_factory=list)
    schedule: list[OutboundMessage] = field(default_factory=list)
    #: (message id, final status, decision) for pending messages settled by this event
    close: list[tuple[str, MessageStatus, Decision]] = field(default_factory=list)
    #: pending messages that keep everything but move to a later instant
    move: list[Move] = field(default_factory=list)


@dataclass(frozen=True)
class Move:
    message_id: str
    send_at: datetime
    generation: int
    reasons: list[Reason]


@dataclass
class _Candidate:
    """A pending message being (re)placed, with what its decision should say."""

    campaign: Campaign
    ref: PendingRef
    reasons: list[Reason]
    is_new: bool
    message: OutboundMessage | None = None
    event_name: str | None = None
    event_message_id: str | None = None


def plan_event(
    profile: Profile,
    event: QueuedEvent,
    campaigns: Sequence[Campaign],
    policy: GlobalPolicy,
    now: datetime,
) -> Plan:
    """Decide what `event` means for every campaign, given `profile` as it is *after* the event.

    Exits first (a purchase cancels the pending cart reminder), then triggers, then every pending
    promotional message is placed again in priority order, so caps are shared by priority and never by
    whichever event happened to be processed first.
    """
    plan = Plan(profile=profile.model_copy(deep=True))
    message = event.message
    if not isinstance(message, TrackMessage):
        return plan
    by_id = {campaign.id: campaign for campaign in campaigns}
    zone = customer_zone(plan.profile, policy)
    _apply_exits(plan, by_id, event, message.event, zone, now)
    candidates: dict[str, _Candidate] = {}
    for campaign in sorted(campaigns, key=lambda c: (-c.priority, c.id)):
        if campaign.is_triggered_by(message.event, message.properties):
            candidate = _trigger(plan, campaign, policy, event, message, zone, now)
            if candidate is not None:
                candidates[campaign.id] = candidate
    _allocate(plan, by_id, policy, zone, now, candidates)
    return plan


def _decision(
    profile: Profile,
    campaign_id: str,
    outcome: Outcome,
    reasons: list[Reason],
    now: datetime,
    zone: CustomerZone,
    **extra: Any,
) -> Decision:
    return Decision(
        customer_id=profile.customer_id,
        campaign_id=campaign_id,
        outcome=outcome,
        decided_at=now,
        reasons=reasons,
        timezone=zone.name,
        timezone_source=zone.source,
        **extra,
    )


def _apply_exits(
    plan: Plan, by_id: dict[str, Campaign], event: QueuedEvent, name: str, zone: CustomerZone, now: datetime
) -> None:
    for campaign_id, ref in sorted(plan.profile.pending.items()):
        campaign = by_id.get(campaign_id)
        if campaign is None or not campaign.exits_on(name) or event.occurred_at < ref.trigger_at:
            continue
        if name == ORDER_COMPLETED:
            reason = Reason(
                code=ReasonCode.CONVERTED,
                detail={
                    "event": name,
                    "order_id": plan.profile.last_order_id,
                    "at": event.occurred_at.isoformat(),
                },
            )
        else:
            reason = Reason(
                code=ReasonCode.EXIT_EVENT, detail={"event": name, "at": event.occurred_at.isoformat()}
            )
        decision = _decision(
            plan.profile,
            campaign_id,
            Outcome.CANCELLED,
            [reason],
            now,
            zone,
            message_id=ref.message_id,
            trigger_event=name,
            trigger_message_id=event.message_id,
        )
        plan.close.append((ref.message_id, MessageStatus.CANCELLED, decision))
        plan.decisions.append(decision)
        del plan.profile.pending[campaign_id]


def _trigger(
    plan: Plan,
    campaign: Campaign,
    policy: GlobalPolicy,
    event: QueuedEvent,
    message: TrackMessage,
    zone: CustomerZone,
    now: datetime,
) -> _Candidate | None:
    profile = plan.profile

    def refuse(outcome: Outcome, reasons: list[Reason]) -> None:
        plan.decisions.append(
            _decision(
                profile,
                campaign.id,
                outcome,
                reasons,
                now,
                zone,
                trigger_event=message.event,
                trigger_message_id=event.message_id,
            )
        )

    blockers = eligibility(profile, campaign, None, now)
    key = campaign.dedupe_value(message.properties)
    pending = profile.pending.get(campaign.id)
    repeated = pending is not None and (key is None or pending.dedupe_key in (None, key))
    if not repeated:
        blockers += reentry_blockers(profile, campaign, key, now)
    if blockers:
        refuse(Outcome.SUPPRESSED, blockers)
        return None
    category = campaign.category_of(message.properties)
    template, bought = choose_template(profile, campaign, category, policy, now)
    if template is None:
        refuse(Outcome.SUPPRESSED, bought)
        return None

    trigger_at = event.occurred_at
    if repeated and pending is not None and pending.trigger_at > trigger_at:
        # An older event delivered late (an offline phone flushing its queue) must not bring the
        # reminder forward: the delay counts from the latest activity.
        trigger_at = pending.trigger_at
    earliest = earliest_for_campaign(profile, campaign, policy, zone, trigger_at, message.event, now)
    reasons = [
        Reason(
            code=ReasonCode.TRIGGERED,
            detail={"event": message.event, "delay": format_duration(campaign.timing.delay)},
        )
    ]
    if repeated and pending is not None:
        reasons = [
            Reason(
                code=ReasonCode.TRIGGER_REPEATED,
                detail={"event": message.event, "previous_send_at": pending.send_at.isoformat()},
            )
        ]
    reasons += bought + earliest.reasons
    if earliest.at is None:
        refuse(earliest.outcome or Outcome.SUPPRESSED, reasons[1:] or reasons)
        return None
    if pending is not None and not repeated:
        # One pending message per campaign: a trigger about something else (another product, another
        # cart) that can be sent replaces the message about the first, which is cancelled rather than left
        # orphaned. A new trigger that is refused above leaves the first one as it was.
        superseded = _decision(
            profile,
            campaign.id,
            Outcome.CANCELLED,
            [
                Reason(
                    code=ReasonCode.SUPERSEDED,
                    detail={"key": campaign.dedupe_key, "previous": pending.dedupe_key, "by": key},
                )
            ],
            now,
            zone,
            message_id=pending.message_id,
            trigger_event=message.event,
            trigger_message_id=event.message_id,
        )
        plan.close.append((pending.message_id, MessageStatus.CANCELLED, superseded))
        plan.decisions.append(superseded)
        del profile.pending[campaign.id]
        pending = None

    send_by = trigger_at + campaign.timing.send_by if campaign.timing.send_by is not None else None
    if pending is not None and repeated:
        message_id, generation = pending.message_id, pending.generation
    else:
        message_id, generation = message_id_for(profile.customer_id, campaign.id, event.message_id), 0
    ref = PendingRef(
        message_id=message_id,
        send_at=earliest.at,
        trigger_at=trigger_at,
        desired_at=earliest.at,
        send_by=send_by,
        priority=campaign.priority,
        promotional=campaign.kind is Kind.PROMOTIONAL,
        dedupe_key=key,
        generation=generation,
    )
    outbound = OutboundMessage(
        message_id=message_id,
        customer_id=profile.customer_id,
        campaign_id=campaign.id,
        kind=campaign.kind,
        template=template,
        send_at=earliest.at,
        created_at=now,
        updated_at=now,
        trigger_event=message.event,
        trigger_message_id=event.message_id,
        trigger_at=trigger_at,
        to=profile.email,
        priority=campaign.priority,
        desired_at=earliest.at,
        send_by=send_by,
        dedupe_key=key,
        generation=generation,
        category=category,
        trigger_properties=message.properties,
    )
    profile.pending[campaign.id] = ref
    return _Candidate(
        campaign,
        ref,
        reasons,
        is_new=True,
        message=outbound,
        event_name=message.event,
        event_message_id=event.message_id,
    )


def _allocate(
    plan: Plan,
    by_id: dict[str, Campaign],
    policy: GlobalPolicy,
    zone: CustomerZone,
    now: datetime,
    fresh: dict[str, _Candidate],
) -> None:
    """Place every pending message in priority order; record what moved and why."""
    profile = plan.profile
    candidates = dict(fresh)
    for campaign_id, ref in profile.pending.items():
        if campaign_id not in candidates and campaign_id in by_id:
            candidates[campaign_id] = _Candidate(by_id[campaign_id], ref, [], is_new=False)
    taken = [s.at for s in profile.sends if s.promotional]
    order = sorted(
        candidates.values(), key=lambda c: (-c.ref.priority, c.ref.desired_at or c.ref.send_at, c.campaign.id)
    )
    placed: list[tuple[datetime, str]] = []
    for candidate in order:
        ref, campaign = candidate.ref, candidate.campaign
        if not candidate.is_new and ref.send_at - now <= SEND_NOW_TOLERANCE:
            placed.append((ref.send_at, campaign.id))  # firing about now: the sender decides it
            continue
        desired = max(ref.desired_at or ref.send_at, now)
        at: datetime | None = desired
        extra: list[Reason] = []
        if ref.promotional:
            at, extra = place(desired, zone, campaign, policy, [*taken, *(t for t, _ in placed)], ref.send_by)
            # Only a slot taken by a higher priority can outrank; without one, the result is the same.
            alone = place(desired, zone, campaign, policy, taken, ref.send_by)[0] if placed else at
            if at != alone:
                extra = [
                    Reason(
                        code=ReasonCode.OUTRANKED,
                        detail={
                            "by": sorted({cid for _, cid in placed}),
                            "wanted": alone.isoformat() if alone else None,
                        },
                    )
                ] + ([r for r in extra if r.code is not ReasonCode.FREQUENCY_CAP] if at is None else [])
        if at is None:
            _refuse_pending(plan, candidate, extra, zone, now)
            continue
        if not candidate.is_new and at <= ref.send_at:
            at = ref.send_at  # a freed slot does not pull a planned message earlier: fewer surprises
        placed.append((at, campaign.id))
        _record_placement(plan, candidate, at, extra, zone, now)


def _record_placement(
    plan: Plan, candidate: _Candidate, at: datetime, extra: list[Reason], zone: CustomerZone, now: datetime
) -> None:
    ref, profile, campaign_id = candidate.ref, plan.profile, candidate.campaign.id
    if candidate.is_new:
        assert candidate.message is not None
        # A repeated trigger moves an existing message: a new generation gets its own schedule.
        repeated = candidate.reasons[0].code is ReasonCode.TRIGGER_REPEATED
        generation = ref.generation + 1 if repeated else ref.generation
        reasons = candidate.reasons + extra
        plan.schedule.append(
            candidate.message.model_copy(update={"send_at": at, "generation": generation, "reasons": reasons})
        )
        profile.pending[campaign_id] = ref.model_copy(update={"send_at": at, "generation": generation})
        plan.decisions.append(
            _decision(
                profile,
                campaign_id,
                Outcome.SCHEDULED,
                reasons,
                now,
                zone,
                message_id=ref.message_id,
                send_at=at,
                trigger_event=candidate.event_name,
                trigger_message_id=candidate.event_message_id,
            )
        )
        return
    if at == ref.send_at:
        return
    # A higher-priority message took this one's slot: it waits for the next one.
    generation = ref.generation + 1
    profile.pending[campaign_id] = ref.model_copy(update={"send_at": at, "generation": generation})
    plan.move.append(Move(ref.message_id, at, generation, extra))
    plan.decisions.append(
        _decision(
            profile, campaign_id, Outcome.DEFERRED, extra, now, zone, message_id=ref.message_id, send_at=at
        )
    )


def _refuse_pending(
    plan: Plan, candidate: _Candidate, reasons: list[Reason], zone: CustomerZone, now: datetime
) -> None:
    ref, profile = candidate.ref, plan.profile
    outcome = unplaceable_outcome(reasons)
    del profile.pending[candidate.campaign.id]
    decision = _decision(
        profile,
        candidate.campaign.id,
        outcome,
        candidate.reasons[1:] + reasons,
        now,
        zone,
        message_id=None if candidate.is_new else ref.message_id,
        trigger_event=candidate.event_name,
        trigger_message_id=candidate.event_message_id,
    )
    plan.decisions.append(decision)
    if not candidate.is_new:
        plan.close.append((ref.message_id, MessageStatus(outcome.value), decision))


def unplaceable_outcome(reasons: list[Reason]) -> Outcome:
    """A message with no slot left: suppressed when caps or priorities took the room, expired when its
    own timing (window, cooldown) ran past its send-by deadline."""
    codes = {r.code for r in reasons}
    if codes & {ReasonCode.FREQUENCY_CAP, ReasonCode.OUTRANKED}:
        return Outcome.SUPPRESSED
    return Outcome.EXPIRED if ReasonCode.SEND_BY_PASSED in codes else Outcome.SUPPRESSED


# -- the rules ------------------------------------------------------------------------------------------


def eligibility(profile: Profile, campaign: Campaign, suppressed: str | None, now: datetime) -> list[Reason]:
    """Reasons `profile` may not receive `campaign` at all; empty when it may.

    `suppressed` is the suppression-list reason for the profile's address, when the caller looked it up.
    """
    if not profile.email:
        return [Reason(code=ReasonCode.NO_EMAIL)]
    reasons: list[Reason] = []
    if suppressed is not None:
        reasons.append(Reason(code=ReasonCode.ADDRESS_SUPPRESSED, detail={"suppression": suppressed}))
    if campaign.kind is Kind.PROMOTIONAL and profile.unsubscribed:
        reasons.append(Reason(code=ReasonCode.UNSUBSCRIBED))
    failing = first_failing(campaign.audience, facts(profile, now))
    if failing is not None:
        reasons.append(Reason(code=ReasonCode.AUDIENCE, detail={"condition": failing.describe()}))
    return reasons


def reentry_blockers(profile: Profile, campaign: Campaign, key: str | None, now: datetime) -> list[Reason]:
    """Re-entry and de-duplication: has this customer had this campaign (for this key) too recently?"""
    history = profile.history.get(campaign.id)
    if history is None:
        return []
    if key is not None and key in history.keys:
        return [Reason(code=ReasonCode.DUPLICATE_KEY, detail={"key": campaign.dedupe_key, "value": key})]
    last = history.last_sent_at
    if last is None:
        return []
    rule = campaign.reentry
    blocked = (
        rule.mode is ReentryMode.ONCE
        or (rule.mode is ReentryMode.ONCE_PER and rule.period is not None and now - last < rule.period)
        or (rule.mode is ReentryMode.EVERY_TIME and now - last < rule.min_interval)
    )
    if not blocked:
        return []
    return [
        Reason(code=ReasonCode.REENTRY, detail={"mode": rule.mode.value, "last_sent_at": last.isoformat()})
    ]


def choose_template(
    profile: Profile, campaign: Campaign, category: str | None, policy: GlobalPolicy, now: datetime
) -> tuple[str | None, list[Reason]]:
    """The template to send, given what the customer recently bought; None (with the reason) when the
    message would be about a category they just bought and the campaign has no cross-sell variant."""
    if campaign.kind is Kind.TRANSACTIONAL or policy.recent_purchase is None or category is None:
        return campaign.template, []
    bought_at = profile.recent_categories.get(category)
    if bought_at is None or now - bought_at > policy.recent_purchase.window:
        return campaign.template, []
    detail: dict[str, JsonValue] = {"category": category, "bought_at": bought_at.isoformat()}
    if campaign.cross_sell is not None:
        return campaign.cross_sell.template, [
            Reason(
                code=ReasonCode.CROSS_SELL_VARIANT,
                detail={**detail, "template": campaign.cross_sell.template},
            )
        ]
    return None, [Reason(code=ReasonCode.RECENTLY_BOUGHT, detail=detail)]


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
        local = timing.next_local_time(at, campaign.timing.at_local_time, zone.tz)
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
    allowed_at = timing.next_allowed(at, zone.tz, window, quiet)
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
        at = timing.next_allowed(at, zone.tz, campaign.timing.window, policy.quiet_hours) if at else None
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
            start, end = timing.local_day_bounds(at, zone.tz)
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


# -- re-checking, when a schedule fires -----------------------------------------------------------------


class Action(StrEnum):
    SEND = "send"
    DEFER = "defer"
    CLOSE = "close"
    IGNORE = "ignore"


@dataclass(frozen=True)
class SendDecision:
    """What the sender should do with a message whose schedule fired."""

    action: Action
    outcome: Outcome | None = None
    reasons: tuple[Reason, ...] = ()
    at: datetime | None = None
    template: str | None = None
    zone: CustomerZone | None = None


def decide_at_send(
    profile: Profile,
    message: OutboundMessage,
    campaign: Campaign | None,
    policy: GlobalPolicy,
    suppressed: str | None,
    now: datetime,
) -> SendDecision:
    """Apply the policy again at fire time: send now, defer, or close the message with an outcome."""
    if message.status is not MessageStatus.PENDING or message.send_at - now > STALE_FIRE_TOLERANCE:
        return SendDecision(Action.IGNORE)
    zone = customer_zone(profile, policy)

    def close(outcome: Outcome, reasons: list[Reason]) -> SendDecision:
        return SendDecision(Action.CLOSE, outcome, tuple(reasons), zone=zone)

    if campaign is None or not campaign.enabled:
        return close(
            Outcome.CANCELLED,
            [Reason(code=ReasonCode.CAMPAIGN_DISABLED, detail={"campaign": message.campaign_id})],
        )
    if (
        campaign.exits_on(ORDER_COMPLETED)
        and profile.last_order_at is not None
        and profile.last_order_at >= message.trigger_at
    ):
        return close(
            Outcome.CANCELLED,
            [
                Reason(
                    code=ReasonCode.CONVERTED,
                    detail={"order_id": profile.last_order_id, "at": profile.last_order_at.isoformat()},
                )
            ],
        )
    exit_condition = next((c for c in campaign.exit.conditions if c.holds(facts(profile, now))), None)
    if exit_condition is not None:
        return close(
            Outcome.CANCELLED,
            [Reason(code=ReasonCode.EXIT_CONDITION, detail={"condition": exit_condition.describe()})],
        )
    blockers = eligibility(profile, campaign, suppressed, now)
    if blockers:
        return close(Outcome.SUPPRESSED, blockers)
    template, bought = choose_template(profile, campaign, _message_category(campaign, message), policy, now)
    if template is None:
        return close(Outcome.SUPPRESSED, bought)
    if campaign.kind is Kind.TRANSACTIONAL:
        return SendDecision(Action.SEND, template=template, zone=zone)
    if message.send_by is not None and now > message.send_by:
        return close(
            Outcome.EXPIRED,
            [
                Reason(
                    code=ReasonCode.SEND_BY_PASSED,
                    detail={"send_by": message.send_by.isoformat(), "at": now.isoformat()},
                )
            ],
        )

    earliest = earliest_for_campaign(
        profile, campaign, policy, zone, message.trigger_at, message.trigger_event, now
    )
    if earliest.at is None:
        return close(earliest.outcome or Outcome.SUPPRESSED, earliest.reasons)
    others = [
        ref.send_at
        for cid, ref in profile.pending.items()
        if cid != campaign.id and ref.promotional and ref.priority > campaign.priority
    ]
    taken = [s.at for s in profile.sends if s.promotional] + others
    at, capped = place(earliest.at, zone, campaign, policy, taken, message.send_by)
    if at is None:
        return close(unplaceable_outcome(capped), earliest.reasons + capped)
    if at - now <= SEND_NOW_TOLERANCE:
        return SendDecision(Action.SEND, reasons=tuple(bought), template=template, zone=zone)
    moved = [
        r for r in earliest.reasons + capped if r.code not in (ReasonCode.MIN_DELAY, ReasonCode.LOCAL_TIME)
    ]
    return SendDecision(Action.DEFER, Outcome.DEFERRED, tuple(moved), at=at, template=template, zone=zone)


def _message_category(campaign: Campaign, message: OutboundMessage) -> str | None:
    # The category was fixed when the message was planned (from the trigger's properties, or the campaign).
    return campaign.category if campaign.category_property is None else message.category


__all__ = ["Plan", "SendDecision", "decide_at_send", "eligibility", "place", "plan_event"]
