"""Programs, when an event arrives or time passes (a due event): the lifecycle stage first, then each run the
customer is in (exits, awaited events, waits that are over), then each program's trigger, and finally when
something is next due. Pure: `advance` changes the profile it is given and returns what else to do.

A send step is not decided here: `advance` hands it back as a `StepSend`, and planning decides it with every
campaign, in priority order, through the same policy (`plan.plan_event`). docs/programs.md explains the rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import JsonValue

from righttime.core import calendar
from righttime.core.addresses import usable_address
from righttime.core.attribution import remember_holdout
from righttime.core.campaigns import Campaign, Kind, ReentryMode
from righttime.core.conditions import lookup
from righttime.core.decisions import Decision, Outcome, Reason
from righttime.core.events import DUE_EVENT, IdentifyMessage, QueuedEvent, TrackMessage
from righttime.core.global_policy import GlobalPolicy
from righttime.core.holdout import GLOBAL, held_out
from righttime.core.lifecycle import next_change, transition
from righttime.core.policy.gates import Audience
from righttime.core.policy.index import CompiledCampaign
from righttime.core.policy.zone import CustomerZone
from righttime.core.profiles import (
    MAX_RUN_PROPERTIES_BYTES,
    MAX_STAGE_HISTORY,
    Profile,
    ProgramMemory,
    ProgramRun,
    StageChange,
    facts,
)
from righttime.core.programs import (
    STEP_SEPARATOR,
    AnyTrigger,
    BranchStep,
    DateTrigger,
    ExitStep,
    Program,
    SendStep,
    WaitForStep,
    WaitStep,
    latest,
    step_campaigns,
)
from righttime.core.recurrence import Fire, next_fire, occurrence_key

#: a date that fired more than this long ago is missed, not sent late (a sweep that stopped for days)
DATE_GRACE = timedelta(days=1)
ORDER_COMPLETED = "Order Completed"
#: steps one advance may run for one customer (validation makes every loop wait; this is a second guard)
_MAX_MOVES = 200


@dataclass(frozen=True, slots=True)
class ProgramSet:
    """The deployed programs as planning reads them, built once per program set."""

    programs: tuple[Program, ...]
    #: every deployed version, by (id, version)
    versions: dict[tuple[str, int], Program]
    #: the version new customers enter, by id (enabled ones only)
    entered: dict[str, Program]
    #: the step campaigns of every version, compiled, by id
    steps: dict[str, CompiledCampaign]
    has_stage_trigger: bool

    @classmethod
    def of(cls, programs: Sequence[Program]) -> ProgramSet:
        steps = {
            campaign.id: CompiledCampaign.of(campaign)
            for program in programs
            for campaign in step_campaigns(program)
        }
        entered = {pid: p for pid, p in latest(list(programs)).items() if p.enabled}
        return cls(
            programs=tuple(programs),
            versions={(p.id, p.version): p for p in programs},
            entered=entered,
            steps=steps,
            has_stage_trigger=any(
                alternative.stage is not None
                for p in entered.values()
                for alternative in p.trigger.alternatives
            ),
        )

    @property
    def step_by_id(self) -> dict[str, Campaign]:
        return {campaign_id: compiled.campaign for campaign_id, compiled in self.steps.items()}


_sets: dict[tuple[int, ...], ProgramSet] = {}


def program_set(programs: Sequence[Program]) -> ProgramSet:
    """The set of `programs`, built on first use (programs are frozen: the same objects index the same
    way)."""
    key = tuple(map(id, programs))
    found = _sets.get(key)
    if found is None:
        if len(_sets) >= 8:
            del _sets[next(iter(_sets))]
        found = _sets[key] = ProgramSet.of(programs)
    return found


@dataclass(slots=True)
class StepSend:
    """A send step reached: planning decides its message like a campaign's."""

    program: Program
    step: SendStep
    run: ProgramRun
    compiled: CompiledCampaign
    #: when the step began: its message's trigger time (delay and timing rules count from it)
    at: datetime


@dataclass
class ProgramPlan:
    decisions: list[Decision] = field(default_factory=list)
    sends: list[StepSend] = field(default_factory=list)
    #: runs that were ended early (an exit event or condition, a retired version), with why: their waiting
    #: messages are cancelled (step campaign id prefix, reason). A run that completes or reaches an exit step
    #: is not here: what it planned still goes.
    ended: list[tuple[str, Reason]] = field(default_factory=list)
    #: the customer's facts at now, with the stage this evaluation recorded (what conditions read)
    known: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Context:
    profile: Profile
    programs: ProgramSet
    zone: CustomerZone
    now: datetime
    result: ProgramPlan
    event: QueuedEvent | None
    known: dict[str, Any]
    #: how far time has run for waits and timeouts: the event's instant while runs catch up to it, then now
    horizon: datetime
    #: the global control group's share (policy.yaml's `control_group`), or None
    control_group: Decimal | None = None
    #: how long a holdout is remembered as a touch for attribution
    attribution_window: timedelta = timedelta(days=5)

    def decide(
        self, outcome: Outcome, reasons: list[Reason], campaign_id: str, *, send_at: datetime | None = None
    ) -> None:
        message = self.event.message if self.event is not None else None
        self.result.decisions.append(
            Decision.made(
                outcome,
                reasons,
                customer_id=self.profile.customer_id,
                campaign_id=campaign_id,
                at=self.now,
                zone=self.zone,
                send_at=send_at,
                trigger_event=message.event
                if isinstance(message, TrackMessage)
                else message.type
                if message
                else None,
                trigger_message_id=self.event.message_id if self.event is not None else None,
            )
        )


def advance(
    profile: Profile,
    before: Profile | None,
    event: QueuedEvent,
    programs: ProgramSet,
    policy: GlobalPolicy,
    zone: CustomerZone,
    now: datetime,
) -> ProgramPlan:
    """Advance `profile` (as it is after `event`; `before` as it was) through its lifecycle stage and programs
    to `now`, changing it in place (its stage, `programs`, `program_memory` and `due_at`)."""
    entered_stage = _update_stage(profile, policy, now)
    # Taken once, after the stage: nothing else `advance` changes is a fact conditions read.
    result = ProgramPlan(known=facts(profile, now))
    ctx = _Context(
        profile,
        programs,
        zone,
        now,
        result,
        event,
        result.known,
        now,
        policy.control_group,
        policy.attribution.window,
    )
    message = event.message
    track = message if isinstance(message, TrackMessage) and message.event != DUE_EVENT else None
    if track is not None:
        # The sweep may not have come round yet: a wait that was over, or a wait_for that timed out, before
        # the event happened is run first, so the event meets each run at the step it was really at.
        ctx.horizon = min(event.occurred_at, now)
        _resume(ctx)
        ctx.horizon = now
        _on_event(ctx, track, event.occurred_at)
    _on_conditions(ctx)
    _resume(ctx)
    for program in programs.entered.values():
        fired = _fires(ctx, program, before, track, event, entered_stage)
        if fired is not None:
            _enter(ctx, program, *fired)
    _forget_retired(profile, programs)
    profile.due_at = _next_due(profile, programs, policy, zone, now)
    return result


# --- lifecycle ----------------------------------------------------------------------------------------------


def _update_stage(profile: Profile, policy: GlobalPolicy, now: datetime) -> StageChange | None:
    """Record a stage change on the profile, with its reason, if time or the event changed the stage."""
    change = transition(
        _stage_or_none(profile.stage), profile.orders_count, profile.last_order_at, now, policy.lifecycle
    )
    if change is None:
        return None
    record = StageChange(
        stage=change.to_stage.value, previous=profile.stage, at=change.at, reason=change.reason
    )
    profile.stage, profile.stage_since = record.stage, record.at
    profile.stage_history = [*profile.stage_history, record][-MAX_STAGE_HISTORY:]
    return record


def _stage_or_none(value: str | None) -> Any:
    from righttime.core.lifecycle import Stage

    try:
        return Stage(value) if value is not None else None
    except ValueError:
        return None


# --- runs ---------------------------------------------------------------------------------------------------


def _on_event(ctx: _Context, track: TrackMessage, occurred_at: datetime) -> None:
    """An event from any channel: it ends the runs it is an exit of, and moves those waiting for it."""
    for program_id, run in list(ctx.profile.programs.items()):
        program = ctx.programs.versions.get((program_id, run.version))
        if program is None or occurred_at < run.entered_at:
            continue
        if track.event in program.exit.events:
            reason = Reason.exited_by(track.event, occurred_at, ctx.profile.last_order_id)
            _end(ctx, program, run, Outcome.EXITED, reason, cancel=True)
            continue
        step = program.step(run.step)
        if (
            isinstance(step, WaitForStep)
            and track.event in run.waiting_for
            and occurred_at >= run.step_at
            and all(c.holds(track.properties) for c in step.wait_for.where)
        ):
            goto = step.on_event or program.after(step.id)
            _go(
                ctx,
                program,
                run,
                goto,
                occurred_at,
                Reason.event_arrived(step.id, track.event, occurred_at, goto),
            )
    # A run that finished while catching up to the event (its last wait was over shortly before the event, and
    # the sweep had not come round yet) reached its last message in this evaluation. The exit event cancels
    # it, as it would have had the sweep planned the message first.
    for send in [s for s in ctx.result.sends if track.event in s.program.exit.events]:
        reason = Reason.exited_by(track.event, occurred_at, ctx.profile.last_order_id)
        ctx.result.sends.remove(send)
        ctx.decide(Outcome.CANCELLED, [reason], send.compiled.campaign.id)
    for program in ctx.programs.entered.values():
        inactivity = program.trigger.inactivity
        if inactivity is not None and inactivity.event == track.event and inactivity.event != ORDER_COMPLETED:
            memory = ctx.profile.program_memory.setdefault(program.id, ProgramMemory())
            memory.activity_at = max(filter(None, [memory.activity_at, occurred_at]))


def _on_conditions(ctx: _Context) -> None:
    """Exit conditions hold for the whole program: checked whenever the customer is evaluated."""
    for program_id, run in list(ctx.profile.programs.items()):
        program = ctx.programs.versions.get((program_id, run.version))
        if program is None or program.step(run.step) is None:
            retired = Reason.version_retired(program_id, run.version)
            ctx.result.ended.append((f"{program_id}{STEP_SEPARATOR}v{run.version}{STEP_SEPARATOR}", retired))
            del ctx.profile.programs[program_id]
            ctx.decide(Outcome.EXITED, [retired], program_id)
            continue
        holding = next((c for c in program.exit.conditions if c.holds(ctx.known)), None)
        if holding is not None:
            _end(ctx, program, run, Outcome.EXITED, Reason.exit_condition(holding), cancel=True)


def _resume(ctx: _Context) -> None:
    """Runs whose wait is over, or whose awaited event did not come in time, go on."""
    for program_id, run in sorted(ctx.profile.programs.items()):
        if run.resume_at is None or run.resume_at > ctx.horizon:
            continue
        program = ctx.programs.versions.get((program_id, run.version))
        if program is None:
            continue  # retired: `_on_conditions` ends it
        step = program.step(run.step)
        resumed_at = run.resume_at
        if isinstance(step, WaitForStep):
            goto = step.on_timeout or program.after(step.id)
            _go(ctx, program, run, goto, resumed_at, Reason.timed_out(step.id, resumed_at, goto))
        elif isinstance(step, WaitStep):
            _go(ctx, program, run, step.next or program.after(step.id), resumed_at, None)


def _go(
    ctx: _Context, program: Program, run: ProgramRun, goto: str | None, at: datetime, reason: Reason | None
) -> None:
    """Leave the current step for `goto` at `at` (saying why, when `reason`), and run on from there."""
    run.resume_at, run.waiting_for = None, []
    if reason is not None:
        ctx.decide(Outcome.ADVANCED, [reason], program.id)
    _run(ctx, program, run, goto, at)


def _run(ctx: _Context, program: Program, run: ProgramRun, step_id: str | None, at: datetime) -> None:
    """Run steps from `step_id` (None: past the last one), each beginning at `at`, until one waits or the run
    ends."""
    previous = run.step
    for _ in range(_MAX_MOVES):
        if step_id is None:
            _end(ctx, program, run, Outcome.COMPLETED, Reason.program_end(previous))
            return
        step = program.step(step_id)
        assert step is not None  # validation checked every target
        run.step, run.step_at, previous = step.id, at, step.id
        match step:
            case SendStep():
                compiled = ctx.programs.steps[program.step_campaign_id(step.id)]
                ctx.result.sends.append(StepSend(program, step, run, compiled, at))
                step_id = step.next or program.after(step.id)
            case WaitStep():
                until, rule = _wait_until(ctx, step, at)
                if until is None:
                    _end(ctx, program, run, Outcome.EXITED, Reason.no_date(step.id, rule))
                    return
                if until <= ctx.horizon:
                    at, step_id = max(until, at), step.next or program.after(step.id)
                    continue
                run.resume_at = until
                ctx.decide(Outcome.ADVANCED, [Reason.wait(step.id, until, rule)], program.id)
                return
            case WaitForStep():
                until = at + step.wait_for.within
                run.waiting_for, run.resume_at = list(step.wait_for.events), until
                if until <= ctx.horizon:
                    goto = step.on_timeout or program.after(step.id)
                    ctx.decide(Outcome.ADVANCED, [Reason.timed_out(step.id, until, goto)], program.id)
                    run.waiting_for, run.resume_at, at, step_id = [], None, until, goto
                    continue
                ctx.decide(
                    Outcome.ADVANCED, [Reason.wait_for(step.id, step.wait_for.events, until)], program.id
                )
                return
            case BranchStep():
                case_number, goto = _branch(ctx, program, step)
                ctx.decide(Outcome.ADVANCED, [Reason.branch(step.id, case_number, goto)], program.id)
                step_id = goto
            case ExitStep():
                _end(ctx, program, run, Outcome.EXITED, Reason.exit_step(step.id))
                return
    raise RuntimeError(f"program {program.id} ran {_MAX_MOVES} steps without waiting")  # pragma: no cover


def _branch(ctx: _Context, program: Program, step: BranchStep) -> tuple[int | None, str | None]:
    for number, case in enumerate(step.branch, start=1):
        if all(condition.holds(ctx.known) for condition in case.when):
            return number, case.goto
    return None, step.otherwise or program.after(step.id)


def _wait_until(ctx: _Context, step: WaitStep, at: datetime) -> tuple[datetime | None, str]:
    if step.wait is not None:
        from righttime.core.durations import format_duration

        return at + step.wait, format_duration(step.wait)
    if step.until_local_time is not None:
        wall = step.until_local_time
        return calendar.next_local_time(at, wall, ctx.zone.tz), f"until {wall:%H:%M} {ctx.zone.name}"
    assert step.until is not None
    until = step.until
    anchor = date_of(ctx.profile, until.date)
    if anchor is None:
        return None, until.date
    day = anchor + until.offset
    return calendar.wall_to_utc(day, until.at, ctx.zone.tz), f"until {until.date} {until.offset.days:+d}d"


def _end(
    ctx: _Context,
    program: Program,
    run: ProgramRun,
    outcome: Outcome,
    reason: Reason,
    *,
    cancel: bool = False,
) -> None:
    """End `run`. With `cancel` (an exit event or condition: what the program was for no longer holds), its
    waiting messages are cancelled too, and so is any step this evaluation reached before the exit. A run
    that completes or reaches an exit step keeps what it planned: a marketer who writes "send the reminder,
    then exit" wants the reminder sent."""
    ctx.profile.programs.pop(program.id, None)
    ctx.profile.program_memory.setdefault(program.id, ProgramMemory()).last_ended_at = ctx.now
    if cancel:
        ctx.result.ended.append((f"{program.key}{STEP_SEPARATOR}", reason))
        ctx.result.sends = [send for send in ctx.result.sends if send.run is not run]
    ctx.decide(outcome, [reason], program.id)


# --- triggers -----------------------------------------------------------------------------------------------


def _fires(
    ctx: _Context,
    program: Program,
    before: Profile | None,
    track: TrackMessage | None,
    event: QueuedEvent,
    entered_stage: StageChange | None,
) -> tuple[str, dict[str, JsonValue], str, datetime] | None:
    """Whether `program`'s trigger fires now: (trigger kind, what fired it, run id seed, when), else None."""
    trigger, profile, now = program.trigger, ctx.profile, ctx.now
    memory = profile.program_memory.get(program.id)
    for alternative in trigger.alternatives:
        fired = _fires_at_event(ctx, alternative, before, track, event, entered_stage)
        if fired is not None:
            return fired
    if trigger.threshold is not None:
        return _threshold_fires(ctx, program, before, event)
    if trigger.date is not None:
        return _date_fires(ctx, program, memory)
    if trigger.inactivity is not None:
        anchor = _activity(profile, program, memory)
        if anchor is None or now < anchor + trigger.inactivity.for_:
            return None
        if memory is not None and memory.fired == anchor.isoformat():
            return None
        profile.program_memory.setdefault(program.id, ProgramMemory()).fired = anchor.isoformat()
        detail: dict[str, JsonValue] = {"event": trigger.inactivity.event, "last_at": anchor.isoformat()}
        return "inactivity", detail, f"inactive:{anchor.isoformat()}", anchor + trigger.inactivity.for_
    return None


def _fires_at_event(
    ctx: _Context,
    trigger: AnyTrigger,
    before: Profile | None,
    track: TrackMessage | None,
    event: QueuedEvent,
    entered_stage: StageChange | None,
) -> tuple[str, dict[str, JsonValue], str, datetime] | None:
    """An event, trait or stage trigger: whether what this evaluation brought fires it."""
    if trigger.events is not None:
        if track is None or track.event not in trigger.events:
            return None
        if not all(condition.holds(track.properties) for condition in trigger.where):
            return None
        return "event", {"event": track.event}, event.message_id, event.occurred_at
    if trigger.trait is not None:
        if not isinstance(event.message, IdentifyMessage):
            return None
        wanted = trigger.trait.to
        was = trait_value(before, trigger.trait.trait) if before is not None else None
        if was == wanted or trait_value(ctx.profile, trigger.trait.trait) != wanted:
            return None
        return "trait", {"trait": trigger.trait.trait, "to": wanted}, event.message_id, event.occurred_at
    if trigger.stage is not None:
        if entered_stage is None or entered_stage.stage != trigger.stage.entered.value:
            return None
        detail: dict[str, JsonValue] = {
            "stage": entered_stage.stage,
            "from": entered_stage.previous,
            "reason": entered_stage.reason,
        }
        return "stage", detail, f"stage:{entered_stage.stage}:{ctx.now.isoformat()}", ctx.now
    return None


def _threshold_fires(
    ctx: _Context, program: Program, before: Profile | None, event: QueuedEvent
) -> tuple[str, dict[str, JsonValue], str, datetime] | None:
    threshold = program.trigger.threshold
    assert threshold is not None
    value = _number(lookup(ctx.known, threshold.fact))
    memory = ctx.profile.program_memory.get(program.id)
    armed = memory.armed if memory is not None and memory.armed is not None else None
    if armed is None:
        # The first time the program sees this customer, the figure before the event says whether a crossing
        # is possible; without one, the figure now: a customer first seen short of the threshold may cross it
        # (no hysteresis to wait for: nothing fired yet), one first seen past it never crossed it.
        previous = _number(lookup(facts(before, ctx.now), threshold.fact)) if before is not None else None
        if previous is None:
            if value is not None:
                ctx.profile.program_memory.setdefault(program.id, ProgramMemory()).armed = not _past(
                    threshold.above, threshold.below, value
                )
            return None
        armed = not _past(threshold.above, threshold.below, previous)
    if value is None:
        return None
    memory = ctx.profile.program_memory.setdefault(program.id, ProgramMemory())
    if not armed:
        memory.armed = _rearmed(threshold.above, threshold.below, threshold.hysteresis, value)
        return None
    if not _past(threshold.above, threshold.below, value):
        memory.armed = True
        return None
    memory.armed = False
    detail: dict[str, JsonValue] = {
        "fact": threshold.fact,
        "value": float(value),
        ("above" if threshold.above is not None else "below"): threshold.above
        if threshold.above is not None
        else threshold.below,
    }
    return "threshold", detail, event.message_id, event.occurred_at


def _past(above: float | None, below: float | None, value: float) -> bool:
    return value >= above if above is not None else below is not None and value <= below


def _rearmed(above: float | None, below: float | None, hysteresis: float, value: float) -> bool:
    if above is not None:
        return value < above - hysteresis
    return below is not None and value > below + hysteresis


def _number(found: tuple[bool, Any]) -> float | None:
    present, value = found
    if not present or isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return float(value)


def _date_fires(
    ctx: _Context, program: Program, memory: ProgramMemory | None
) -> tuple[str, dict[str, JsonValue], str, datetime] | None:
    trigger = program.trigger.date
    assert trigger is not None
    anchor = date_of(ctx.profile, trigger.date)
    if anchor is None:
        return None
    fire = _fire(anchor, trigger, ctx.zone, ctx.now - DATE_GRACE)
    if fire.at > ctx.now:
        return None
    key = occurrence_key(fire)
    if memory is not None and memory.fired == key:
        return None
    ctx.profile.program_memory.setdefault(program.id, ProgramMemory()).fired = key
    detail: dict[str, JsonValue] = {"date": trigger.date, "occurrence": fire.occurrence.isoformat()}
    return "date", detail, f"date:{key}", fire.at


def _fire(anchor: date, trigger: DateTrigger, zone: CustomerZone, after: datetime) -> Fire:
    """The first occurrence of a date trigger that fires after `after`. The first order's own day is not an
    anniversary of it; a renewal or billing date is an occurrence from the day it names."""
    return next_fire(
        anchor,
        trigger.every,
        trigger.offset,
        trigger.at,
        zone.tz,
        after,
        include_anchor=trigger.date != "first_order",
    )


def _activity(profile: Profile, program: Program, memory: ProgramMemory | None) -> datetime | None:
    inactivity = program.trigger.inactivity
    assert inactivity is not None
    if inactivity.event == ORDER_COMPLETED:
        return profile.last_order_at
    return memory.activity_at if memory is not None else None


def _enter(
    ctx: _Context, program: Program, kind: str, detail: dict[str, JsonValue], seed: str, at: datetime
) -> None:
    profile, now = ctx.profile, ctx.now
    triggered = Reason.program_triggered(program.id, program.version, kind, detail)
    running = profile.programs.get(program.id)
    blockers: list[Reason] = []
    if running is not None:
        blockers.append(Reason.in_program(program.id, running.step, running.entered_at))
    elif usable_address(profile.email) is None:
        blockers.append(Reason.no_email())
    else:
        if program.kind is Kind.PROMOTIONAL and profile.unsubscribed:
            blockers.append(Reason.unsubscribed())
        elif program.topic is not None and program.topic in profile.topic_opt_outs:
            blockers.append(Reason.topic_opted_out(program.topic))
        refusal = Audience.of(program.audience).refusal(ctx.known) if program.audience else None
        if refusal is not None:
            blockers.append(refusal)
        blockers += _reentry(program, profile.program_memory.get(program.id), now)
    if blockers:
        ctx.decide(Outcome.SUPPRESSED, [triggered, *blockers], program.id)
        return
    memory = profile.program_memory.setdefault(program.id, ProgramMemory())
    memory.entered_count += 1
    memory.last_entered_at = now
    holding = _holdout(program, profile.customer_id, ctx.control_group)
    if holding is not None:
        remember_holdout(profile, program.id, str(holding.detail["group"]), now, ctx.attribution_window)
        # Held out as if entered: re-entry rules count the entry, so the control group is measured like the
        # customers who ran the program, once per entry they would have had.
        ctx.decide(Outcome.HELD_OUT, [triggered, holding], program.id)
        return
    properties: dict[str, JsonValue] = {}
    message = ctx.event.message if ctx.event is not None else None
    if isinstance(message, TrackMessage) and kind in ("event", "threshold"):
        properties = message.properties if _small(message.properties) else {}
    run = ProgramRun(
        program_id=program.id,
        version=program.version,
        run_id=hashlib.sha256(f"{program.key}\x1f{seed}".encode()).hexdigest()[:16],
        step=program.steps[0].id,
        entered_at=now,
        step_at=now,
        trigger_event=message.event if isinstance(message, TrackMessage) else None,
        properties=properties,
    )
    profile.programs[program.id] = run
    ctx.decide(Outcome.ENTERED, [triggered], program.id)
    # A trigger that happened earlier than now (a date whose sweep ran late) starts the run at its own time.
    _run(ctx, program, run, run.step, max(min(at, now), now - DATE_GRACE))


def _holdout(program: Program, customer_id: str, control_group: Decimal | None) -> Reason | None:
    """Why the customer is held out of a promotional program (the global control group, or its own), or
    None."""
    if program.kind is not Kind.PROMOTIONAL:
        return None
    if control_group is not None and held_out(GLOBAL, customer_id, control_group):
        return Reason.holdout(GLOBAL, control_group)
    if program.holdout is not None and held_out(program.id, customer_id, program.holdout):
        return Reason.holdout(program.id, program.holdout)
    return None


def _reentry(program: Program, memory: ProgramMemory | None, now: datetime) -> list[Reason]:
    if memory is None or memory.last_entered_at is None:
        return []
    rule, last = program.reentry, memory.last_entered_at
    blocked = (
        rule.mode is ReentryMode.ONCE
        or (rule.mode is ReentryMode.ONCE_PER and rule.period is not None and now - last < rule.period)
        or (rule.mode is ReentryMode.EVERY_TIME and now - last < rule.min_interval)
    )
    return [Reason.reentry(rule.mode, last)] if blocked else []


def _small(properties: dict[str, JsonValue]) -> bool:
    import json

    return len(json.dumps(properties, separators=(",", ":"), default=str)) <= MAX_RUN_PROPERTIES_BYTES


def _forget_retired(profile: Profile, programs: ProgramSet) -> None:
    """What programs no longer deployed remembered: the profile keeps one memory per deployed program."""
    deployed = {program_id for program_id, _ in programs.versions}
    for program_id in [p for p in profile.program_memory if p not in deployed]:
        del profile.program_memory[program_id]


# --- what is due next ---------------------------------------------------------------------------------------


def _next_due(
    profile: Profile, programs: ProgramSet, policy: GlobalPolicy, zone: CustomerZone, now: datetime
) -> datetime | None:
    return min(_due(profile, programs, policy, zone, now), default=None)


def _due(
    profile: Profile, programs: ProgramSet, policy: GlobalPolicy, zone: CustomerZone, now: datetime
) -> Iterator[datetime]:
    for run in profile.programs.values():
        if run.resume_at is not None:
            yield run.resume_at
    for program in programs.entered.values():
        trigger = program.trigger
        memory = profile.program_memory.get(program.id)
        if trigger.date is not None and (anchor := date_of(profile, trigger.date.date)) is not None:
            fire = _fire(anchor, trigger.date, zone, now - DATE_GRACE)
            if memory is not None and memory.fired == occurrence_key(fire):
                fire = _fire(anchor, trigger.date, zone, fire.at)
            yield fire.at
        last = _activity(profile, program, memory) if trigger.inactivity is not None else None
        fired = memory.fired if memory is not None else None
        if trigger.inactivity is not None and last is not None and fired != last.isoformat():
            yield last + trigger.inactivity.for_
    if programs.has_stage_trigger:
        change = next_change(profile.orders_count, profile.last_order_at, now, policy.lifecycle)
        if change is not None:
            yield change


# --- reading the customer -----------------------------------------------------------------------------------


def date_of(profile: Profile, name: str) -> date | None:
    """The date a date trigger or wait step names: `birthday`, `first_order`, or a trait holding an ISO
    date."""
    if name == "birthday":
        return profile.birthday
    if name == "first_order":
        return profile.first_order_at.date() if profile.first_order_at is not None else None
    value = profile.traits.get(name)
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


#: traits the profile keeps in fields of its own, and where
_FIELDS = {"unsubscribed": "unsubscribed", "email": "email", "timezone": "timezone", "locale": "locale"}


def trait_value(profile: Profile, trait: str) -> JsonValue:
    """The value of `trait` as the profile holds it (None when it has none)."""
    attribute = _FIELDS.get(trait)
    if attribute is not None:
        value: JsonValue = getattr(profile, attribute)
        return value
    return profile.traits.get(trait)
