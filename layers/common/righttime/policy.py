"""The right-time policy: pure functions from (profile, event, campaigns, now) to explained decisions.

The same checks run twice: when an event is evaluated, and again when the message is about to be sent,
because context can change in between (a purchase on another channel, an unsubscribe).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from righttime.campaigns import Campaign, Kind
from righttime.decisions import (
    Decision,
    MessageStatus,
    OutboundMessage,
    Outcome,
    Reason,
    ReasonCode,
    message_id_for,
)
from righttime.events import QueuedEvent, TrackMessage
from righttime.profiles import PendingRef, Profile

ORDER_COMPLETED = "Order Completed"
#: a schedule that fires this much before a message's send_at is stale (the message was rescheduled)
STALE_FIRE_TOLERANCE = timedelta(minutes=5)


@dataclass
class Plan:
    """What one event changes: the profile to store, decisions to record, messages to write or cancel."""

    profile: Profile
    decisions: list[Decision] = field(default_factory=list)
    schedule: list[OutboundMessage] = field(default_factory=list)
    cancel: list[tuple[str, Decision]] = field(default_factory=list)


def plan_event(profile: Profile, event: QueuedEvent, campaigns: Sequence[Campaign], now: datetime) -> Plan:
    """Decide what `event` means for every campaign, given `profile` as it is *after* the event.

    Exits are applied first (a purchase cancels the pending cart reminder), then triggers.
    """
    plan = Plan(profile=profile.model_copy(deep=True))
    message = event.message
    if not isinstance(message, TrackMessage):
        return plan
    by_id = {campaign.id: campaign for campaign in campaigns}
    _apply_exits(plan, by_id, event, message.event, now)
    for campaign in campaigns:
        if campaign.is_triggered_by(message.event):
            _apply_trigger(plan, campaign, event, message.event, now)
    return plan


def _apply_exits(
    plan: Plan, by_id: dict[str, Campaign], event: QueuedEvent, name: str, now: datetime
) -> None:
    for campaign_id, ref in sorted(plan.profile.pending.items()):
        campaign = by_id.get(campaign_id)
        if campaign is None or not campaign.exits_on(name) or event.occurred_at < ref.trigger_at:
            continue
        reason = _exit_reason(name, event, plan.profile)
        decision = Decision(
            customer_id=plan.profile.customer_id,
            campaign_id=campaign_id,
            outcome=Outcome.CANCELLED,
            decided_at=now,
            reasons=[reason],
            message_id=ref.message_id,
            trigger_event=name,
            trigger_message_id=event.message_id,
        )
        plan.cancel.append((ref.message_id, decision))
        plan.decisions.append(decision)
        del plan.profile.pending[campaign_id]


def _exit_reason(name: str, event: QueuedEvent, profile: Profile) -> Reason:
    if name == ORDER_COMPLETED:
        return Reason(
            code=ReasonCode.CONVERTED,
            detail={
                "event": name,
                "order_id": profile.last_order_id,
                "at": event.occurred_at.isoformat(),
            },
        )
    return Reason(code=ReasonCode.EXIT_EVENT, detail={"event": name, "at": event.occurred_at.isoformat()})


def _apply_trigger(plan: Plan, campaign: Campaign, event: QueuedEvent, name: str, now: datetime) -> None:
    profile = plan.profile
    base = Decision(
        customer_id=profile.customer_id,
        campaign_id=campaign.id,
        outcome=Outcome.SUPPRESSED,
        decided_at=now,
        reasons=[],
        trigger_event=name,
        trigger_message_id=event.message_id,
    )
    blockers = eligibility(profile, campaign)
    if blockers:
        plan.decisions.append(base.model_copy(update={"reasons": blockers}))
        return

    send_at = max(event.occurred_at + campaign.timing.delay, now)
    ref = profile.pending.get(campaign.id)
    if ref is not None and ref.send_at > now:
        # One pending message per campaign: a repeated trigger (another Product Added) moves it, counting
        # the delay from the latest activity, instead of queueing a second reminder.
        reason = Reason(
            code=ReasonCode.TRIGGER_REPEATED,
            detail={
                "event": name,
                "delay": str(campaign.timing.delay),
                "previous_send_at": ref.send_at.isoformat(),
            },
        )
        message_id, trigger_at = ref.message_id, ref.trigger_at
    else:
        reason = Reason(
            code=ReasonCode.TRIGGERED, detail={"event": name, "delay": str(campaign.timing.delay)}
        )
        message_id = message_id_for(profile.customer_id, campaign.id, event.message_id)
        trigger_at = event.occurred_at
    decision = base.model_copy(
        update={
            "outcome": Outcome.SCHEDULED,
            "reasons": [reason],
            "message_id": message_id,
            "send_at": send_at,
        }
    )
    plan.decisions.append(decision)
    plan.schedule.append(
        OutboundMessage(
            message_id=message_id,
            customer_id=profile.customer_id,
            campaign_id=campaign.id,
            kind=campaign.kind,
            template=campaign.template,
            send_at=send_at,
            created_at=now,
            updated_at=now,
            trigger_event=name,
            trigger_message_id=event.message_id,
            trigger_at=trigger_at,
            to=profile.email,
            reasons=[reason],
        )
    )
    profile.pending[campaign.id] = PendingRef(message_id=message_id, send_at=send_at, trigger_at=trigger_at)


def eligibility(profile: Profile, campaign: Campaign, suppressed: str | None = None) -> list[Reason]:
    """Reasons `profile` may not receive `campaign` now; empty when it may.

    `suppressed` is the suppression-list reason for the profile's address, when the caller looked it up.
    """
    if not profile.email:
        return [Reason(code=ReasonCode.NO_EMAIL)]
    reasons: list[Reason] = []
    if suppressed is not None:
        reasons.append(Reason(code=ReasonCode.ADDRESS_SUPPRESSED, detail={"suppression": suppressed}))
    if campaign.kind is Kind.PROMOTIONAL and profile.unsubscribed:
        reasons.append(Reason(code=ReasonCode.UNSUBSCRIBED))
    if campaign.audience.has_cart_items and not profile.cart:
        reasons.append(Reason(code=ReasonCode.CART_EMPTY))
    return reasons


@dataclass(frozen=True)
class SendVerdict:
    """What the sender should do with a message that fired: send it, or close it with an outcome."""

    send: bool
    outcome: Outcome | None = None
    reasons: tuple[Reason, ...] = ()
    #: True when the fire is stale or the message is already settled: do nothing, record nothing
    ignore: bool = False


def check_at_send(
    profile: Profile,
    message: OutboundMessage,
    campaign: Campaign | None,
    suppressed: str | None,
    now: datetime,
) -> SendVerdict:
    """Re-apply the policy when a message's schedule fires: has the context changed since it was planned?"""
    if message.status is not MessageStatus.PENDING or message.send_at - now > STALE_FIRE_TOLERANCE:
        return SendVerdict(send=False, ignore=True)
    if campaign is None or not campaign.enabled:
        return SendVerdict(
            send=False,
            outcome=Outcome.CANCELLED,
            reasons=(Reason(code=ReasonCode.CAMPAIGN_DISABLED, detail={"campaign": message.campaign_id}),),
        )
    if (
        campaign.exits_on(ORDER_COMPLETED)
        and profile.last_order_at is not None
        and profile.last_order_at >= message.trigger_at
    ):
        return SendVerdict(
            send=False,
            outcome=Outcome.CANCELLED,
            reasons=(
                Reason(
                    code=ReasonCode.CONVERTED,
                    detail={"order_id": profile.last_order_id, "at": profile.last_order_at.isoformat()},
                ),
            ),
        )
    blockers = eligibility(profile, campaign, suppressed)
    if blockers:
        outcome = Outcome.CANCELLED if blockers[0].code is ReasonCode.CART_EMPTY else Outcome.SUPPRESSED
        return SendVerdict(send=False, outcome=outcome, reasons=tuple(blockers))
    return SendVerdict(send=True)
