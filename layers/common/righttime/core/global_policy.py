"""The global policy: rules every promotional message obeys, whatever its campaign. One YAML file,
`policy.yaml`, beside the campaigns."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from righttime.core.calendar import QuietHours, zone
from righttime.core.durations import Duration
from righttime.core.errors import RighttimeError
from righttime.core.holdout import Percent
from righttime.core.lifecycle import Lifecycle

POLICY_FILE = "policy.yaml"
#: what a topic id looks like (policy.yaml's `topics`, a campaign's or program's `topic`)
TOPIC_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class FrequencyCap(BaseModel):
    """At most `max` promotional messages per calendar `day` in the customer's zone, or per rolling period
    (a duration such as `7d`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max: int = Field(ge=1, le=1000)
    per: Literal["day"] | Duration

    @property
    def calendar_day(self) -> bool:
        return self.per == "day"

    @property
    def period(self) -> timedelta:
        return timedelta(days=1) if isinstance(self.per, str) else self.per

    def describe(self) -> str:
        from righttime.core.durations import format_duration

        per = "calendar day" if self.per == "day" else f"rolling {format_duration(self.period)}"
        return f"{self.max} per {per}"


class RecentPurchase(BaseModel):
    """A promotional message about a category the customer bought within `window` is suppressed, or sent
    as its campaign's cross-sell variant if it has one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration = timedelta(days=30)


class Attribution(BaseModel):
    """How long after a promotional send (or a click in it, or a holdout) an order is credited to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration = timedelta(days=5)

    @field_validator("window")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if not timedelta(hours=1) <= value <= timedelta(days=30):
            raise ValueError("window is between 1h and 30d")
        return value


class CatalogPolicy(BaseModel):
    """How the catalog's changes reach customers (docs/content.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: a carted product with this many units or fewer left is "running low" in templates
    low_stock: int = Field(default=5, ge=0, le=1000)
    #: a price drop is at least this many percent off the previous price
    price_drop_min: Decimal = Field(default=Decimal(5), gt=0, le=90)
    #: how long a customer's view or cart of a product keeps them interested in its changes
    interest: Duration = timedelta(days=30)
    #: at most this many interested customers are told of one change (the most recent interest first)
    max_notified: int = Field(default=1000, ge=1, le=100_000)

    @field_validator("interest")
    @classmethod
    def _interest_bounded(cls, value: timedelta) -> timedelta:
        if not timedelta(days=1) <= value <= timedelta(days=365):
            raise ValueError("interest is between 1d and 365d")
        return value


class GlobalPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_timezone: str = "UTC"
    quiet_hours: QuietHours | None = None
    frequency_caps: list[FrequencyCap] = Field(default_factory=list)
    purchase_cooldown: Duration = timedelta(0)
    recent_purchase: RecentPurchase | None = None
    #: the least time between a trigger event and a behavioural message about it, per event name
    min_delay: dict[str, Duration] = Field(default_factory=dict)
    #: messages released together when a window opens (or quiet hours end) go over this long, not at once
    release_spread: Duration = timedelta(minutes=5)
    #: how lifecycle stages (prospect, first purchase, repeat, active, lapsed) are derived from orders
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    #: a global control group: this share of customers gets no promotional message at all
    #: (righttime.core.holdout)
    control_group: Percent | None = None
    #: conversion attribution (righttime.core.attribution)
    attribution: Attribution = Field(default_factory=Attribution)
    #: the topics customers may opt out of one by one, id -> the label the preference page shows
    topics: dict[str, str] = Field(default_factory=dict, max_length=20)
    #: back in stock, price drops and stock in templates
    catalog: CatalogPolicy = Field(default_factory=CatalogPolicy)

    @field_validator("topics")
    @classmethod
    def _topic_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for topic, label in value.items():
            if not re.fullmatch(TOPIC_PATTERN, topic):
                raise ValueError(f"topic {topic!r}: ids are 1-40 lower-case letters, digits, _ or -")
            if not 0 < len(label) <= 80:
                raise ValueError(f"topic {topic!r}: its label is 1-80 characters")
        return value

    @field_validator("release_spread")
    @classmethod
    def _short_spread(cls, value: timedelta) -> timedelta:
        if value > timedelta(hours=1):
            raise ValueError("release_spread is at most 1h")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if zone(value) is None:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)")
        return value

    @property
    def longest_cap(self) -> timedelta:
        return max((cap.period for cap in self.frequency_caps), default=timedelta(0))

    @property
    def sends_to_keep(self) -> timedelta:
        """How long the profile remembers a send: for the caps, and for attributing an order to it."""
        return max(self.longest_cap, self.attribution.window)


class PolicyError(RighttimeError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid policy:\n  " + "\n  ".join(problems))
        self.problems = problems


def load_policy(directory: Path) -> GlobalPolicy:
    """Load `policy.yaml` from the campaigns folder; without one, no global rule applies."""
    path = directory / POLICY_FILE
    if not path.is_file():
        return GlobalPolicy()
    import yaml  # here: a Lambda loads the build's compiled campaigns and never needs PyYAML

    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PolicyError([f"{path.name}: not valid YAML: {exc}"]) from exc
    try:
        return GlobalPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(
            [
                f"{path.name}: {'.'.join(str(p) for p in err['loc']) or '(policy)'}: {err['msg']}"
                for err in exc.errors()
            ]
        ) from exc
