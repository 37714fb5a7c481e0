"""Marketer-owned content (campaigns and templates), loaded once per container from the configured folders."""

from __future__ import annotations

from functools import cache

from righttime import settings
from righttime.campaigns import Campaign, load_campaigns
from righttime.rendering import Renderer


@cache
def campaigns() -> tuple[Campaign, ...]:
    return tuple(load_campaigns(settings.content().campaigns_dir))


def campaign(campaign_id: str) -> Campaign | None:
    return next((c for c in campaigns() if c.id == campaign_id), None)


@cache
def renderer() -> Renderer:
    return Renderer(settings.content().templates_dir)


def reset() -> None:
    campaigns.cache_clear()
    renderer.cache_clear()
