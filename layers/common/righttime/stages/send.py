"""Sending: when a schedule fires, apply the policy again, then claim, render, send and record."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from righttime.core.addresses import usable_address
from righttime.core.campaigns import Campaign, Kind
from righttime.core.catalog import Shown, shown_products
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage, Outcome, Reason, status_for
from righttime.core.feedback import customer_reference, customer_tag
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy import Action, CustomerZone, Move, SendDecision, decide_at_send
from righttime.core.policy.plan import ORDER_COMPLETED
from righttime.core.profiles import PendingRef, Profile, forget_pending, record_send
from righttime.stages.ports import (
    MAIL_CALL_SECONDS,
    Catalog,
    Claim,
    Mailer,
    SendOutcomeUnknown,
    SendRejected,
    SendUnavailable,
    Store,
)
from righttime.stages.recommend import Recommender
from righttime.stages.rendering import Rendered, Renderer, RenderError, build_mime, template_context
from righttime.stages.unsubscribe import OneClick

#: how long a claim holds a message: well over one invocation (30 s), short enough for the sweeper to
#: recover the message soon after an invocation died holding it
LEASE = timedelta(minutes=5)
#: what must be left of the invocation to start a send: the SES call, then settling and recording it
SEND_BUDGET_SECONDS = MAIL_CALL_SECONDS + 8
#: when a send that lacked the time is tried again
DEADLINE_RETRY = timedelta(minutes=1)
#: decisions made again when the profile changed between the decision and the claim
CLAIM_ROUNDS = 3
#: the most products a message looks up in the catalog (one BatchGetItem); a cart holds at most 50 lines
BATCH_PRODUCTS = 100
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
    #: the one-click unsubscribe link of promotional messages (RFC 8058), when configured
    one_click: OneClick | None = None


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
    attempt_id: str,
    address_key: str | None = None,
    seconds_left: Callable[[], float] = lambda: math.inf,
    catalog: Catalog | None = None,
) -> SendResult:
    """Handle one schedule firing for `message_id`, as the sending attempt `attempt_id`.

    Exactly once in effect: the policy is applied again, the message is leased to this attempt only if the
    profile is still the one the send was decided on, the attempt is recorded before SES is called, and only a
    failure that proves SES took nothing is retried. An ambiguous one leaves the message `unknown` until SES's
    own events (or the sweeper) settle it. A send SES accepted is settled on the message first, with a write
    nothing can make fail, and then recorded on the profile with an idempotent update.
    """
    for _ in range(CLAIM_ROUNDS):
        profile, message, suppressed = store.load_for_send(customer_id, message_id, address_key)
        if message is None:
            return SendResult(status="unknown_message")
        if message.status is MessageStatus.SENT:
            # A retried invocation after the send: make sure the send reached the profile, then stop.
            _record_sent(store, message, _recorder(message, campaign_of, policy, message.updated_at))
            return SendResult(status="ignored_sent")
        campaign = campaign_of.get(message.campaign_id)
        verdict = decide_at_send(profile, message, campaign, policy, suppressed, now)
        match verdict.action:
            case Action.IGNORE:
                return SendResult(status=f"ignored_{message.status.value}")
            case Action.CLOSE:
                assert verdict.outcome is not None
                return _close(
                    store, profile, message, verdict.outcome, list(verdict.reasons), now, verdict.zone
                )
            case Action.DEFER:
                return _defer(store, profile, message, verdict, now)
        to = usable_address(profile.email)
        assert verdict.template is not None and to is not None  # decide_at_send guarantees both
        content = _content(campaign, message, profile, catalog, policy, renderer, verdict.template)
        if isinstance(content, _Refused):
            return _close(store, profile, message, content.outcome, content.reasons, now, verdict.zone)
        rendered, stock_reasons = content
        # The link is signed before anything is claimed: missing keys fail the invocation, and the message
        # stays pending.
        unsubscribe_url, left = _unsubscribe_url(mail, message, now), seconds_left()
        if left < SEND_BUDGET_SECONDS:
            retry_at = now + DEADLINE_RETRY
            reasons = [Reason.invocation_deadline(left, retry_at)]
            moved, decision = _move(store, profile, message, retry_at, reasons, now, verdict.zone)
            return SendResult(status="deferred" if moved else "lost_race", decision=decision)
        claim = store.claim(message, profile.version, attempt_id, now, now + LEASE)
        if claim is Claim.STALE:
            continue  # the customer changed since the decision (an order, an unsubscribe): decide again
        if claim is Claim.TAKEN:
            continue  # another attempt holds it, or it was settled meanwhile: read again and say which
        break
    else:
        raise RuntimeError(f"profile of {customer_id} kept changing while sending; the invocation is retried")

    if not store.start_attempt(message, attempt_id, now):
        return SendResult(status="lease_lost")
    mime = build_mime(
        rendered,
        sender_address=mail.sender_address,
        sender_name=mail.sender_name,
        to=to,
        message_id=message_id,
        sent_at=now,
        unsubscribe_mailto=mail.unsubscribe_mailto,
        customer_reference=customer_reference(customer_id),
        unsubscribe_url=unsubscribe_url,
    )
    tags = _ses_tags(message, attempt_id)
    try:
        ses_id = mailer.send(mime, tags)
    except SendRejected as exc:
        return _finish(
            store, message, attempt_id, Outcome.FAILED, [Reason.ses_rejected(str(exc))], now, verdict
        )
    except SendUnavailable as exc:
        return _retry_later(store, profile, message, attempt_id, str(exc), now, verdict.zone)
    except SendOutcomeUnknown as exc:
        reasons = [Reason.ses_outcome_unknown(str(exc))]
        return _finish(store, message, attempt_id, Outcome.UNKNOWN, reasons, now, verdict)
    reasons = [*verdict.reasons, *stock_reasons, Reason.delivered_to_ses(ses_id)]
    result = _finish(store, message, attempt_id, Outcome.SENT, reasons, now, verdict, ses_message_id=ses_id)
    record = _recorder(message, campaign_of, policy, now)
    _record_sent(store, message, record)
    if record.converted is not None and campaign is not None and campaign.exits_on(ORDER_COMPLETED):
        # An order landed between the claim and now: too late to stop the send, so the record says so.
        order_id, ordered_at = record.converted
        note = [Reason.converted_during_send(order_id, ordered_at)]
        store.record_decision(
            _decision(message, Outcome.SENT, note, now, verdict.zone), (message.generation, 99)
        )
    return result


@dataclass(frozen=True)
class _Refused:
    """The message can't be sent as it is: its products ran out, or its template fails."""

    outcome: Outcome
    reasons: list[Reason]


def _content(
    campaign: Campaign | None,
    message: OutboundMessage,
    profile: Profile,
    catalog: Catalog | None,
    policy: GlobalPolicy,
    renderer: Renderer,
    template: str,
) -> tuple[Rendered, list[Reason]] | _Refused:
    """The message rendered with the catalog as it stands now, and the reasons that say what it shows:
    sold-out lines left out, and where its recommendations came from."""
    shown = _shown(campaign, message, profile, catalog, policy)
    if shown is not None and shown.nothing_left:
        return _Refused(Outcome.SUPPRESSED, [Reason.out_of_stock(shown.removed)])
    reasons = [Reason.out_of_stock_removed(shown.removed)] if shown and shown.removed else []
    variables = campaign.variables if campaign else {}
    recommender = Recommender(catalog, profile, variables, policy.catalog.low_stock)
    try:
        context = template_context(
            profile,
            message.campaign_id,
            message.message_id,
            variables,
            (message.trigger_event, message.trigger_properties),
            shown,
            recommender,
        )
        rendered = renderer.render(template, context)
    except Exception as exc:
        # A broken template, or a template that raises (a division by zero, a bad filter argument), will
        # not fix itself on retry: settle the message and say why, never leave it pending.
        cause = exc.__cause__ if isinstance(exc, RenderError) and exc.__cause__ is not None else exc
        return _Refused(Outcome.FAILED, [Reason.render_failed(str(exc), type(cause).__name__)])
    # Each part of the message calls it alike: one reason per distinct answer that showed something.
    shown_picks = dict.fromkeys((source, count) for source, count in recommender.used if count)
    reasons += [Reason.recommended(source, count) for source, count in shown_picks]
    return rendered, reasons


def _shown(
    campaign: Campaign | None,
    message: OutboundMessage,
    profile: Profile,
    catalog: Catalog | None,
    policy: GlobalPolicy,
) -> Shown | None:
    """The products the message shows, as the catalog stands now: one BatchGetItem, only for a campaign that
    declares `products`."""
    if campaign is None or campaign.products is None or catalog is None:
        return None
    cart = [line.model_dump() for line in profile.cart]
    if campaign.products == "cart":
        ids = [line.product_id for line in profile.cart]
    else:
        product_id = message.trigger_properties.get("product_id")
        ids = [str(product_id)] if product_id is not None else []
    products = catalog.products(ids[:BATCH_PRODUCTS]) if ids else {}
    low = policy.catalog.low_stock
    return shown_products(campaign.products, cart, message.trigger_properties, products, low)


def _unsubscribe_url(mail: MailIdentity, message: OutboundMessage, now: datetime) -> str | None:
    """The one-click unsubscribe link (RFC 8058) of a promotional message, when the deployment has one."""
    if mail.one_click is None or message.kind is not Kind.PROMOTIONAL:
        return None
    return mail.one_click.link(message.customer_id, message.message_id, now)


def _ses_tags(message: OutboundMessage, attempt_id: str) -> dict[str, str]:
    """The send's SES tags: SES's events quote them back, and feedback finds the message by them."""
    tags = {"campaign": message.campaign_id, "message_id": message.message_id, "attempt": attempt_id}
    if (customer := customer_tag(message.customer_id)) is not None:
        tags["customer"] = customer
    return tags


def _finish(
    store: Store,
    message: OutboundMessage,
    attempt_id: str,
    outcome: Outcome,
    reasons: list[Reason],
    now: datetime,
    verdict: SendDecision,
    *,
    ses_message_id: str | None = None,
) -> SendResult:
    """Settle what this attempt did on the message alone; a closed message also leaves the profile."""
    decision = _decision(message, outcome, reasons, now, verdict.zone)
    status = MessageStatus.UNKNOWN if outcome is Outcome.UNKNOWN else status_for(outcome)
    if not store.finish(message, attempt_id, status, decision, now, ses_message_id=ses_message_id):
        return SendResult(status="lease_lost", decision=decision, ses_message_id=ses_message_id)
    if outcome is Outcome.FAILED:
        store.apply_to_profile(message.customer_id, lambda p: _forget_pending(p, message))
    return SendResult(status=outcome.value, decision=decision, ses_message_id=ses_message_id)


class _Recorder:
    """The idempotent profile change of a send: the message no longer waits, and caps, re-entry and reports
    count it, once. It also notices an order placed since the message was triggered."""

    def __init__(
        self, message: OutboundMessage, promotional: bool, policy: GlobalPolicy, at: datetime
    ) -> None:
        self.message, self.promotional, self.policy, self.at = message, promotional, policy, at
        #: (order id, when) of an order at or after the trigger, seen on the profile when recording
        self.converted: tuple[str | None, datetime] | None = None

    def __call__(self, profile: Profile) -> bool:
        message = self.message
        if profile.last_order_at is not None and profile.last_order_at >= message.trigger_at:
            self.converted = (profile.last_order_id, profile.last_order_at)
        forgot = _forget_pending(profile, message)
        recorded = record_send(
            profile,
            message.campaign_id,
            self.promotional,
            self.at,
            message.dedupe_key,
            keep=self.policy.sends_to_keep,
            message_id=message.message_id,
        )
        return forgot or recorded


def _recorder(
    message: OutboundMessage, campaign_of: dict[str, Campaign], policy: GlobalPolicy, at: datetime
) -> _Recorder:
    campaign = campaign_of.get(message.campaign_id)
    return _Recorder(message, campaign is None or campaign.kind is Kind.PROMOTIONAL, policy, at)


def _decision(
    message: OutboundMessage,
    outcome: Outcome,
    reasons: list[Reason],
    now: datetime,
    zone: CustomerZone | None,
    send_at: datetime | None = None,
) -> Decision:
    return Decision.about(message, outcome, reasons, at=now, zone=zone, send_at=send_at)


def _close(
    store: Store,
    profile: Profile,
    message: OutboundMessage,
    outcome: Outcome,
    reasons: list[Reason],
    now: datetime,
    zone: CustomerZone | None,
) -> SendResult:
    decision = _decision(message, outcome, reasons, now, zone)
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
    attempt_id: str,
    error: str,
    now: datetime,
    zone: CustomerZone | None,
) -> SendResult:
    """SES took nothing and may later: give the message back (a new schedule generation) after a backoff,
    and fail it after a few tries."""
    attempts = message.attempts + 1
    if attempts >= len(SEND_RETRY_BACKOFF) + 1:
        reasons = [Reason.ses_gave_up(error, attempts)]
        decision = _decision(message, Outcome.FAILED, reasons, now, zone)
        if not store.finish(message, attempt_id, MessageStatus.FAILED, decision, now):
            return SendResult(status="lease_lost", decision=decision)
        store.apply_to_profile(message.customer_id, lambda p: _forget_pending(p, message))
        return SendResult(status="failed", decision=decision)
    retry_at = now + SEND_RETRY_BACKOFF[attempts - 1]
    reasons = [Reason.ses_unavailable(error, attempts, retry_at)]
    moved, decision = _move(
        store, profile, message, retry_at, reasons, now, zone, attempt_id=attempt_id, attempts=attempts
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
    attempt_id: str | None = None,
    attempts: int | None = None,
) -> tuple[bool, Decision]:
    """Move the message (and the profile's reference to it) to `at`, as a new schedule generation."""
    move = Move(message.message_id, at, message.generation + 1, reasons)
    decision = _decision(message, Outcome.DEFERRED, reasons, now, zone, send_at=at)
    moved = waiting_again(message, at, move.generation)
    return store.defer(
        profile, message, move, decision, now, moved, attempt_id=attempt_id, attempts=attempts
    ), decision


def _record_sent(store: Store, message: OutboundMessage, record: Callable[[Profile], bool]) -> None:
    """Record a send SES accepted on the profile; then the message leaves the in-flight index (until it
    does, the sweeper would record it)."""
    store.apply_to_profile(message.customer_id, record)
    store.stop_watching(message.model_copy(update={"status": MessageStatus.SENT}))


def waiting_again(message: OutboundMessage, at: datetime, generation: int) -> Callable[[Profile], None]:
    """The profile change of a message that waits again, until `at`, as `generation`: its reference moves,
    or comes back."""

    def moved(p: Profile) -> None:
        waiting = pending_ref(message, at, generation)
        ref = p.pending.get(waiting.key)
        if ref is None:
            # An evaluation that found this message claimed (sending) dropped its reference; it waits
            # again, so exits and caps must find it again.
            p.pending[waiting.key] = waiting
        elif ref.message_id == message.message_id:
            p.pending[waiting.key] = ref.model_copy(update={"send_at": at, "generation": generation})

    return moved


def send_recorder(
    message: OutboundMessage, campaign_of: dict[str, Campaign], policy: GlobalPolicy, at: datetime
) -> Callable[[Profile], bool]:
    """The idempotent profile change that records a send SES accepted at `at`: for whoever finds it
    unrecorded (a retried invocation, the sweeper)."""
    return _recorder(message, campaign_of, policy, at)


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


def _forget_pending(profile: Profile, message: OutboundMessage) -> bool:
    promotional = message.kind is Kind.PROMOTIONAL
    return forget_pending(profile, message.campaign_id, message.message_id, promotional=promotional)
