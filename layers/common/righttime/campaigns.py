"""Campaigns are data: marketers declare them in YAML files, validated here with errors that name
the file, the campaign and the field."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from righttime.durations import Duration
from righttime.errors import RighttimeError

CAMPAIGN_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,47}$"


class Kind(StrEnum):
    #: expected by the customer (receipts, confirmations): never delayed by marketing rules
    TRANSACTIONAL = "transactional"
    #: marketing: subject to consent and every context rule
    PROMOTIONAL = "promotional"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Strict):
    events: list[str] = Field(min_length=1, description="Track event names that start this campaign.")


class Timing(_Strict):
    delay: Duration = Field(default=timedelta(hours=1), description="How long after the trigger to send.")

    @field_validator("delay")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > timedelta(days=365):
            raise ValueError("delay must be between 0s and 365d")
        return value


class Exit(_Strict):
    events: list[str] = Field(default_factory=list, description="Events that cancel a pending message.")


class Audience(_Strict):
    has_cart_items: bool | None = Field(
        default=None, description="true: only customers whose cart is not empty, checked again at send time."
    )


class Campaign(_Strict):
    id: str = Field(pattern=CAMPAIGN_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    kind: Kind = Kind.PROMOTIONAL
    priority: int = Field(default=0, ge=0, le=1000)
    trigger: Trigger
    audience: Audience = Field(default_factory=Audience)
    timing: Timing = Field(default_factory=Timing)
    exit: Exit = Field(default_factory=Exit)
    template: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="Folder under templates/.")

    def is_triggered_by(self, event_name: str) -> bool:
        return self.enabled and event_name in self.trigger.events

    def exits_on(self, event_name: str) -> bool:
        return event_name in self.exit.events


class CampaignError(RighttimeError):
    """One or more campaign files are invalid; `problems` has one line per bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid campaigns:\n  " + "\n  ".join(problems))
        self.problems = problems


def load_campaigns(directory: Path) -> list[Campaign]:
    """Load every `*.yaml`/`*.yml` file in `directory` (one campaign per file), sorted by id.

    Raises CampaignError listing every problem in every file, each as `file: campaign: field: message`.
    """
    if not directory.is_dir():
        raise CampaignError([f"{directory}: campaigns folder not found"])
    problems: list[str] = []
    campaigns: dict[str, Campaign] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
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
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problems.append(f"{path.name}: not valid YAML: {exc}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name}: expected a mapping with the campaign's fields")
        return None
    label = str(data.get("id", path.stem))
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "(campaign)"
            problems.append(f"{path.name}: {label}: {where}: {err['msg']}")
        return None
