"""Sending: when a schedule fires, re-check the context, claim the message, render, send, record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from righttime.adapters.store import Store
from righttime.campaigns import Campaign
from righttime.decisions import Decision, MessageStatus, OutboundMessage, Outcome, Reason, ReasonCode
from righttime.observability import logger
from righttime.policy import check_at_send
from righttime.rendering import Renderer, RenderError, build_mime, template_context
from righttime.settings import MailSettings


class MailBackend(Protocol):
    def send(self, mime: EmailMessage, tags: dict[str, str]) -> str: ...


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
    renderer: Renderer,
    mailer: MailBackend,
    mail: MailSettings,
    now: datetime,
    address_key: str | None = None,
) -> SendResult:
    """Handle one schedule firing for `message_id`. At-least-once safe: a second call never sends again."""
    profile, message, suppressed = store.load_for_send(customer_id, message_id, address_key)
    if message is None:
        logger.warning("fired for an unknown message", extra={"message_id": message_id})
        return SendResult(status="unknown_message")
    campaign = campaign_of.get(message.campaign_id)
    verdict = check_at_send(profile, message, campaign, suppressed, now)
    if verdict.ignore:
        logger.info("nothing to do", extra={"message_id": message_id, "status": message.status.value})
        return SendResult(status=f"ignored_{message.status.value}")
    if not verdict.send:
        assert verdict.outcome is not None
        decision = _decision(message, verdict.outcome, list(verdict.reasons), now)
        closed = store.close(message, MessageStatus(verdict.outcome.value), decision, now)
        return SendResult(status=verdict.outcome.value if closed else "lost_race", decision=decision)

    assert profile.email is not None  # check_at_send guarantees it
    try:
        rendered = renderer.render(
            message.template, template_context(profile, message.campaign_id, message_id)
        )
    except RenderError as exc:
        # A broken template will not fix itself on retry: settle the message and say why.
        decision = _decision(
            message, Outcome.FAILED, [Reason(code=ReasonCode.RENDER_FAILED, detail={"error": str(exc)})], now
        )
        store.close(message, MessageStatus.FAILED, decision, now)
        return SendResult(status="failed", decision=decision)
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
    from righttime.adapters.mailer import SendRejected  # imported here: only the sender path needs SES

    try:
        ses_id = mailer.send(mime, {"campaign": message.campaign_id, "message_id": message_id})
    except SendRejected as exc:
        decision = _decision(
            message, Outcome.FAILED, [Reason(code=ReasonCode.SES_REJECTED, detail={"error": str(exc)})], now
        )
        store.close(message, MessageStatus.FAILED, decision, now)
        return SendResult(status="failed", decision=decision)
    except Exception:
        store.release(message, now)  # a transient error: give it back so the schedule's retry can send it
        raise
    decision = _decision(
        message,
        Outcome.SENT,
        [Reason(code=ReasonCode.DELIVERED_TO_SES, detail={"ses_message_id": ses_id})],
        now,
    )
    store.close(message, MessageStatus.SENT, decision, now, ses_message_id=ses_id)
    return SendResult(status="sent", decision=decision, ses_message_id=ses_id)


def _decision(message: OutboundMessage, outcome: Outcome, reasons: list[Reason], now: datetime) -> Decision:
    return Decision(
        customer_id=message.customer_id,
        campaign_id=message.campaign_id,
        outcome=outcome,
        decided_at=now,
        reasons=reasons,
        message_id=message.message_id,
        send_at=message.send_at,
        trigger_event=message.trigger_event,
        trigger_message_id=message.trigger_message_id,
    )
