"""Programs: multi-step journeys marketers declare in YAML beside the campaigns, validated here with errors
that name the file, the program, the step and the field. docs/programs.md documents every field.

A program is entered by a trigger (a track event, a trait that changes, a lifecycle stage entered, a recurring
date, a threshold crossed, a stretch of inactivity), then runs its steps in order: send, wait, wait for an
event, branch, exit. Each send step is planned as a message of its own *step campaign* (`step_campaigns`), so
it
passes through exactly the policy a campaign does: consent, audience, quiet hours, windows, caps by priority,
the purchase cooldown and the recently-bought rule, at planning and again when it fires.

A file is a program when it has `steps`; every other file is a single-message campaign, valid as it always
was.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from righttime.core.calendar import Window, parse_wall_time
from righttime.core.campaigns import (
    TEMPLATE_PATTERN,
    Campaign,
    CampaignError,
    CrossSell,
    Exit,
    FollowUp,
    Kind,
    OutsideWindow,
    Reentry,
    ReentryMode,
    Timing,
    Trigger,
    event_shorthand,
)
from righttime.core.conditions import Condition
from righttime.core.durations import Duration
from righttime.core.global_policy import POLICY_FILE, TOPIC_PATTERN
from righttime.core.holdout import Percent
from righttime.core.lifecycle import Stage
from righttime.core.recurrence import Every
from righttime.core.send_time import SendTime

PROGRAM_ID_PATTERN = r"^[a-z0-9][a-z0-9_]{0,39}$"
STEP_ID_PATTERN = r"^[a-z0-9][a-z0-9_]{0,31}$"
#: steps one program may have, and programs one deployment may have: what keeps the profile's program state
#: (one run and one memory per program) and an evaluation's work bounded
MAX_STEPS = 50
MAX_PROGRAMS = 100
#: the separator of a step campaign's id (`<program>--v<version>--<step>`); program and step ids cannot hold
#: it
STEP_SEPARATOR = "--"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldProblem(ValueError):
    """A problem a model validator finds in one of its fields: `at` is where, below the model (`("wait",)`,
    `("steps", 3, "next")`), so the error names the field a marketer has to change, not the whole program."""

    def __init__(self, at: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.at = at


def _whole_days(value: timedelta) -> timedelta:
    if value % timedelta(days=1) or abs(value) > timedelta(days=366):
        raise ValueError("offset must be a whole number of days, at most 366d either way (e.g. -7d)")
    return value


class LifecycleGroup(StrEnum):
    """The five lifecycle groups of the articles behind righttime: which part of the customer's life a program
    serves (reports group programs by it)."""

    ACQUISITION = "acquisition"
    CONVERSION = "conversion"
    GROWTH = "growth"
    RETENTION = "retention"
    REACTIVATION = "reactivation"


def _signed_duration(value: Any) -> Any:
    """`-7d` is seven days before; durations are otherwise unsigned."""
    from righttime.core.durations import parse_duration

    if isinstance(value, str) and value.strip().startswith("-"):
        return -parse_duration(value.strip()[1:])
    return parse_duration(value)


# --- triggers -----------------------------------------------------------------------------------------------


class TraitChange(_Strict):
    """An identify that sets `trait` to `to` when it held something else (or nothing) before: an opt-in
    (`subscribed` becoming true), a plan upgrade."""

    trait: str = Field(min_length=1, max_length=200)
    to: JsonValue


class StageEntered(_Strict):
    """The customer enters a lifecycle stage (policy.yaml's `lifecycle` defines them)."""

    entered: Stage


class DateTrigger(_Strict):
    """A date that comes back every year or every month: the birthday, the first order's anniversary, or a
    date held in a trait (a renewal, a billing day), `offset` before or after it, at `at` on the customer's
    clock."""

    #: `birthday`, `first_order`, or the name of a trait holding an ISO date (`renewal_date`)
    date: str = Field(min_length=1, max_length=200)
    every: Every = Every.YEAR
    #: whole days, negative for before: `-7d` is a week before the date
    offset: Annotated[timedelta, BeforeValidator(_signed_duration)] = timedelta(0)
    at: Annotated[time, BeforeValidator(parse_wall_time)] = time(9, 0)

    _offset = field_validator("offset")(classmethod(lambda cls, value: _whole_days(value)))


class Threshold(_Strict):
    """A number about the customer crossing a threshold: `above` (reaching it from below) or `below` (falling
    under it). Edge-triggered: it fires once per crossing, and again only after the figure has gone back past
    the threshold by `hysteresis`, so a customer hovering at 999/1,000 points gets one message. A customer
    first seen short of the threshold may cross it; one first seen past it (an import) never crossed it and
    does not fire until the figure has gone back past the hysteresis and crossed again."""

    #: a fact (`lifetime_value`, `orders_count`) or a numeric trait (`traits.loyalty_points`)
    fact: str = Field(min_length=1, max_length=200)
    above: float | None = None
    below: float | None = None
    hysteresis: float = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one_direction(self) -> Threshold:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        return self


class Inactivity(_Strict):
    """No `event` for `for_`: "no Order Completed for 180 days". Counted from the customer's latest such
    event, from any channel; a customer who never had one is not inactive, just new."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    event: str = Field(default="Order Completed", min_length=1, max_length=200)
    for_: Duration = Field(alias="for")

    @field_validator("for_")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=1) or value > timedelta(days=3 * 366):
            raise ValueError("for must be between 1d and 3 years")
        return value


_KINDS = ("events", "trait", "stage", "date", "threshold", "inactivity", "any")
#: the kinds `any` may combine: what happens at one event. Dates, thresholds and inactivity keep their own
#: edge on the program's memory, so each is a program's only trigger.
_COMBINABLE = ("events", "trait", "stage")


def _one_kind(model: BaseModel, kinds: tuple[str, ...], expected: str) -> None:
    """A trigger names exactly one of `kinds`, and `where` only with an event."""
    found = [k for k in kinds if getattr(model, k)]
    if len(found) != 1:
        raise ValueError(expected + (f" (found {', '.join(found)})" if found else ""))
    if getattr(model, "where", None) and not getattr(model, "events", None):
        raise ValueError("where filters an event trigger's properties: it needs event")


class AnyTrigger(_Strict):
    """One of the triggers `any` combines (an event, a trait change or a stage entered)."""

    events: list[str] | None = None
    where: list[Condition] = Field(default_factory=list)
    trait: TraitChange | None = None
    stage: StageEntered | None = None

    @model_validator(mode="before")
    @classmethod
    def _single_event(cls, data: Any) -> Any:
        if isinstance(data, dict):
            alone = [k for k in ("date", "threshold", "inactivity", "any") if k in data]
            if alone:
                raise ValueError(
                    f"{alone[0]} cannot be one of any's triggers: any combines events, trait changes and "
                    "stages; a date, threshold or inactivity trigger is a program's only trigger"
                )
        return event_shorthand(data)

    @model_validator(mode="after")
    def _exactly_one(self) -> AnyTrigger:
        _one_kind(self, _COMBINABLE, "each trigger of any is exactly one of event, trait or stage")
        return self


class ProgramTrigger(_Strict):
    """What enters a customer: exactly one of the kinds below. `any` lists several events, trait changes or
    stages, any of which enters (a sign-up *or* an opt-in starts the welcome series)."""

    #: a track event, with filters on its properties (`event: X` is short for `events: [X]`)
    events: list[str] | None = None
    where: list[Condition] = Field(default_factory=list)
    trait: TraitChange | None = None
    stage: StageEntered | None = None
    date: DateTrigger | None = None
    threshold: Threshold | None = None
    inactivity: Inactivity | None = None
    any: list[AnyTrigger] | None = Field(default=None, min_length=1, max_length=10)

    @model_validator(mode="before")
    @classmethod
    def _single_event(cls, data: Any) -> Any:
        return event_shorthand(data)

    @model_validator(mode="after")
    def _exactly_one(self) -> ProgramTrigger:
        _one_kind(
            self, _KINDS, "give exactly one trigger: event, trait, stage, date, threshold, inactivity or any"
        )
        return self

    @cached_property
    def kind(self) -> str:
        return next(k for k in _KINDS if getattr(self, k))

    @cached_property
    def alternatives(self) -> list[AnyTrigger]:
        """The event, trait and stage triggers that enter: `any`'s, or this one alone."""
        if self.any is not None:
            return list(self.any)
        if self.kind in _COMBINABLE:
            return [AnyTrigger(events=self.events, where=self.where, trait=self.trait, stage=self.stage)]
        return []


# --- steps --------------------------------------------------------------------------------------------------


class StepTiming(_Strict):
    """When a send step's message may go: its own rules on top of the global policy. Unlike a campaign's, the
    delay defaults to none: a wait step says how long to wait."""

    delay: Duration = timedelta(0)
    at_local_time: Annotated[time, BeforeValidator(parse_wall_time)] | None = None
    window: Window | None = None
    outside_window: OutsideWindow = OutsideWindow.DEFER
    send_by: Duration | None = None
    #: `optimal`: at the customer's most engaged hour, up to `max_delay` later (as a campaign's)
    send_time: SendTime | None = None

    @model_validator(mode="after")
    def _one_way_to_pick_the_hour(self) -> StepTiming:
        if self.send_time is not None and self.at_local_time is not None:
            raise ValueError("send_time: optimal picks the hour itself; remove at_local_time, or send_time")
        return self


class SendStep(_Strict):
    id: str = Field(pattern=STEP_ID_PATTERN)
    #: the template folder under templates/
    send: str = Field(pattern=TEMPLATE_PATTERN)
    #: the program's kind unless given: a receipt in a post-purchase series is transactional
    kind: Kind | None = None
    timing: StepTiming = Field(default_factory=StepTiming)
    follow_up: FollowUp | None = None
    category: str | None = Field(default=None, max_length=200)
    category_property: str | None = Field(default=None, max_length=200)
    cross_sell: CrossSell | None = None
    variables: dict[str, JsonValue] = Field(default_factory=dict)
    next: str | None = Field(default=None, pattern=STEP_ID_PATTERN)


class Until(_Strict):
    """Wait until a date held by the customer: `date` is `birthday`, `first_order` or a trait with an ISO
    date, moved by `offset` (whole days), at `at` on their clock."""

    date: str = Field(min_length=1, max_length=200)
    offset: Annotated[timedelta, BeforeValidator(_signed_duration)] = timedelta(0)
    at: Annotated[time, BeforeValidator(parse_wall_time)] = time(9, 0)

    # a date moved by 36h would silently be a date moved by one day
    _offset = field_validator("offset")(classmethod(lambda cls, value: _whole_days(value)))


class WaitFor(_Strict):
    """Wait for one of `events` (from any channel) for at most `within`."""

    events: list[str] = Field(min_length=1)
    where: list[Condition] = Field(default_factory=list)
    within: Duration

    @model_validator(mode="before")
    @classmethod
    def _single_event(cls, data: Any) -> Any:
        return event_shorthand(data)

    @field_validator("within")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value > timedelta(days=366):
            raise ValueError("within must be between 1s and 366d")
        return value


class WaitStep(_Strict):
    id: str = Field(pattern=STEP_ID_PATTERN)
    #: a duration (`3d`); or `{until_local_time: "10:00"}`; or `{until: {date: renewal_date, offset: -7d}}`
    wait: Duration | None = None
    until_local_time: Annotated[time, BeforeValidator(parse_wall_time)] | None = None
    until: Until | None = None
    next: str | None = Field(default=None, pattern=STEP_ID_PATTERN)

    @model_validator(mode="before")
    @classmethod
    def _forms(cls, data: Any) -> Any:
        # `wait: {until_local_time: ...}` and `wait: {until: ...}` read naturally; keep one flat model.
        if isinstance(data, dict) and isinstance(data.get("wait"), dict):
            data = {**data, **data["wait"]}
            del data["wait"]
        return data

    @model_validator(mode="after")
    def _one_form(self) -> WaitStep:
        given = [x for x in (self.wait, self.until_local_time, self.until) if x is not None]
        if len(given) != 1:
            raise ValueError("a wait step waits a duration (wait: 3d), until_local_time, or until a date")
        if self.wait is not None and not timedelta(0) < self.wait <= timedelta(days=366):
            raise FieldProblem(("wait",), "wait must be between 1s and 366d")
        return self


class WaitForStep(_Strict):
    id: str = Field(pattern=STEP_ID_PATTERN)
    wait_for: WaitFor
    #: where to go when the event comes first, and when the time runs out first (both default to the next
    #: step)
    on_event: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    on_timeout: str | None = Field(default=None, pattern=STEP_ID_PATTERN)


class Case(_Strict):
    when: list[Condition] = Field(min_length=1)
    goto: str = Field(pattern=STEP_ID_PATTERN)


class BranchStep(_Strict):
    id: str = Field(pattern=STEP_ID_PATTERN)
    #: the first case whose conditions all hold (on the customer's facts, as audiences) is taken
    branch: list[Case] = Field(min_length=1, max_length=20)
    #: where to go when no case holds (the next step by default)
    otherwise: str | None = Field(default=None, pattern=STEP_ID_PATTERN)


class ExitStep(_Strict):
    id: str = Field(pattern=STEP_ID_PATTERN)
    exit: Literal[True]


def _step_kind(data: Any) -> str | None:
    if isinstance(data, BaseModel):
        data = dict.fromkeys(type(data).model_fields, True)
    if not isinstance(data, dict):
        return None
    return next((kind for kind in ("send", "wait_for", "wait", "branch", "exit") if kind in data), None)


Step = Annotated[
    Annotated[SendStep, Tag("send")]
    | Annotated[WaitForStep, Tag("wait_for")]
    | Annotated[WaitStep, Tag("wait")]
    | Annotated[BranchStep, Tag("branch")]
    | Annotated[ExitStep, Tag("exit")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs one of send, wait, wait_for, branch or exit",
    ),
]


class ProgramExit(Exit):
    """Events from any channel, and conditions re-checked at every step and at every send, that end the whole
    program for the customer (its waiting message too)."""


class Program(_Strict):
    id: str = Field(pattern=PROGRAM_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    #: bump it when changing a live program: customers mid-way finish the version they started
    #: (docs/programs.md)
    version: int = Field(default=1, ge=1, le=10_000)
    enabled: bool = True
    #: where the program sits in the customer's life (for reports)
    lifecycle: LifecycleGroup | None = None
    kind: Kind = Kind.PROMOTIONAL
    priority: int = Field(default=0, ge=0, le=1000)
    trigger: ProgramTrigger
    audience: list[Condition] = Field(default_factory=list)
    exit: ProgramExit = Field(default_factory=ProgramExit)
    #: entering again: `once`, `once_per` a period, or `every_time` with a minimum interval between entries
    reentry: Reentry = Field(default_factory=lambda: Reentry(mode=ReentryMode.ONCE))
    #: the share of customers who are held out: they never enter, and are counted to measure the program
    holdout: Percent | None = None
    #: the topic (policy.yaml's `topics`) whose opt-out stops the program's promotional steps
    topic: str | None = Field(default=None, pattern=TOPIC_PATTERN)
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _promotions_only_held_out(self) -> Program:
        if self.holdout is not None and self.kind is Kind.TRANSACTIONAL:
            raise ValueError("holdout: a transactional program is never held out")
        return self

    @model_validator(mode="after")
    def _step_graph(self) -> Program:
        seen: set[str] = set()
        for index, step in enumerate(self.steps):
            if step.id in seen:
                raise FieldProblem(_at(step, index, "id"), f"step id {step.id!r} is used twice")
            seen.add(step.id)
            if (
                isinstance(step, SendStep)
                and step.timing.send_time is not None
                and (step.kind or self.kind) is Kind.TRANSACTIONAL
            ):
                raise FieldProblem(
                    _at(step, index, "timing", "send_time"),
                    "a transactional message (a receipt) goes at once, never later",
                )
        for index, step in enumerate(self.steps):
            for field_name, target in _targets(step):
                if target not in seen:
                    raise FieldProblem(
                        _at(step, index, *field_name),
                        f"goes to {target!r}, which is not a step of this program"
                        f" (its steps: {', '.join(s.id for s in self.steps)})",
                    )
            if (
                isinstance(step, WaitForStep)
                and step.on_event is None
                and step.on_timeout is None
                and index == len(self.steps) - 1
            ):
                raise FieldProblem(
                    _at(step, index, "wait_for"),
                    "waits for an event and nothing follows it: add a step after it, or on_event/on_timeout",
                )
        cycle = _cycle_without_wait(self)
        if cycle:
            raise FieldProblem(
                next(_at(s, i) for i, s in enumerate(self.steps) if s.id == cycle[0]),
                "steps "
                + " -> ".join(cycle)
                + " loop without a wait: every loop needs a wait or wait_for step",
            )
        return self

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def after(self, step_id: str) -> str | None:
        """The step that follows `step_id` in the file, or None after the last."""
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return self.steps[index + 1].id if index + 1 < len(self.steps) else None
        return None

    @property
    def key(self) -> str:
        """The program at its version, as a step campaign's id begins."""
        return f"{self.id}{STEP_SEPARATOR}v{self.version}"

    def step_campaign_id(self, step_id: str) -> str:
        return f"{self.key}{STEP_SEPARATOR}{step_id}"


def _at(step: Step, index: int, *field_names: int | str) -> tuple[int | str, ...]:
    """Where a field of the step at `index` is, as pydantic places a step's own errors (under its kind)."""
    return ("steps", index, _step_kind(step) or "", *field_names)


def _targets(step: Step) -> Iterator[tuple[tuple[int | str, ...], str]]:
    """Each step `step` names as a target, with the field that names it."""
    if isinstance(step, SendStep | WaitStep) and step.next:
        yield ("next",), step.next
    if isinstance(step, WaitForStep):
        yield from ((("on_event",), step.on_event),) if step.on_event else ()
        yield from ((("on_timeout",), step.on_timeout),) if step.on_timeout else ()
    if isinstance(step, BranchStep):
        yield from ((("branch", number, "goto"), case.goto) for number, case in enumerate(step.branch))
        if step.otherwise:
            yield ("otherwise",), step.otherwise


def successors(program: Program, step: Step) -> list[str]:
    """Every step `step` can go to next (the step after it by default)."""
    following = program.after(step.id)
    match step:
        case ExitStep():
            return []
        case SendStep() | WaitStep():
            return [step.next] if step.next else [following] if following else []
        case WaitForStep():
            return [t for t in {step.on_event or following, step.on_timeout or following} if t]
        case BranchStep():
            fallback = step.otherwise or following
            return [case.goto for case in step.branch] + ([fallback] if fallback else [])
    return []


def _cycle_without_wait(program: Program) -> list[str]:
    """A loop of steps none of which waits (it would run forever in one evaluation), or []."""
    instant = {s.id: s for s in program.steps if isinstance(s, SendStep | BranchStep)}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(step_id: str) -> list[str]:
        state[step_id] = 1
        path.append(step_id)
        for target in successors(program, instant[step_id]):
            if target not in instant:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[step_id] = 2
        return []

    for step_id in instant:
        if step_id not in state and (found := visit(step_id)):
            return found
    return []


def step_campaigns(program: Program) -> list[Campaign]:
    """A campaign for each send step of `program`: what planning, the sender and the sweeper know the step's
    messages by. Its id is `<program>--v<version>--<step>`; it is triggered by nothing (the program plans it),
    exits as the program does, and its audience is the program's."""
    made = []
    for step in program.steps:
        if not isinstance(step, SendStep):
            continue
        timing = step.timing
        # Built without validating: the program validated every part, and the id may be longer than a
        # campaign file's (`clashes` refuses a campaign that takes a step campaign's id).
        made.append(
            Campaign.model_construct(
                id=program.step_campaign_id(step.id),
                name=f"{program.name}: {step.id}",
                enabled=program.enabled,
                kind=step.kind or program.kind,
                priority=program.priority,
                trigger=Trigger(events=[STEP_TRIGGER]),
                audience=program.audience,
                timing=Timing.model_construct(
                    delay=timing.delay,
                    at_local_time=timing.at_local_time,
                    window=timing.window,
                    outside_window=timing.outside_window,
                    send_by=timing.send_by,
                    send_time=timing.send_time,
                ),
                exit=Exit(events=program.exit.events, conditions=program.exit.conditions),
                reentry=Reentry(mode=ReentryMode.EVERY_TIME),
                dedupe_key=None,
                category=step.category,
                category_property=step.category_property,
                follow_up=step.follow_up,
                cross_sell=step.cross_sell,
                template=step.send,
                variables=step.variables,
                holdout=None,
                topic=program.topic if (step.kind or program.kind) is Kind.PROMOTIONAL else None,
            )
        )
    return made


#: the trigger event of a step campaign: no app sends it (ingest refuses the `righttime:` prefix)
STEP_TRIGGER = "righttime:program-step"


# --- loading ------------------------------------------------------------------------------------------------


class ProgramError(CampaignError):
    """One or more program files are invalid; `problems` has one line per bad field."""


def is_program_document(data: Any) -> bool:
    """Whether a campaigns-folder YAML document declares a program (it has steps) rather than a campaign."""
    return isinstance(data, dict) and "steps" in data


def load_programs(directory: Path) -> list[Program]:
    """Load every program file in `directory` (the campaigns folder: a file with `steps`), sorted by id and
    version. Several files may declare the same program at different versions: the highest takes new
    customers, the others only finish the customers who started them. Raises ProgramError listing every
    problem as `file: program: field: message`."""
    import yaml  # here: a Lambda loads the build's compiled content and never needs PyYAML

    problems: list[str] = []
    programs: dict[tuple[str, int], Program] = {}
    declared_in: dict[tuple[str, int], str] = {}
    files = sorted(p for p in [*directory.glob("*.yaml"), *directory.glob("*.yml")] if p.name != POLICY_FILE)
    for path in files:
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue  # load_campaigns reports it
        if not is_program_document(data):
            continue
        label = str(data.get("id", path.stem))
        try:
            program = Program.model_validate(data)
        except ValidationError as exc:
            problems.extend(f"{path.name}: {label}: {_problem(data, err)}" for err in exc.errors())
            continue
        key = (program.id, program.version)
        if key in programs:
            problems.append(
                f"{path.name}: {program.id}: version: version {program.version} is declared twice"
                f" (also in {declared_in[key]}): bump the version of the newer one"
            )
        programs[key], declared_in[key] = program, path.name
    if len({program_id for program_id, _ in programs}) > MAX_PROGRAMS:
        problems.append(f"{directory}: more than {MAX_PROGRAMS} programs")
    if problems:
        raise ProgramError(problems)
    return sorted(programs.values(), key=lambda p: (p.id, p.version))


def _problem(data: dict[str, Any], err: ErrorDetails) -> str:
    """One validation error as `field: message`, the field as precise as the validator knew it, the message
    without pydantic's `Value error, ` prefix."""
    cause = err.get("ctx", {}).get("error")
    loc = tuple(err["loc"])
    message = err["msg"]
    if isinstance(cause, ValueError) and err["type"] == "value_error":
        message = str(cause)
        if isinstance(cause, FieldProblem):
            loc += cause.at
    return f"{_where(data, loc)}: {message}"


def _where(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """An error's location as a marketer reads it: `steps.2(reminder).timing.window` rather than a bare index,
    without the union's tag."""
    parts: list[str] = []
    steps = data.get("steps")
    for position, part in enumerate(loc):
        if position == 2 and loc[0] == "steps" and part in ("send", "wait", "wait_for", "branch", "exit"):
            continue  # the discriminator's tag
        if position == 1 and loc[0] == "steps" and isinstance(part, int):
            step = steps[part] if isinstance(steps, list) and part < len(steps) else None
            step_id = step.get("id") if isinstance(step, dict) else None
            parts.append(f"{part}({step_id})" if step_id else str(part))
            continue
        parts.append(str(part))
    return ".".join(parts) or "(program)"


def undeclared_topics(
    campaigns: list[Campaign], programs: list[Program], topics: dict[str, str]
) -> list[str]:
    """Problems, one line each, when a campaign or program names a topic policy.yaml does not declare."""
    named = [(c.id, c.topic) for c in campaigns] + [(p.id, p.topic) for p in programs]
    declared = ", ".join(sorted(topics)) or "none"
    return [
        f"{owner}: topic: {topic!r} is not one of policy.yaml's topics ({declared})"
        for owner, topic in named
        if topic is not None and topic not in topics
    ]


def clashes(campaigns: list[Campaign], programs: list[Program]) -> list[str]:
    """Problems, one line each, when a campaign's id is a program step's campaign id (or a program's id)."""
    taken = {c.id for c in campaigns}
    problems = [f"{p.id}: id: program id {p.id} is also a campaign id" for p in programs if p.id in taken]
    for program in programs:
        problems += [
            f"{program.id}: steps: step campaign {c.id} is also a campaign id"
            for c in step_campaigns(program)
            if c.id in taken
        ]
    return problems


def latest(programs: list[Program]) -> dict[str, Program]:
    """The version of each program new customers enter: the highest."""
    newest: dict[str, Program] = {}
    for program in programs:
        if program.id not in newest or program.version > newest[program.id].version:
            newest[program.id] = program
    return newest
