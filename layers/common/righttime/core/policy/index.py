"""The campaign set as planning reads it: by id, and by trigger event in priority order. Built once per
campaign set and reused for every event, so an event looks only at the campaigns it can trigger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from righttime.core.campaigns import Campaign
from righttime.core.policy.placement import priority_order

#: campaign sets remembered at once: a function holds one, a simulation comparing two holds two
_REMEMBERED = 8


@dataclass(frozen=True, slots=True)
class CampaignIndex:
    #: the campaigns indexed, held so that the cache key (their identities) stays theirs
    campaigns: tuple[Campaign, ...]
    by_id: dict[str, Campaign]
    #: enabled campaigns by the event names that trigger them, each list in priority order
    by_trigger: dict[str, tuple[Campaign, ...]]

    @classmethod
    def of(cls, campaigns: Sequence[Campaign]) -> CampaignIndex:
        by_trigger: dict[str, list[Campaign]] = {}
        for campaign in sorted(campaigns, key=lambda c: priority_order(c.priority, c.id)):
            if campaign.enabled:
                for name in dict.fromkeys(campaign.trigger.events):
                    by_trigger.setdefault(name, []).append(campaign)
        return cls(
            campaigns=tuple(campaigns),
            by_id={campaign.id: campaign for campaign in campaigns},
            by_trigger={name: tuple(listed) for name, listed in by_trigger.items()},
        )

    def triggered_by(self, event_name: str) -> tuple[Campaign, ...]:
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
