"""Gates: may this customer get this campaign at all (consent, address, audience), and again (re-entry,
de-duplication)? And which template, given what they recently bought?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from righttime.core.addresses import usable_address
from righttime.core.campaigns import Campaign, Kind, ReentryMode
from righttime.core.conditions import Condition, Predicate
from righttime.core.decisions import Reason
from righttime.core.global_policy import GlobalPolicy
from righttime.core.profiles import Profile, facts

# Reasons are values: these two read the same for every customer and campaign.
_NO_EMAIL = Reason.no_email()
_UNSUBSCRIBED = Reason.unsubscribed()


@dataclass(frozen=True, slots=True)
class Audience:
    """A campaign's audience conditions, compiled: each one's predicate, with the reason its failure gives
    (the same for every customer, so built once)."""

    checks: tuple[tuple[Predicate, Reason], ...]

    @classmethod
    def of(cls, conditions: Sequence[Condition]) -> Audience:
        return cls(tuple((condition.predicate(), Reason.audience(condition)) for condition in conditions))

    def refusal(self, known_facts: dict[str, Any]) -> Reason | None:
        """The reason of the first condition that fails for `known_facts`; None if every one holds."""
        for holds, reason in self.checks:
            if not holds(known_facts):
                return reason
        return None


def eligibility(
    profile: Profile,
    campaign: Campaign,
    suppressed: str | None,
    now: datetime,
    known_facts: dict[str, Any] | None = None,
    audience: Audience | None = None,
) -> list[Reason]:
    """Reasons `profile` may not receive `campaign` at all; empty when it may.

    `suppressed` is the suppression-list reason for the profile's address, when the caller looked it up;
    `known_facts` the profile's `facts` at `now` and `audience` the campaign's audience compiled, when the
    caller decides many campaigns at once.
    """
    if usable_address(profile.email) is None:  # none, or one stored before addresses were checked
        return [_NO_EMAIL]
    reasons: list[Reason] = []
    if suppressed is not None:
        reasons.append(Reason.address_suppressed(suppressed))
    if campaign.kind is Kind.PROMOTIONAL and profile.unsubscribed:
        reasons.append(_UNSUBSCRIBED)
    elif campaign.topic is not None and campaign.topic in profile.topic_opt_outs:
        reasons.append(Reason.topic_opted_out(campaign.topic))
    if campaign.audience:
        if audience is None:
            audience = Audience.of(campaign.audience)
        failing = audience.refusal(facts(profile, now) if known_facts is None else known_facts)
        if failing is not None:
            reasons.append(failing)
    return reasons


def reentry_blockers(profile: Profile, campaign: Campaign, key: str | None, now: datetime) -> list[Reason]:
    """Re-entry and de-duplication: has this customer had this campaign (for this key) too recently?"""
    history = profile.history.get(campaign.id)
    if history is None:
        return []
    if key is not None and key in history.keys:
        return [Reason.duplicate_key(campaign.dedupe_key, key)]
    last = history.last_sent_at
    if last is None:
        return []
    rule = campaign.reentry
    blocked = (
        rule.mode is ReentryMode.ONCE
        or (rule.mode is ReentryMode.ONCE_PER and rule.period is not None and now - last < rule.period)
        or (rule.mode is ReentryMode.EVERY_TIME and now - last < rule.min_interval)
    )
    if not blocked:
        return []
    return [Reason.reentry(rule.mode, last)]


def choose_template(
    profile: Profile, campaign: Campaign, category: str | None, policy: GlobalPolicy, now: datetime
) -> tuple[str | None, list[Reason]]:
    """The template to send, given what the customer recently bought; None (with the reason) when the
    message would be about a category they just bought and the campaign has no cross-sell variant."""
    if campaign.kind is Kind.TRANSACTIONAL or policy.recent_purchase is None or category is None:
        return campaign.template, []
    bought_at = profile.recent_categories.get(category)
    if bought_at is None or now - bought_at > policy.recent_purchase.window:
        return campaign.template, []
    if campaign.cross_sell is not None:
        template = campaign.cross_sell.template
        return template, [Reason.cross_sell_variant(category, bought_at, template)]
    return None, [Reason.recently_bought(category, bought_at)]
