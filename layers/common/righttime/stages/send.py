"""Sending: when a schedule fires, apply the policy again, then claim, render, send and record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from righttime.core.campaigns import Campaign, Kind
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage, Outcome, Reason, status_for
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy import Action, CustomerZone, Move, SendDecision, decide_at_send
from righttime.core.profiles import PendingRef, Profile, forget_pending, record_send
from righttime.stages.ports import Mailer, SendRejected, SendUnavailable, Store
from righttime.stages.rendering import Renderer, RenderError, build_mime, template_context

#: how long to wait after each failed attempt to reach SES; after the last, the message fails
SEND_RETRY_BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
)


@dataclass(frozen=True)
class MailIdentity:
    """Who messages come from, and where replies asking to unsubscribe go."""

    sender_address: str
    sender_name: str = ""
    unsubscribe_mailto: str | None = None


@dataclass(frozen=True)
class SendResult:
    status: str
    decision: Decision | None = None
    ses_message_id: str | None = None


def send_due_message(
    customer_id: str,
    message_id: str,
    *,
    store: Store,
    campaign_of: dict[str, Campaign],
    policy: GlobalPolicy,
    renderer: Renderer,
    mailer: Mailer,
    mail: MailIdentity,
    now: datetime,
    address_key: str | None = None,
) -> SendResult:
    """Handle one schedule firing for `message_id`. At-least-once safe: a second call never sends again."""
    profile, message, suppressed = store.load_for_send(customer_id, message_id, address_key)
    if message is None:
        return SendResult(status="unknown_message")
    campaign = campaign_of.get(message.campaign_id)
    verdict = decide_at_send(profile, message, campaign, policy, suppressed, now)
    match verdict.action:
        case Action.IGNORE:
            return SendResult(status=f"ignored_{message.status.value}")
        case Action.CLOSE:
            assert verdict.outcome is not None
            return _close(store, profile, message, verdict.outcome, list(verdict.reasons), now, verdict.zone)
        case Action.DEFER:
            return _defer(store, profile, message, verdict, now)
    assert verdict.template is not None and profile.email is not None  # decide_at_send guarantees both
    try:
        context = template_context(
            profile,
            message.campaign_id,
            message_id,
            campaign.variables if campaign else {},
            (message.trigger_event, message.trigger_properties),
        )
        rendered = renderer.render(verdict.template, context)
    except RenderError as exc:
        # A broken template will not fix itself on retry: settle the message and say why.
        reasons = [Reason.render_failed(str(exc))]
        return _close(store, profile, message, Outcome.FAILED, reasons, now, verdict.zone)
    if not store.claim(message, now):
        return SendResult(status="already_claimed")
    mime = build_mime(
        rendered,
        sender_address=mail.sender_address,
        sender_name=mail.sender_name,
        to=profile.email,
        message_id=message_id,
        sent_at=now,
        unsubscribe_mailto=mail.unsubscribe_mailto,
    )
    try:
        ses_id = mailer.send(mime, {"campaign": message.campaign_id, "message_id": message_id})
    except SendRejected as exc:
        reasons = [Reason.ses_rejected(str(exc))]
        return _close(store, profile, message, Outcome.FAILED, reasons, now, verdict.zone)
    except SendUnavailable as exc:
        return _retry_later(store, profile, message, str(exc), now, verdict.zone)
    reasons = [*verdict.reasons, Reason.delivered_to_ses(ses_id)]
    decision = Decision.made(
        Outcome.SENT,
        reasons,
        customer_id=message.customer_id,
        campaign_id=message.campaign_id,
        at=now,
        zone=verdict.zone,
        message_id=message.message_id,
        send_at=message.send_at,
        trigger_event=message.trigger_event,
        trigger_message_id=message.trigger_message_id,
    )
    promotional = campaign is None or campaign.kind is Kind.PROMOTIONAL

    def sent(p: Profile) -> None:
        _forget_pending(p, message)
        record_send(p, message.campaign_id, promotional, now, message.dedupe_key, keep=policy.longest_cap)

    store.settle(profile, message, MessageStatus.SENT, decision, now, sent, ses_message_id=ses_id)
    return SendResult(status="sent", decision=decision, ses_message_id=ses_id)


def _close(
    store: Store,
    profile: Profile,
    message: OutboundMessage,
    outcome: Outcome,
    reasons: list[Reason],
    now: datetime,
    zone: CustomerZone | None,
) -> SendResult:
    decision = Decision.made(
        outcome,
        reasons,
        customer_id=message.customer_id,
        campaign_id=message.campaign_id,
        at=now,
        zone=zone,
        message_id=message.message_id,
        send_at=message.send_at,
        trigger_event=message.trigger_event,
        trigger_message_id=message.trigger_message_id,
    )
    settled = store.settle(
        profile, message, status_for(outcome), decision, now, lambda p: _forget_pending(p, message)
    )
    return SendResult(status=outcome.value if settled else "lost_race", decision=decision)


def _defer(
    store: Store, profile: Profile, message: OutboundMessage, verdict: SendDecision, now: datetime
) -> SendResult:
    assert verdict.at is not None
    moved = _move(store, profile, message, verdict.at, list(verdict.reasons), now, verdict.zone)
    return SendResult(status="deferred" if moved[0] else "lost_race", decision=moved[1])


def _retry_later(
    store: Store,
    profile: Profile,
    message: OutboundMessage,
    error: str,
    now: datetime,
    zone: CustomerZone | None,
) -> SendResult:
    """SES could not take it now: back off (a new schedule generation), and give up after a few tries."""
    attempts = message.attempts + 1
    if attempts >= len(SEND_RETRY_BACKOFF) + 1:
        reasons = [Reason.ses_gave_up(error, attempts)]
        return _close(store, profile, message, Outcome.FAILED, reasons, now, zone)
    retry_at = now + SEND_RETRY_BACKOFF[attempts - 1]
    reasons = [Reason.ses_unavailable(error, attempts, retry_at)]
    moved, decision = _move(
        store, profile, message, retry_at, reasons, now, zone, claimed=True, attempts=attempts
    )
    return SendResult(status="retry_later" if moved else "lost_race", decision=decision)


def _move(
    store: Store,
    profile: Profile,
    message: OutboundMessage,
    at: datetime,
    reasons: list[Reason],
    now: datetime,
    zone: CustomerZone | None,
    *,
    claimed: bool = False,
    attempts: int | None = None,
) -> tuple[bool, Decision]:
    """Move the message (and the profile's reference to it) to `at`, as a new schedule generation."""
    move = Move(message.message_id, at, message.generation + 1, reasons)
    decision = Decision.made(
        Outcome.DEFERRED,
        reasons,
        customer_id=message.customer_id,
        campaign_id=message.campaign_id,
        at=now,
        zone=zone,
        message_id=message.message_id,
        send_at=at,
        trigger_event=message.trigger_event,
        trigger_message_id=message.trigger_message_id,
    )

    def moved(p: Profile) -> None:
        waiting = pending_ref(message, at, move.generation)
        ref = p.pending.get(waiting.key)
        if ref is None:
            # An evaluation that found this message claimed (sending) dropped its reference; it waits
            # again, so exits and caps must find it again.
            p.pending[waiting.key] = waiting
        elif ref.message_id == message.message_id:
            p.pending[waiting.key] = ref.model_copy(update={"send_at": at, "generation": move.generation})

    return store.defer(
        profile, message, move, decision, now, moved, claimed=claimed, attempts=attempts
    ), decision


def pending_ref(message: OutboundMessage, at: datetime, generation: int) -> PendingRef:
    """The profile's reference to a waiting message, rebuilt from the message itself."""
    return PendingRef(
        campaign_id=message.campaign_id,
        message_id=message.message_id,
        send_at=at,
        trigger_at=message.trigger_at,
        desired_at=message.desired_at,
        send_by=message.send_by,
        priority=message.priority,
        promotional=message.kind is Kind.PROMOTIONAL,
        dedupe_key=message.dedupe_key,
        generation=generation,
    )


def _forget_pending(profile: Profile, message: OutboundMessage) -> None:
    promotional = message.kind is Kind.PROMOTIONAL
    forget_pending(profile, message.campaign_id, message.message_id, promotional=promotional)
