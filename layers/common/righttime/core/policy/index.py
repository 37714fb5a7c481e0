"""The campaign set as planning reads it: by id, and by trigger event in priority order, each campaign with
what no customer changes worked out (its filters and audience compiled, its `triggered` reasons). Built once
per campaign set and reused for every event, so an event looks only at the campaigns it can trigger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from righttime.core.campaigns import Campaign
from righttime.core.conditions import Predicate
from righttime.core.decisions import Reason
from righttime.core.policy.gates import Audience
from righttime.core.policy.placement import priority_order


@dataclass(frozen=True, slots=True)
class CompiledCampaign:
    """A campaign with what planning asks of it for every customer worked out once."""

    campaign: Campaign
    #: the trigger's `where` filters
    where: tuple[Predicate, ...]
    audience: Audience
    #: the `triggered` reason for each trigger event: reasons are values, one serves every customer
    triggered: dict[str, Reason]

    @classmethod
    def of(cls, campaign: Campaign) -> CompiledCampaign:
        trigger, delay = campaign.trigger, campaign.timing.delay
        return cls(
            campaign=campaign,
            where=tuple(condition.predicate() for condition in trigger.where),
            audience=Audience.of(campaign.audience),
            triggered={name: Reason.triggered(name, delay) for name in trigger.events},
        )

    def matches(self, properties: dict[str, Any]) -> bool:
        """Whether an event's `properties` pass the trigger's filters (its name is the index's business)."""
        return all(holds(properties) for holds in self.where)


#: campaign sets remembered at once: a function holds one, a simulation comparing two holds two
_REMEMBERED = 8


@dataclass(frozen=True, slots=True)
class CampaignIndex:
    #: the campaigns indexed, held so that the cache key (their identities) stays theirs
    campaigns: tuple[Campaign, ...]
    by_id: dict[str, Campaign]
    #: enabled campaigns by the event names that trigger them, each list in priority order
    by_trigger: dict[str, tuple[CompiledCampaign, ...]]

    @classmethod
    def of(cls, campaigns: Sequence[Campaign]) -> CampaignIndex:
        by_trigger: dict[str, list[CompiledCampaign]] = {}
        for campaign in sorted(campaigns, key=lambda c: priority_order(c.priority, c.id)):
            if campaign.enabled:
                compiled = CompiledCampaign.of(campaign)
                for name in dict.fromkeys(campaign.trigger.events):
                    by_trigger.setdefault(name, []).append(compiled)
        return cls(
            campaigns=tuple(campaigns),
            by_id={campaign.id: campaign for campaign in campaigns},
            by_trigger={name: tuple(listed) for name, listed in by_trigger.items()},
        )

    def triggered_by(self, event_name: str) -> tuple[CompiledCampaign, ...]:
        """The enabled campaigns `event_name` may trigger (their filters still to check), highest priority
        first."""
        return self.by_trigger.get(event_name, ())


_indexes: dict[tuple[int, ...], CampaignIndex] = {}


def campaign_index(campaigns: Sequence[Campaign]) -> CampaignIndex:
    """The index of `campaigns`, built on first use. Campaigns are frozen, so the same objects in the same
    order always index the same way; the index keeps them alive, so their identities cannot be reused."""
    key = tuple(map(id, campaigns))
    index = _indexes.get(key)
    if index is None:
        index = CampaignIndex.of(campaigns)
        if len(_indexes) >= _REMEMBERED:
            del _indexes[next(iter(_indexes))]
        _indexes[key] = index
    return index
