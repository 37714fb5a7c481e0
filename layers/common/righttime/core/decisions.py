"""Decisions and outbound messages: what righttime decided for a customer and campaign, and why."""

from __future__ import annotations

import hashlib
import uuid
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from righttime.core.campaigns import Kind


class Outcome(StrEnum):
    #: a message is planned for `send_at`
    SCHEDULED = "scheduled"
    #: a planned message was moved later (a higher priority took its slot, quiet hours at fire time, ...)
    DEFERRED = "deferred"
    SENT = "sent"
    #: the customer may not get it (consent, suppression, audience, caps, re-entry)
    SUPPRESSED = "suppressed"
    #: it no longer makes sense (converted, exit event, campaign disabled)
    CANCELLED = "cancelled"
    #: it could not go out before its send-by deadline
    EXPIRED = "expired"
    FAILED = "failed"


class ReasonCode(StrEnum):
    """Every reason a decision can carry; docs/decisions.md explains each."""

    TRIGGERED = "triggered"
    TRIGGER_REPEATED = "trigger_repeated"
    SUPERSEDED = "superseded"
    MIN_DELAY = "min_delay"
    LOCAL_TIME = "local_time"
    QUIET_HOURS = "quiet_hours"
    OUTSIDE_WINDOW = "outside_window"
    FREQUENCY_CAP = "frequency_cap"
    OUTRANKED = "outranked"
    PURCHASE_COOLDOWN = "purchase_cooldown"
    FOLLOW_UP_DELAY = "follow_up_delay"
    RECENTLY_BOUGHT = "recently_bought"
    CROSS_SELL_VARIANT = "cross_sell_variant"
    SEND_BY_PASSED = "send_by_passed"
    REENTRY = "reentry"
    DUPLICATE_KEY = "duplicate_key"
    AUDIENCE = "audience"
    EXIT_CONDITION = "exit_condition"
    CONVERTED = "converted"
    EXIT_EVENT = "exit_event"
    NO_EMAIL = "no_email"
    UNSUBSCRIBED = "unsubscribed"
    ADDRESS_SUPPRESSED = "address_suppressed"
    CAMPAIGN_DISABLED = "campaign_disabled"
    DELIVERED_TO_SES = "delivered_to_ses"
    SES_REJECTED = "ses_rejected"
    SES_UNAVAILABLE = "ses_unavailable"
    RENDER_FAILED = "render_failed"


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: ReasonCode
    detail: dict[str, JsonValue] = Field(default_factory=dict)


class Decision(BaseModel):
    """One explained outcome for one customer and one campaign at one instant."""

    customer_id: str
    campaign_id: str
    outcome: Outcome
    decided_at: AwareDatetime
    reasons: list[Reason]
    message_id: str | None = None
    send_at: AwareDatetime | None = None
    trigger_event: str | None = None
    trigger_message_id: str | None = None
    #: the customer's zone the timing rules used, and where it came from (trait, context, default)
    timezone: str | None = None
    timezone_source: str | None = None

    @property
    def reason_codes(self) -> list[str]:
        return [reason.code.value for reason in self.reasons]


class MessageStatus(StrEnum):
    PENDING = "pending"
    #: claimed by a sender invocation: SES is being (or was) called
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"
    EXPIRED = "expired"
    FAILED = "failed"


#: the statuses a message never leaves
FINAL_STATUSES = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.CANCELLED,
        MessageStatus.SUPPRESSED,
        MessageStatus.EXPIRED,
        MessageStatus.FAILED,
    }
)


def status_for(outcome: Outcome) -> MessageStatus:
    """The final message status an outcome settles it in."""
    return MessageStatus(outcome.value)


class OutboundMessage(BaseModel):
    """A message righttime intends to send; the sender finds it by customer and message id."""

    message_id: str
    customer_id: str
    campaign_id: str
    kind: Kind
    template: str
    status: MessageStatus = MessageStatus.PENDING
    send_at: AwareDatetime
    created_at: AwareDatetime
    updated_at: AwareDatetime
    trigger_event: str
    trigger_message_id: str
    trigger_at: AwareDatetime
    to: str | None = None
    ses_message_id: str | None = None
    reasons: list[Reason] = Field(default_factory=list)
    priority: int = 0
    desired_at: AwareDatetime | None = None
    send_by: AwareDatetime | None = None
    dedupe_key: str | None = None
    category: str | None = None
    #: tries to hand the message to SES that failed with a temporary error
    attempts: int = 0
    #: the trigger event's properties, for templates (an order confirmation lists the order's products)
    trigger_properties: dict[str, JsonValue] = Field(default_factory=dict)
    #: bumped whenever send_at moves: each generation has its own schedule, so a schedule that is firing
    #: while the message moves can never delete or overwrite the new one
    generation: int = 0


_NAMESPACE = uuid.UUID("5f0e9d2c-7a43-4c41-9a8e-2b1f6c0de0a1")


def message_id_for(customer_id: str, campaign_id: str, trigger_message_id: str) -> str:
    """A deterministic message id: re-processing the same trigger yields the same message, never a second."""
    return uuid.uuid5(_NAMESPACE, f"{customer_id}\x1f{campaign_id}\x1f{trigger_message_id}").hex


def short_hash(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]
