"""Feedback: what SES's events tell about the mail righttime sent, and what changes because of them.

    any event ........ proof that SES accepted the message: an `unknown` one, or one whose sending attempt
                       is gone, is settled as sent (never sent again) and recorded on the profile
    Send ............. nothing more
    Delivery ......... `delivered`; ends the address's run of transient bounces
    Bounce ........... permanent: the address is suppressed (`bounce`). Transient or undetermined: counted,
                       and `transient_bounces_to_suppress` in a row suppress it (`soft_bounces`)
    Complaint ........ the address is suppressed (`complaint`) and the customer unsubscribed from promotions
    Reject, Rendering Failure ... `failed`
    DeliveryDelay .... `delayed`
    Open, Click ...... the profile's engagement history; the first of each per message is a decision

Each becomes a decision on the customer's record (the read API shows it) and a stamp on the message. SES
delivers events at least once: every write is idempotent or conditional on the stamp, so the same event twice
has one effect. Decisions carry the event's own time, so a repeated one lands on the same item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from righttime.core.addresses import address_key
from righttime.core.campaigns import Kind
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage, Outcome, Reason, ReasonCode
from righttime.core.feedback import MailReference, SesEvent, SesEventType, link_without_query
from righttime.core.profiles import (
    Engagement,
    Profile,
    SoftBounce,
    forget_pending,
    record_delivery,
    record_engagement,
    record_send,
    record_soft_bounce,
    soft_bounces_in_a_row,
)
from righttime.stages.ports import SesAcceptance, Store

#: suppression reasons feedback writes (the `address_suppressed` reason of a later message shows them)
SUPPRESSED_BOUNCE = "bounce"
SUPPRESSED_SOFT_BOUNCES = "soft_bounces"
SUPPRESSED_COMPLAINT = "complaint"
#: statuses in which proof of SES's acceptance settles a message
UNRESOLVED = frozenset({MessageStatus.UNKNOWN, MessageStatus.PENDING, MessageStatus.SENDING})


@dataclass(frozen=True)
class FeedbackRules:
    """The feedback settings (`FeedbackSettings` in the environment)."""

    #: transient bounces in a row, with no delivery between, that suppress an address (seed 004's
    #: "number of failed sends" threshold)
    transient_bounces_to_suppress: int = 3


@dataclass(frozen=True)
class FeedbackResult:
    #: recorded, repeated (seen before), not_ours (another sender's mail), unknown_message, ignored
    status: str
    event: str
    decisions: tuple[Decision, ...] = ()
    #: the message was settled as sent by this event (its outcome had been unknown)
    settled: bool = False
    #: the address went on the suppression list because of this event
    suppressed: bool = False


def handle_ses_event(
    event: SesEvent,
    *,
    store: Store,
    rules: FeedbackRules,
    keep_sends: Callable[[], timedelta],
    now: datetime,
) -> FeedbackResult:
    """Apply one SES event. `keep_sends` is how long the profile keeps sends (the policy's longest cap),
    asked for only when a send must be recorded."""
    kind = event.event_type
    reference = event.reference()
    if reference is None:
        return FeedbackResult("not_ours", kind.value)
    message = store.get_message(reference.customer_id, reference.message_id)
    if message is None:
        return FeedbackResult("unknown_message", kind.value)
    settle = _settle_if_unresolved(event, reference, message, store, keep_sends, now)
    decisions = (settle,) if settle is not None else ()
    settled = settle is not None
    match kind:
        case SesEventType.SEND | SesEventType.SUBSCRIPTION:
            return FeedbackResult("recorded" if settled else "repeated", kind.value, decisions, settled)
        case SesEventType.DELIVERY:
            at = event.occurred_at
            store.apply_to_profile(message.customer_id, lambda p: record_delivery(p, at))
            reasons = [Reason.ses_delivered(event.mail.message_id)]
            decision = _record(store, message, "delivered_at", Outcome.DELIVERED, reasons, at)
        case SesEventType.BOUNCE:
            return _bounce(event, message, store, rules, decisions, settled)
        case SesEventType.COMPLAINT:
            return _complaint(event, message, store, decisions, settled)
        case SesEventType.REJECT:
            assert event.reject is not None
            reasons = [Reason.ses_reject_event(event.reject.reason)]
            decision = _record(store, message, "rejected_at", Outcome.FAILED, reasons, event.occurred_at)
        case SesEventType.RENDERING_FAILURE:
            assert event.failure is not None
            reasons = [Reason.ses_rendering_failure(event.failure.error_message)]
            decision = _record(
                store, message, "rendering_failed_at", Outcome.FAILED, reasons, event.occurred_at
            )
        case SesEventType.DELIVERY_DELAY:
            assert event.delivery_delay is not None
            delay = event.delivery_delay
            reasons = [Reason.delivery_delay(delay.delay_type, delay.expiration_time)]
            decision = _record(store, message, "delayed_at", Outcome.DELAYED, reasons, event.occurred_at)
        case SesEventType.OPEN | SesEventType.CLICK:
            decision = _engagement(event, message, store)
    if decision is None:
        return FeedbackResult("repeated", kind.value, decisions, settled)
    return FeedbackResult("recorded", kind.value, (*decisions, decision), settled)


def _settle_if_unresolved(
    event: SesEvent,
    reference: MailReference,
    message: OutboundMessage,
    store: Store,
    keep_sends: Callable[[], timedelta],
    now: datetime,
) -> Decision | None:
    """Any event proves SES accepted the message: settle it as sent if its outcome was still open, and make
    sure the send is recorded on the profile (caps and re-entry count it)."""
    settled_here = False
    if message.status in UNRESOLVED:
        reason = Reason.accepted_by_ses(event.mail.message_id, event.event_type.value, message.status.value)
        decision = _decision(message, Outcome.SENT, [reason], event.mail.timestamp)
        acceptance = store.ses_accepted(message, reference.attempt_id, event.mail.message_id, decision, now)
        settled_here = acceptance is SesAcceptance.SETTLED
        if not settled_here:
            return None
    elif not (
        message.status is MessageStatus.SENT
        and message.reasons
        and message.reasons[0].code is ReasonCode.ACCEPTED_BY_SES
    ):
        return None  # the sender settled it, and records the send itself
    # Settled here, or by an earlier event (whose profile update may not have happened): record it, once.
    at = event.mail.timestamp
    store.apply_to_profile(message.customer_id, lambda p: _record_send(p, message, at, keep_sends()))
    store.stop_watching(message.model_copy(update={"status": MessageStatus.SENT}))  # recorded: out of flight
    return decision if settled_here else None


def _record_send(profile: Profile, message: OutboundMessage, at: datetime, keep: timedelta) -> bool:
    promotional = message.kind is Kind.PROMOTIONAL
    forgot = forget_pending(profile, message.campaign_id, message.message_id, promotional=promotional)
    recorded = record_send(
        profile, message.campaign_id, promotional, at, message.dedupe_key, keep, message.message_id
    )
    return forgot or recorded


def _bounce(
    event: SesEvent,
    message: OutboundMessage,
    store: Store,
    rules: FeedbackRules,
    earlier: tuple[Decision, ...],
    settled: bool,
) -> FeedbackResult:
    bounce = event.bounce
    assert bounce is not None
    at = bounce.timestamp
    status = event.recipient_status()
    suppressed = False
    if bounce.permanent:
        for address in event.recipients():
            suppressed |= store.suppress_address(address, SUPPRESSED_BOUNCE, at, message.message_id)
        reason = Reason.hard_bounce(bounce.bounce_sub_type, status, SUPPRESSED_BOUNCE)
    else:
        in_a_row, suppression = 0, None
        for address in event.recipients():
            counted = SoftBounce(message_id=message.message_id, at=at, address_key=address_key(address))
            run = _count_soft_bounce(store, message.customer_id, counted)
            in_a_row = max(in_a_row, run)
            if run >= rules.transient_bounces_to_suppress:
                suppression = SUPPRESSED_SOFT_BOUNCES
                suppressed |= store.suppress_address(address, suppression, at, message.message_id)
        threshold = rules.transient_bounces_to_suppress
        reason = Reason.soft_bounce(bounce.bounce_sub_type, status, in_a_row, threshold, suppression)
    decision = _record(store, message, "bounced_at", Outcome.BOUNCED, [reason], at)
    decisions = earlier if decision is None else (*earlier, decision)
    return FeedbackResult(
        "repeated" if decision is None else "recorded", event.event_type.value, decisions, settled, suppressed
    )


def _count_soft_bounce(store: Store, customer_id: str, bounce: SoftBounce) -> int:
    """Count `bounce` on the profile (once) and return the address's run of transient bounces."""
    runs: list[int] = []

    def count(profile: Profile) -> bool:
        changed = record_soft_bounce(profile, bounce)
        runs.append(soft_bounces_in_a_row(profile, bounce.address_key))
        return changed

    store.apply_to_profile(customer_id, count)
    return runs[-1] if runs else 0


def _complaint(
    event: SesEvent, message: OutboundMessage, store: Store, earlier: tuple[Decision, ...], settled: bool
) -> FeedbackResult:
    complaint = event.complaint
    assert complaint is not None
    at = complaint.timestamp
    suppressed = False
    for address in event.recipients():
        suppressed |= store.suppress_address(address, SUPPRESSED_COMPLAINT, at, message.message_id)
    store.apply_to_profile(message.customer_id, _unsubscribe)
    reason = Reason.complaint(complaint.complaint_feedback_type, SUPPRESSED_COMPLAINT)
    decision = _record(store, message, "complained_at", Outcome.COMPLAINED, [reason], at)
    decisions = earlier if decision is None else (*earlier, decision)
    return FeedbackResult(
        "repeated" if decision is None else "recorded", event.event_type.value, decisions, settled, suppressed
    )


def _unsubscribe(profile: Profile) -> bool:
    if profile.unsubscribed:
        return False
    profile.unsubscribed = True
    return True


def _engagement(event: SesEvent, message: OutboundMessage, store: Store) -> Decision | None:
    """Every open and click goes to the profile's bounded history; the first of each per message is also a
    decision."""
    if event.click is not None:
        kind, at, link = "click", event.click.timestamp, link_without_query(event.click.link)
        field, outcome, reason = "clicked_at", Outcome.CLICKED, Reason.clicked(link)
    else:
        assert event.open is not None
        kind, at, link = "open", event.open.timestamp, None
        field, outcome, reason = "opened_at", Outcome.OPENED, Reason.opened()
    seen = Engagement(
        kind=kind, at=at, message_id=message.message_id, campaign_id=message.campaign_id, link=link
    )
    store.apply_to_profile(message.customer_id, lambda p: record_engagement(p, seen))
    # In the zone it was planned in: the reports function counts it by local hour (send-time optimisation).
    zone = PlannedZone(message.timezone) if message.timezone else None
    return _record(store, message, field, outcome, [reason], at, zone)


@dataclass(frozen=True)
class PlannedZone:
    """The customer's zone when the message was planned (`OutboundMessage.timezone`), as decisions name it."""

    name: str
    source: str = "planned"


def _record(
    store: Store,
    message: OutboundMessage,
    field: str,
    outcome: Outcome,
    reasons: list[Reason],
    at: datetime,
    zone: PlannedZone | None = None,
) -> Decision | None:
    decision = _decision(message, outcome, reasons, at, zone)
    return decision if store.record_feedback(message, field, at, decision) else None


def _decision(
    message: OutboundMessage,
    outcome: Outcome,
    reasons: list[Reason],
    at: datetime,
    zone: PlannedZone | None = None,
) -> Decision:
    return Decision.about(message, outcome, reasons, at=at, zone=zone)
