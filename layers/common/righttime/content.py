"""Marketer-owned content (campaigns, the global policy, templates), loaded once per container from the
configured folders."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from righttime import settings
from righttime.campaigns import Campaign, load_campaigns
from righttime.global_policy import GlobalPolicy, load_policy

if TYPE_CHECKING:  # only the sender renders: evaluate must not pay for importing Jinja2
    from righttime.rendering import Renderer


@cache
def campaigns() -> tuple[Campaign, ...]:
    return tuple(load_campaigns(settings.content().campaigns_dir))


@cache
def campaigns_by_id() -> dict[str, Campaign]:
    return {campaign.id: campaign for campaign in campaigns()}


@cache
def policy() -> GlobalPolicy:
    return load_policy(settings.content().campaigns_dir)


@cache
def renderer() -> Renderer:
    from righttime.rendering import Renderer

    return Renderer(settings.content().templates_dir)


def reset() -> None:
    for getter in (campaigns, campaigns_by_id, policy, renderer):
        getter.cache_clear()
