"""Re-checking, when a schedule fires: context changes between planning and sending (a purchase in store, an
unsubscribe, a cap filled by another message, a delay that now lands in quiet hours)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from righttime.core import calendar
from righttime.core.campaigns import Campaign, Kind
from righttime.core.decisions import MessageStatus, OutboundMessage, Outcome, Reason, ReasonCode
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy.gates import choose_template, eligibility
from righttime.core.policy.placement import (
    TakenSlots,
    earliest_for_campaign,
    place,
    priority_order,
    unplaceable_outcome,
)
from righttime.core.policy.plan import ORDER_COMPLETED, SEND_NOW_TOLERANCE
from righttime.core.policy.zone import CustomerZone, customer_zone
from righttime.core.profiles import Profile, facts

#: a schedule that fires this much before its message's send_at is stale (the message moved since)
STALE_FIRE_TOLERANCE = timedelta(minutes=5)


class Action(StrEnum):
    SEND = "send"
    DEFER = "defer"
    CLOSE = "close"
    IGNORE = "ignore"


@dataclass(frozen=True)
class SendDecision:
    """What the sender should do with a message whose schedule fired."""

    action: Action
    outcome: Outcome | None = None
    reasons: tuple[Reason, ...] = ()
    at: datetime | None = None
    template: str | None = None
    zone: CustomerZone | None = None


def decide_at_send(
    profile: Profile,
    message: OutboundMessage,
    campaign: Campaign | None,
    policy: GlobalPolicy,
    suppressed: str | None,
    now: datetime,
) -> SendDecision:
    """Apply the policy again at fire time: send now, defer, or close the message with an outcome."""
    if message.status is not MessageStatus.PENDING or message.send_at - now > STALE_FIRE_TOLERANCE:
        return SendDecision(Action.IGNORE)
    zone = customer_zone(profile, policy)

    def close(outcome: Outcome, reasons: list[Reason]) -> SendDecision:
        return SendDecision(Action.CLOSE, outcome, tuple(reasons), zone=zone)

    if campaign is None or not campaign.enabled:
        return close(Outcome.CANCELLED, [Reason.campaign_disabled(message.campaign_id)])
    if (
        campaign.exits_on(ORDER_COMPLETED)
        and profile.last_order_at is not None
        and profile.last_order_at >= message.trigger_at
    ):
        return close(Outcome.CANCELLED, [Reason.converted(profile.last_order_id, profile.last_order_at)])
    exit_condition = next((c for c in campaign.exit.conditions if c.holds(facts(profile, now))), None)
    if exit_condition is not None:
        return close(Outcome.CANCELLED, [Reason.exit_condition(exit_condition)])
    blockers = eligibility(profile, campaign, suppressed, now)
    if blockers:
        return close(Outcome.SUPPRESSED, blockers)
    template, bought = choose_template(profile, campaign, _message_category(campaign, message), policy, now)
    if template is None:
        return close(Outcome.SUPPRESSED, bought)
    if campaign.kind is Kind.TRANSACTIONAL:
        return SendDecision(Action.SEND, template=template, zone=zone)
    if message.send_by is not None and now > message.send_by:
        return close(Outcome.EXPIRED, [Reason.send_by_passed_when_fired(message.send_by, now)])

    earliest = earliest_for_campaign(
        profile, campaign, policy, zone, message.trigger_at, message.trigger_event, now
    )
    if earliest.at is None:
        return close(earliest.outcome or Outcome.SUPPRESSED, earliest.reasons)
    # The slots of waiting promotional messages that outrank this one are taken, as when planning.
    mine = priority_order(campaign.priority, campaign.id, message.desired_at or message.send_at)
    others = [
        ref.send_at
        for ref in profile.pending.values()
        if ref.campaign_id != campaign.id
        and ref.promotional
        and priority_order(ref.priority, ref.campaign_id, ref.desired_at or ref.send_at) < mine
    ]
    taken = TakenSlots([s.at for s in profile.sends if s.promotional] + others)
    placement = place(earliest.at, zone, campaign, policy, taken, message.send_by)
    at, capped = placement.at, placement.reasons(zone)
    if at is None:
        return close(unplaceable_outcome(capped), earliest.reasons + capped)
    # A fire a little early (Scheduler's minute precision) sends, but only at an instant the window and quiet
    # hours allow on the customer's clock now: a customer who changed zone since planning may be in them.
    window, quiet = campaign.timing.window, policy.quiet_hours
    if at <= now or (at - now <= SEND_NOW_TOLERANCE and calendar.allowed(now, zone.tz, window, quiet)):
        return SendDecision(Action.SEND, reasons=tuple(bought), template=template, zone=zone)
    moved = [
        r for r in earliest.reasons + capped if r.code not in (ReasonCode.MIN_DELAY, ReasonCode.LOCAL_TIME)
    ]
    return SendDecision(Action.DEFER, Outcome.DEFERRED, tuple(moved), at=at, template=template, zone=zone)


def _message_category(campaign: Campaign, message: OutboundMessage) -> str | None:
    # The category was fixed when the message was planned (from the trigger's properties, or the campaign).
    return campaign.category if campaign.category_property is None else message.category
