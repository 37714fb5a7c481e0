"""Campaigns are data: marketers declare them in YAML files, validated here with errors that name
the file, the campaign and the field. docs/campaigns.md documents every field."""

from __future__ import annotations

from datetime import time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from righttime.core.calendar import Window, parse_wall_time
from righttime.core.conditions import Condition, lookup
from righttime.core.durations import Duration
from righttime.core.errors import RighttimeError
from righttime.core.global_policy import POLICY_FILE, TOPIC_PATTERN
from righttime.core.holdout import Percent
from righttime.core.send_time import SendTime

CAMPAIGN_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,47}$"
TEMPLATE_PATTERN = r"^[A-Za-z0-9_-]+$"


class Kind(StrEnum):
    #: expected by the customer (receipts, confirmations): skips caps, cooldowns and quiet hours
    TRANSACTIONAL = "transactional"
    #: marketing: subject to consent and every context rule
    PROMOTIONAL = "promotional"


class OutsideWindow(StrEnum):
    DEFER = "defer"
    DROP = "drop"


class ReentryMode(StrEnum):
    ONCE = "once"
    ONCE_PER = "once_per"
    EVERY_TIME = "every_time"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def event_shorthand(data: Any) -> Any:
    """`event: X` is shorthand for `events: [X]` wherever events are named (triggers, waits)."""
    if isinstance(data, dict) and "event" in data:
        data = {**data, "events": [data["event"]]}
        del data["event"]
    return data


class Trigger(_Strict):
    """The event that starts the campaign, and filters on its properties."""

    events: list[str] = Field(min_length=1)
    where: list[Condition] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _single_event(cls, data: Any) -> Any:
        return event_shorthand(data)

    def matches(self, event_name: str, properties: dict[str, Any]) -> bool:
        return event_name in self.events and all(c.holds(properties) for c in self.where)


class Timing(_Strict):
    delay: Duration = timedelta(hours=1)
    #: send at the next HH:MM on the customer's clock at or after trigger + delay
    at_local_time: Annotated[time, BeforeValidator(parse_wall_time)] | None = None
    window: Window | None = None
    outside_window: OutsideWindow = OutsideWindow.DEFER
    #: a message that cannot go out within this long after its trigger expires
    send_by: Duration | None = None
    #: `optimal`: at the customer's most engaged hour, up to `max_delay` later (righttime.core.send_time)
    send_time: SendTime | None = None

    @field_validator("delay")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(days=365):
            raise ValueError("delay must be between 0s and 365d")
        return value

    @model_validator(mode="after")
    def _send_by_after_delay(self) -> Timing:
        if self.send_by is not None and self.send_by < self.delay:
            raise ValueError("send_by must not be shorter than delay")
        if self.send_time is not None and self.at_local_time is not None:
            raise ValueError("send_time: optimal picks the hour itself; remove at_local_time, or send_time")
        return self


class Exit(_Strict):
    #: events, from any channel, that cancel a pending message
    events: list[str] = Field(default_factory=list)
    #: profile conditions re-checked at send time: if any holds, the message is cancelled
    conditions: list[Condition] = Field(default_factory=list)


class Reentry(_Strict):
    mode: ReentryMode = ReentryMode.EVERY_TIME
    #: with once_per: at most one message per this period
    period: Duration | None = None
    #: with every_time: at least this long between two messages
    min_interval: Duration = timedelta(0)

    @model_validator(mode="after")
    def _period_for_once_per(self) -> Reentry:
        if self.mode is ReentryMode.ONCE_PER and self.period is None:
            raise ValueError("mode once_per needs a period, e.g. period: 30d")
        return self


class FollowUp(_Strict):
    """A post-purchase follow-up: exempt from the purchase cooldown, but never sooner than `min_delay`
    after the order."""

    min_delay: Duration = timedelta(days=1)


class CrossSell(_Strict):
    """Sent instead of the campaign's template when the customer recently bought its category."""

    template: str = Field(pattern=TEMPLATE_PATTERN)


class Campaign(_Strict):
    id: str = Field(pattern=CAMPAIGN_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    kind: Kind = Kind.PROMOTIONAL
    priority: int = Field(default=0, ge=0, le=1000)
    trigger: Trigger
    audience: list[Condition] = Field(default_factory=list)
    timing: Timing = Field(default_factory=Timing)
    exit: Exit = Field(default_factory=Exit)
    reentry: Reentry = Field(default_factory=Reentry)
    #: a trigger property naming what one message is about (e.g. cart_id): one message per value, ever
    dedupe_key: str | None = Field(default=None, max_length=200)
    #: what the message is about, for the recently-bought rule: a category name...
    category: str | None = Field(default=None, max_length=200)
    #: ...or a trigger property holding it (e.g. category)
    category_property: str | None = Field(default=None, max_length=200)
    follow_up: FollowUp | None = None
    cross_sell: CrossSell | None = None
    template: str = Field(pattern=TEMPLATE_PATTERN, description="Folder under templates/.")
    variables: dict[str, JsonValue] = Field(default_factory=dict)
    #: the share of customers never sent it, to measure it against (righttime.core.holdout)
    holdout: Percent | None = None
    #: the topic (policy.yaml's `topics`) a customer can opt out of to stop it, and messages like it
    topic: str | None = Field(default=None, pattern=TOPIC_PATTERN)
    #: the products the message shows, checked against the catalog when it is sent (docs/content.md):
    #: `cart` (the customer's cart lines) or `trigger` (the product its trigger event names)
    products: Literal["cart", "trigger"] | None = None

    @model_validator(mode="after")
    def _promotions_only_held_out(self) -> Campaign:
        if self.holdout is not None and self.kind is Kind.TRANSACTIONAL:
            raise ValueError("holdout: a transactional message (a receipt) is never held out")
        if self.topic is not None and self.kind is Kind.TRANSACTIONAL:
            raise ValueError("topic: a transactional message (a receipt) is never stopped by a topic")
        if self.timing.send_time is not None and self.kind is Kind.TRANSACTIONAL:
            raise ValueError("timing.send_time: a transactional message (a receipt) goes at once")
        return self

    def is_triggered_by(self, event_name: str, properties: dict[str, Any]) -> bool:
        return self.enabled and self.trigger.matches(event_name, properties)

    def exits_on(self, event_name: str) -> bool:
        return event_name in self.exit.events

    def category_of(self, properties: dict[str, Any]) -> str | None:
        if self.category_property:
            found, value = lookup(properties, self.category_property)
            return str(value) if found and value is not None else None
        return self.category

    def dedupe_value(self, properties: dict[str, Any]) -> str | None:
        if not self.dedupe_key:
            return None
        found, value = lookup(properties, self.dedupe_key)
        return str(value) if found and value is not None else None

    @property
    def templates(self) -> list[str]:
        return [self.template] + ([self.cross_sell.template] if self.cross_sell else [])


class CampaignError(RighttimeError):
    """One or more campaign files are invalid; `problems` has one line per bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid campaigns:\n  " + "\n  ".join(problems))
        self.problems = problems


def load_campaigns(directory: Path) -> list[Campaign]:
    """Load every `*.yaml`/`*.yml` file in `directory` (one campaign per file; `policy.yaml` and programs, the
    files with `steps`, excepted), sorted by id. Raises CampaignError listing every problem, each as `file:
    campaign: field: message`."""
    if not directory.is_dir():
        raise CampaignError([f"{directory}: campaigns folder not found"])
    problems: list[str] = []
    campaigns: dict[str, Campaign] = {}
    files = sorted(p for p in [*directory.glob("*.yaml"), *directory.glob("*.yml")] if p.name != POLICY_FILE)
    for path in files:
        campaign = _load_file(path, problems)
        if campaign is None:
            continue
        if campaign.id in campaigns:
            problems.append(
                f"{path.name}: {campaign.id}: id: duplicate campaign id (also declared elsewhere)"
            )
        campaigns[campaign.id] = campaign
    if problems:
        raise CampaignError(problems)
    return sorted(campaigns.values(), key=lambda c: c.id)


def _load_file(path: Path, problems: list[str]) -> Campaign | None:
    import yaml  # here: a Lambda loads the build's compiled campaigns and never needs PyYAML

    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problems.append(f"{path.name}: not valid YAML: {exc}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name}: expected a mapping with the campaign's fields")
        return None
    if "steps" in data:
        return None  # a program (righttime.core.programs loads it)
    label = str(data.get("id", path.stem))
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "(campaign)"
            problems.append(f"{path.name}: {label}: {where}: {err['msg']}")
        return None
