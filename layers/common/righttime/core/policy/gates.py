"""Gates: may this customer get this campaign at all (consent, address, audience), and again (re-entry,
de-duplication)? And which template, given what they recently bought?"""

from __future__ import annotations

from datetime import datetime

from pydantic import JsonValue

from righttime.core.campaigns import Campaign, Kind, ReentryMode
from righttime.core.conditions import first_failing
from righttime.core.decisions import (
    Reason,
    ReasonCode,
)
from righttime.core.global_policy import GlobalPolicy
from righttime.core.profiles import Profile, facts


def eligibility(profile: Profile, campaign: Campaign, suppressed: str | None, now: datetime) -> list[Reason]:
    """Reasons `profile` may not receive `campaign` at all; empty when it may.

    `suppressed` is the suppression-list reason for the profile's address, when the caller looked it up.
    """
    if not profile.email:
        return [Reason(code=ReasonCode.NO_EMAIL)]
    reasons: list[Reason] = []
    if suppressed is not None:
        reasons.append(Reason(code=ReasonCode.ADDRESS_SUPPRESSED, detail={"suppression": suppressed}))
    if campaign.kind is Kind.PROMOTIONAL and profile.unsubscribed:
        reasons.append(Reason(code=ReasonCode.UNSUBSCRIBED))
    failing = first_failing(campaign.audience, facts(profile, now))
    if failing is not None:
        reasons.append(Reason(code=ReasonCode.AUDIENCE, detail={"condition": failing.describe()}))
    return reasons


def reentry_blockers(profile: Profile, campaign: Campaign, key: str | None, now: datetime) -> list[Reason]:
    """Re-entry and de-duplication: has this customer had this campaign (for this key) too recently?"""
    history = profile.history.get(campaign.id)
    if history is None:
        return []
    if key is not None and key in history.keys:
        return [Reason(code=ReasonCode.DUPLICATE_KEY, detail={"key": campaign.dedupe_key, "value": key})]
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
    return [
        Reason(code=ReasonCode.REENTRY, detail={"mode": rule.mode.value, "last_sent_at": last.isoformat()})
    ]


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
    detail: dict[str, JsonValue] = {"category": category, "bought_at": bought_at.isoformat()}
    if campaign.cross_sell is not None:
        return campaign.cross_sell.template, [
            Reason(
                code=ReasonCode.CROSS_SELL_VARIANT,
                detail={**detail, "template": campaign.cross_sell.template},
            )
        ]
    return None, [Reason(code=ReasonCode.RECENTLY_BOUGHT, detail=detail)]
