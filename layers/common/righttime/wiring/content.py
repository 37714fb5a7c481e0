"""Marketer-owned content (campaigns, the global policy, templates), loaded from its folders on first use and
kept for the life of the container."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from righttime.core.campaigns import Campaign, load_campaigns
from righttime.core.global_policy import GlobalPolicy, load_policy

if TYPE_CHECKING:  # only the sender renders: evaluate must not pay for importing Jinja2
    from righttime.stages.rendering import Renderer


class Content:
    def __init__(self, campaigns_dir: Path, templates_dir: Path) -> None:
        self.campaigns_dir = campaigns_dir
        self.templates_dir = templates_dir

    @cached_property
    def campaigns(self) -> tuple[Campaign, ...]:
        return tuple(load_campaigns(self.campaigns_dir))

    @cached_property
    def campaigns_by_id(self) -> dict[str, Campaign]:
        return {campaign.id: campaign for campaign in self.campaigns}

    @cached_property
    def policy(self) -> GlobalPolicy:
        return load_policy(self.campaigns_dir)

    @cached_property
    def renderer(self) -> Renderer:
        from righttime.stages.rendering import Renderer

        return Renderer(self.templates_dir)
