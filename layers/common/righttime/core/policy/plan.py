"""Planning, when an event arrives: exits first, then triggers, then every pending promotional message placed
again in priority order, so caps are shared by priority and never by arrival order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import JsonValue

from righttime.core import calendar
from righttime.core.attribution import last_touch, order_revenue, remember_holdout
from righttime.core.campaigns import Campaign, Kind
from righttime.core.decisions import (
    Decision,
    MessageStatus,
    OutboundMessage,
    Outcome,
    Reason,
    ReasonCode,
    message_id_for,
)
from righttime.core.events import DUE_EVENT, QueuedEvent, TrackMessage
from righttime.core.global_policy import GlobalPolicy
from righttime.core.holdout import GLOBAL, held_out
from righttime.core.policy.gates import choose_template, eligibility, reentry_blockers
from righttime.core.policy.index import CompiledCampaign, campaign_index
from righttime.core.policy.placement import (
    TakenSlots,
    earliest_for_campaign,
    free_slot,
    place,
    priority_order,
    unplaceable_outcome,
)
from righttime.core.policy.programs import ProgramPlan, StepSend, advance, program_set
from righttime.core.policy.spread import release_offset
from righttime.core.policy.zone import CustomerZone, customer_zone
from righttime.core.profiles import (
    MAX_CREDITS,
    MAX_PENDING_TRANSACTIONAL,
    AwaitingTrigger,
    Credit,
    PendingRef,
    Profile,
    pending_key,
    remember_awaiting,
)
from righttime.core.programs import STEP_TRIGGER, Program
from righttime.core.send_time import (
    MIN_CUSTOMER_EVIDENCE,
    HourCounts,
    choose_send_time,
    customer_hours,
    evidence,
)

ORDER_COMPLETED = "Order Completed"
ORDER_REFUNDED = "Order Refunded"


#: the population's engagement hours, asked for only when a campaign with `send_time: optimal` is planned
PopulationHours = Callable[[], HourCounts | None]


def no_population() -> HourCounts | None:
    return None


#: a message due within this much of now is sent now rather than deferred (Scheduler fires within a minute),
#: when now itself is allowed on the customer's clock (recheck.decide_at_send)
SEND_NOW_TOLERANCE = timedelta(minutes=2)


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


@dataclass(slots=True)
class _Draft:
    """What the message a trigger planned says, kept until it has a slot: the message is built once, with
    its final time, and never for a trigger that finds none."""

    template: str
    category: str | None
    properties: dict[str, JsonValue]


@dataclass(slots=True)
class _Planned:
    """The waiting reference a trigger planned, as placement reads it: the `PendingRef` is built once, with
    its final time, and only for a message that gets a slot."""

    campaign_id: str
    message_id: str
    send_at: datetime
    trigger_at: datetime
    desired_at: datetime
    send_by: datetime | None
    priority: int
    promotional: bool
    dedupe_key: str | None
    generation: int
    key: str

    def stored(self, send_at: datetime, generation: int) -> PendingRef:
        return PendingRef(
            campaign_id=self.campaign_id,
            message_id=self.message_id,
            send_at=send_at,
            trigger_at=self.trigger_at,
            desired_at=self.desired_at,
            send_by=self.send_by,
            priority=self.priority,
            promotional=self.promotional,
            dedupe_key=self.dedupe_key,
            generation=generation,
        )


@dataclass(slots=True)
class _Candidate:
    """A pending message being (re)placed, with what its decision should say."""

    campaign: Campaign
    #: what is waiting already, or what this event's trigger planned
    ref: PendingRef | _Planned
    #: why this event planned it (`triggered` or `trigger_repeated`); None for a message planned earlier
    trigger: Reason | None = None
    #: this event's trigger moves a message that was already waiting (a new generation), not a new one
    repeated: bool = False
    #: what moved the time of a message this event planned: the template choice, then the timing rules
    rules: list[Reason] = field(default_factory=list)
    draft: _Draft | None = None
    event_name: str | None = None
    event_message_id: str | None = None
    #: the reference a message this event planned is stored as, once it has a slot
    stored: PendingRef | None = None

    @property
    def planned_now(self) -> bool:
        """This event triggered it (new or repeated), so its decision is a `scheduled` one."""
        return self.trigger is not None

    @property
    def reasons(self) -> list[Reason]:
        return [self.trigger, *self.rules] if self.trigger is not None else list(self.rules)


def plan_event(
    profile: Profile,
    event: QueuedEvent,
    campaigns: Sequence[Campaign],
    policy: GlobalPolicy,
    now: datetime,
    programs: Sequence[Program] = (),
    before: Profile | None = None,
    population: PopulationHours = no_population,
) -> Plan:
    """Decide what `event` means for every campaign and program, given `profile` as it is *after* the event
    (and `before` as it was, which trait and threshold triggers compare with).

    Exits first (a purchase cancels the pending cart reminder), then the lifecycle stage and the programs
    (`programs.advance`), then triggers; then every pending promotional message, campaigns' and program
    steps' alike, is placed again in priority order, so caps are shared by priority and never by whichever
    event happened to be processed first. `population` gives every customer's engagement hours, for
    `send_time: optimal` when the customer's own are too few (righttime.core.send_time).
    """
    # Planning replaces whole entries of `pending` and of the program state: copies of those keep the input
    # untouched.
    plan = Plan(profile=_planning_copy(profile))
    message = event.message
    track = message if isinstance(message, TrackMessage) and message.event != DUE_EVENT else None
    zone = customer_zone(plan.profile, policy)
    program_set_ = program_set(programs)
    advanced = advance(plan.profile, before, event, program_set_, policy, zone, now)
    if track is None and not advanced.decisions and not advanced.sends and not advanced.ended:
        return plan
    index = campaign_index(campaigns)
    by_id = {**index.by_id, **program_set_.step_by_id} if program_set_.steps else index.by_id
    if track is not None:
        _apply_exits(plan, by_id, event, track.event, zone, now)
    plan.decisions += advanced.decisions
    _close_ended(plan, advanced, zone, now, event)
    candidates: dict[str, _Candidate] = {}
    known = advanced.known  # planning changes only `pending`, which no condition reads
    for send in advanced.sends:
        candidate = _trigger(plan, send.compiled, policy, _StepTrigger.of(send), zone, now, known, population)
        if candidate is not None:
            candidates[candidate.ref.key] = candidate
    if track is not None:
        for compiled in index.triggered_by(track.event):
            if compiled.matches(track.properties):
                trigger = _EventTrigger.of(event, track)
                candidate = _trigger(plan, compiled, policy, trigger, zone, now, known, population)
                if candidate is not None:
                    candidates[candidate.ref.key] = candidate
    _allocate(plan, by_id, policy, zone, now, candidates)
    if track is not None and track.event in (ORDER_COMPLETED, ORDER_REFUNDED):
        priorities = {c.id: c.priority for c in by_id.values()} | {p.id: p.priority for p in programs}
        _attribute(plan, event, track, policy, zone, now, priorities)
    return plan


def _attribute(
    plan: Plan,
    event: QueuedEvent,
    track: TrackMessage,
    policy: GlobalPolicy,
    zone: CustomerZone,
    now: datetime,
    priorities: dict[str, int],
) -> None:
    """Credit an order to its last touch, or take a refunded order's credit back (core.attribution)."""
    profile, props = plan.profile, track.properties
    order_id = str(props.get("order_id") or event.message_id)
    given = props.get("currency")
    currency = given.upper() if isinstance(given, str) and 0 < len(given) <= 8 else None
    reason: Reason | None = None
    if track.event == ORDER_COMPLETED:
        if any(credit.order_id == order_id for credit in profile.credits):
            return  # credited already (the same order sent twice)
        touch = last_touch(profile, event.occurred_at, policy.attribution.window, priorities)
        if touch is None:
            return
        revenue = order_revenue(props)
        reason = Reason.order_credited(order_id, revenue, currency, touch.kind, touch.at, touch.message_id)
        credit = Credit(
            order_id=order_id,
            campaign_id=touch.campaign_id,
            revenue=revenue,
            currency=currency,
            at=event.occurred_at,
            held_out=touch.kind == "held_out",
        )
        profile.credits = [*profile.credits, credit][-MAX_CREDITS:]
        campaign_id, message_id = touch.campaign_id, touch.message_id
    else:
        credited = next((c for c in reversed(profile.credits) if c.order_id == order_id), None)
        if credited is None:
            return
        refunded = order_revenue(props) or credited.revenue
        reason = Reason.credit_refunded(order_id, -abs(refunded), credited.currency, credited.held_out)
        profile.credits = [c for c in profile.credits if c is not credited]
        campaign_id, message_id = credited.campaign_id, None
    plan.decisions.append(
        Decision.made(
            Outcome.ATTRIBUTED,
            [reason],
            customer_id=profile.customer_id,
            campaign_id=campaign_id,
            at=now,
            zone=zone,
            message_id=message_id,
            trigger_event=track.event,
            trigger_message_id=event.message_id,
        )
    )


def _planning_copy(profile: Profile) -> Profile:
    return profile.model_copy(
        update={
            "pending": dict(profile.pending),
            "programs": {k: run.model_copy() for k, run in profile.programs.items()},
            "program_memory": {k: memory.model_copy() for k, memory in profile.program_memory.items()},
        }
    )


@dataclass(frozen=True, slots=True)
class _EventTrigger:
    """What a trigger needs of what started it: a track event, or a program's step."""

    name: str
    message_id: str
    at: datetime
    properties: dict[str, JsonValue]
    #: the `triggered` reason to give instead of the campaign's own (a program step's)
    reason: Reason | None = None

    @classmethod
    def of(cls, event: QueuedEvent, track: TrackMessage) -> _EventTrigger:
        return cls(track.event, event.message_id, event.occurred_at, track.properties)


class _StepTrigger:
    @staticmethod
    def of(send: StepSend) -> _EventTrigger:
        run = send.run
        return _EventTrigger(
            name=STEP_TRIGGER,
            # One message per visit of the step: a loop back to it (after a wait) plans a new message, never
            # the id of the one it sent already, which the message table would refuse to overwrite.
            message_id=f"{run.run_id}@{send.at.isoformat()}",
            at=send.at,
            properties=run.properties,
            reason=Reason.program_step(send.program.id, send.program.version, send.step.id, run.run_id),
        )


def _close_ended(
    plan: Plan, advanced: ProgramPlan, zone: CustomerZone, now: datetime, event: QueuedEvent
) -> None:
    """A run that ended takes its waiting message with it (an exit event's own rule closed it already)."""
    for prefix, reason in advanced.ended:
        for key, ref in sorted(plan.profile.pending.items()):
            if ref.campaign_id.startswith(prefix):
                _cancel(plan, key, ref, reason, zone, now, event, None)


def _cancel(
    plan: Plan,
    key: str,
    ref: PendingRef,
    reason: Reason,
    zone: CustomerZone,
    now: datetime,
    event: QueuedEvent,
    trigger_event: str | None,
) -> None:
    """Cancel the waiting message `ref` (under `key` in the profile's `pending`) for `reason`."""
    decision = Decision.made(
        Outcome.CANCELLED,
        [reason],
        customer_id=plan.profile.customer_id,
        campaign_id=ref.campaign_id,
        at=now,
        zone=zone,
        message_id=ref.message_id,
        trigger_event=trigger_event,
        trigger_message_id=event.message_id,
    )
    plan.close.append((ref.message_id, MessageStatus.CANCELLED, decision))
    plan.decisions.append(decision)
    del plan.profile.pending[key]


def _apply_exits(
    plan: Plan, by_id: dict[str, Campaign], event: QueuedEvent, name: str, zone: CustomerZone, now: datetime
) -> None:
    profile = plan.profile
    for key, ref in sorted(profile.pending.items()):
        campaign = by_id.get(ref.campaign_id)
        if campaign is None or not campaign.exits_on(name) or event.occurred_at < ref.trigger_at:
            continue
        reason = Reason.exited_by(name, event.occurred_at, profile.last_order_id)
        _cancel(plan, key, ref, reason, zone, now, event, name)


def _trigger(
    plan: Plan,
    compiled: CompiledCampaign,
    policy: GlobalPolicy,
    source: _EventTrigger,
    zone: CustomerZone,
    now: datetime,
    known_facts: dict[str, Any],
    population: PopulationHours = no_population,
) -> _Candidate | None:
    profile, campaign = plan.profile, compiled.campaign

    def decision(outcome: Outcome, reasons: list[Reason], message_id: str | None = None) -> Decision:
        return Decision.made(
            outcome,
            reasons,
            customer_id=profile.customer_id,
            campaign_id=campaign.id,
            at=now,
            zone=zone,
            message_id=message_id,
            trigger_event=source.name,
            trigger_message_id=source.message_id,
        )

    blockers = eligibility(profile, campaign, None, now, known_facts, compiled.audience)
    key = campaign.dedupe_value(source.properties)
    new_message_id = message_id_for(profile.customer_id, campaign.id, source.message_id)
    pending = _waiting(profile, campaign, key, new_message_id)
    repeated = pending is not None and (key is None or pending.dedupe_key in (None, key))
    if not repeated:
        blockers += reentry_blockers(profile, campaign, key, now)
        if (
            campaign.kind is Kind.TRANSACTIONAL
            and len(profile.waiting_for(campaign.id)) >= MAX_PENDING_TRANSACTIONAL
        ):
            blockers.append(Reason.pending_limit(MAX_PENDING_TRANSACTIONAL))
    if blockers:
        plan.decisions.append(_refused(profile, source, blockers, decision))
        return None
    if source.reason is None and not repeated:
        # A program's steps are not held out one by one: the program holds customers out at its entry.
        holding = _holdout(profile.customer_id, campaign, policy)
        if holding is not None:
            plan.decisions.append(decision(Outcome.HELD_OUT, [compiled.triggered[source.name], holding]))
            group = str(holding.detail["group"])
            remember_holdout(profile, campaign.id, group, source.at, policy.attribution.window)
            return None
    category = campaign.category_of(source.properties)
    template, bought = choose_template(profile, campaign, category, policy, now)
    if template is None:
        plan.decisions.append(decision(Outcome.SUPPRESSED, _with_step(source, bought)))
        return None

    trigger_at = source.at
    if repeated and pending is not None and pending.trigger_at > trigger_at:
        # An older event delivered late (an offline phone flushing its queue) must not bring the
        # reminder forward: the delay counts from the latest activity.
        trigger_at = pending.trigger_at
    earliest = earliest_for_campaign(profile, campaign, policy, zone, trigger_at, source.name, now)
    rules = bought + earliest.reasons
    if earliest.at is None:
        plan.decisions.append(decision(earliest.outcome or Outcome.SUPPRESSED, _with_step(source, rules)))
        return None
    if source.reason is not None:
        trigger = source.reason
    elif repeated and pending is not None:
        trigger = Reason.trigger_repeated(source.name, pending.send_at)
    else:
        trigger = compiled.triggered[source.name]
    if pending is not None and not repeated:
        # One pending message per campaign: a trigger about something else (another product, another
        # cart) that can be sent replaces the message about the first, which is cancelled rather than left
        # orphaned. A new trigger that is refused above leaves the first one as it was.
        reason = Reason.superseded(campaign.dedupe_key, pending.dedupe_key, key)
        superseded = decision(Outcome.CANCELLED, [reason], message_id=pending.message_id)
        plan.close.append((pending.message_id, MessageStatus.CANCELLED, superseded))
        plan.decisions.append(superseded)
        del profile.pending[pending.key]
        pending = None

    desired, send_by, rules = _desired(
        profile, campaign, policy, zone, earliest.at, trigger_at, now, population, rules
    )
    if pending is not None and repeated:
        message_id, generation = pending.message_id, pending.generation
    else:
        message_id, generation = new_message_id, 0
    promotional = campaign.kind is Kind.PROMOTIONAL
    ref = _Planned(
        campaign_id=campaign.id,
        message_id=message_id,
        send_at=desired,
        trigger_at=trigger_at,
        desired_at=desired,
        send_by=send_by,
        priority=campaign.priority,
        promotional=promotional,
        dedupe_key=key,
        generation=generation,
        key=pending_key(campaign.id, message_id, promotional=promotional),
    )
    return _Candidate(
        campaign,
        ref,
        trigger=trigger,
        repeated=repeated,
        rules=rules,
        draft=_Draft(template, category, source.properties),
        event_name=source.name,
        event_message_id=source.message_id,
    )


def _desired(
    profile: Profile,
    campaign: Campaign,
    policy: GlobalPolicy,
    zone: CustomerZone,
    base: datetime,
    trigger_at: datetime,
    now: datetime,
    population: PopulationHours,
    rules: list[Reason],
) -> tuple[datetime, datetime | None, list[Reason]]:
    """The time the message wants before caps, its send-by deadline, and the reasons that moved it: `base`,
    the time the campaign's own timing gave it, unless `send_time: optimal` moves it to the customer's most
    engaged allowed hour within `max_delay` (righttime.core.send_time)."""
    send_by = trigger_at + campaign.timing.send_by if campaign.timing.send_by is not None else None
    send_time = campaign.timing.send_time
    if send_time is None or campaign.kind is not Kind.PROMOTIONAL:
        return base, send_by, rules
    own = customer_hours((e.at for e in profile.engagement), zone.tz, now)
    found = evidence(own, population() if own.total < MIN_CUSTOMER_EVIDENCE else None)
    window, quiet = campaign.timing.window, policy.quiet_hours
    choice = choose_send_time(base, send_time.max_delay, zone.tz, window, quiet, send_by, found)
    reason = Reason.send_time_optimised(
        choice.hour, found.count, found.fallback, zone.name, send_time.max_delay, choice.at
    )
    at, reasons = choice.at, [*rules, reason]
    if at != base:
        # Everyone who reads at 19:00 would get it in the same minute: spread within the hour, as a release.
        later = at + release_offset(f"{profile.customer_id}\x1f{campaign.id}", policy.release_spread)
        in_reach = later <= base + send_time.max_delay and (send_by is None or later <= send_by)
        same_hour = later.astimezone(zone.tz).hour == choice.hour
        if later != at and in_reach and same_hour and calendar.allowed(later, zone.tz, window, quiet):
            at, reasons = later, [*reasons, Reason.release_spread(policy.release_spread, later - choice.at)]
    return at, send_by, reasons


def _holdout(customer_id: str, campaign: Campaign, policy: GlobalPolicy) -> Reason | None:
    """Why the customer is held out of this promotion (its own holdout, or the global control group), or
    None."""
    if campaign.kind is not Kind.PROMOTIONAL:
        return None
    if held_out(GLOBAL, customer_id, policy.control_group):
        assert policy.control_group is not None
        return Reason.holdout(GLOBAL, policy.control_group)
    if held_out(campaign.id, customer_id, campaign.holdout):
        assert campaign.holdout is not None
        return Reason.holdout(campaign.id, campaign.holdout)
    return None


def _refused(
    profile: Profile,
    source: _EventTrigger,
    blockers: list[Reason],
    decision: Callable[[Outcome, list[Reason]], Decision],
) -> Decision:
    """The decision refusing a trigger. An anonymous visitor refused for having no address yet keeps the
    trigger: a merge into a known profile plans it again (righttime.core.identity)."""
    if blockers[0].code is ReasonCode.NO_EMAIL and source.reason is None and not profile.known:
        awaiting = AwaitingTrigger(
            event=source.name, message_id=source.message_id, at=source.at, properties=source.properties
        )
        remember_awaiting(profile, awaiting)
    return decision(Outcome.SUPPRESSED, _with_step(source, blockers))


def _with_step(source: _EventTrigger, reasons: list[Reason]) -> list[Reason]:
    """A program step's refusal names the step first: which program, version, step and run it was."""
    return [source.reason, *reasons] if source.reason is not None else reasons


def _waiting(profile: Profile, campaign: Campaign, key: str | None, message_id: str) -> PendingRef | None:
    """The waiting message that a trigger of `campaign` about `key` (its `dedupe_key` value), which would
    plan `message_id`, moves or supersedes.

    A promotion has one waiting message, whatever it is about. A transactional campaign has one per trigger:
    a trigger moves only its own message (the same event again) or the one about the same value (the same
    order sent twice), and is otherwise a message of its own, so a second order never takes the first one's
    receipt away.
    """
    if campaign.kind is Kind.PROMOTIONAL:
        return profile.pending.get(campaign.id)
    return next(
        (
            ref
            for ref in profile.waiting_for(campaign.id)
            if ref.message_id == message_id or (key is not None and ref.dedupe_key == key)
        ),
        None,
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
    for key, waiting in profile.pending.items():
        if key not in candidates and waiting.campaign_id in by_id:
            candidates[key] = _Candidate(by_id[waiting.campaign_id], waiting)
    sends = TakenSlots(s.at for s in profile.sends if s.promotional)
    order = sorted(
        candidates.values(),
        key=lambda c: priority_order(c.ref.priority, c.campaign.id, c.ref.desired_at or c.ref.send_at),
    )
    # Only promotions compete for cap slots: a receipt or a password reset takes none and outranks nothing.
    taken = sends.copy()  # the sends, and the slots placed so far
    placed: list[str] = []
    for candidate in order:
        ref, campaign = candidate.ref, candidate.campaign
        if not candidate.planned_now and ref.send_at - now <= SEND_NOW_TOLERANCE:
            if ref.promotional:
                taken.add(ref.send_at)  # firing about now: the sender decides it
                placed.append(campaign.id)
            continue
        desired = max(ref.desired_at or ref.send_at, now)
        at: datetime | None = desired
        extra: list[Reason] = []
        if ref.promotional:
            placement = place(desired, zone, campaign, policy, taken, ref.send_by)
            at, moved = placement.at, placement.at is None or placement.capped
            # Only a slot taken by a higher priority can outrank; without one, the result is the same. A
            # message no cap moved has the slot it would have alone: fewer taken slots never fill a cap.
            alone = free_slot(desired, zone, campaign, policy, sends, ref.send_by) if placed and moved else at
            if at != alone:
                # Unplaceable: say what else stood in the way; placed later: the outranking says it all.
                extra = [Reason.outranked(placed, alone), *placement.reasons(zone, caps=False)]
            else:
                extra = placement.reasons(zone)
        if at is None:
            _refuse_pending(plan, candidate, extra, zone, now)
            continue
        if not candidate.planned_now and at <= ref.send_at:
            at = ref.send_at  # a freed slot does not pull a planned message earlier: fewer surprises
        if ref.promotional:
            taken.add(at)
            placed.append(campaign.id)
        _record_placement(plan, candidate, at, extra, zone, now)
    # What this event planned is stored in the order it was triggered, whatever order placed it.
    for key, candidate in fresh.items():
        if candidate.stored is not None:
            profile.pending[key] = candidate.stored


def _record_placement(
    plan: Plan, candidate: _Candidate, at: datetime, extra: list[Reason], zone: CustomerZone, now: datetime
) -> None:
    ref, profile, campaign_id = candidate.ref, plan.profile, candidate.campaign.id
    if candidate.planned_now:
        draft = candidate.draft
        assert (
            draft is not None and candidate.event_name is not None and candidate.event_message_id is not None
        )
        # A repeated trigger moves an existing message: a new generation gets its own schedule.
        generation = ref.generation + 1 if candidate.repeated else ref.generation
        reasons = candidate.reasons + extra
        plan.schedule.append(
            OutboundMessage.planned(
                message_id=ref.message_id,
                customer_id=profile.customer_id,
                campaign_id=campaign_id,
                kind=candidate.campaign.kind,
                template=draft.template,
                send_at=at,
                created_at=now,
                updated_at=now,
                trigger_event=candidate.event_name,
                trigger_message_id=candidate.event_message_id,
                trigger_at=ref.trigger_at,
                to=profile.email,
                priority=ref.priority,
                desired_at=ref.desired_at,
                send_by=ref.send_by,
                dedupe_key=ref.dedupe_key,
                generation=generation,
                category=draft.category,
                trigger_properties=draft.properties,
                reasons=reasons,
                timezone=zone.name,
            )
        )
        assert isinstance(ref, _Planned)
        candidate.stored = ref.stored(at, generation)
        plan.decisions.append(
            Decision.made(
                Outcome.SCHEDULED,
                reasons,
                customer_id=profile.customer_id,
                campaign_id=campaign_id,
                at=now,
                zone=zone,
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
    assert isinstance(ref, PendingRef)  # planned by an earlier event: stored on the profile
    generation = ref.generation + 1
    profile.pending[ref.key] = ref.model_copy(update={"send_at": at, "generation": generation})
    plan.move.append(Move(ref.message_id, at, generation, extra))
    plan.decisions.append(
        Decision.made(
            Outcome.DEFERRED,
            extra,
            customer_id=profile.customer_id,
            campaign_id=campaign_id,
            at=now,
            zone=zone,
            message_id=ref.message_id,
            send_at=at,
        )
    )


def _refuse_pending(
    plan: Plan, candidate: _Candidate, reasons: list[Reason], zone: CustomerZone, now: datetime
) -> None:
    ref, profile = candidate.ref, plan.profile
    outcome = unplaceable_outcome(reasons)
    # A message this event planned is not stored yet; the one it repeats (the same key) goes with it.
    profile.pending.pop(ref.key, None)
    decision = Decision.made(
        outcome,
        candidate.rules + reasons,
        customer_id=profile.customer_id,
        campaign_id=candidate.campaign.id,
        at=now,
        zone=zone,
        message_id=None if candidate.planned_now else ref.message_id,
        trigger_event=candidate.event_name,
        trigger_message_id=candidate.event_message_id,
    )
    plan.decisions.append(decision)
    if not candidate.planned_now:
        plan.close.append((ref.message_id, MessageStatus(outcome.value), decision))
