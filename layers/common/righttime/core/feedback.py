"""SES's events about the mail righttime sent (pure): what SES publishes, and which message it is about.

The configuration set publishes every event type to EventBridge's default bus (docs/architecture.md says why).
An event's `detail` is SES's event-publishing record, as SES documents it for every destination:

    {"eventType": "Bounce", "mail": {"messageId", "timestamp", "destination", "headers", "tags", ...},
     "bounce": {"bounceType", "bounceSubType", "bouncedRecipients", "timestamp", ...}}

with one body per type: `send`, `delivery`, `bounce`, `complaint`, `reject`, `failure` (Rendering Failure),
`deliveryDelay`, `open`, `click`, `subscription`. Fields righttime doesn't read are ignored, so SES may add
more. `mail.tags` holds the message's tags, each value as a list.

Which message an event is about: the sender tags each send with `message_id`, `attempt` and `customer`, and
writes the headers `X-Righttime-Message-Id` and `X-Righttime-Customer` (which SES lists in `mail.headers`).
SES tag values may only hold `[A-Za-z0-9_-]`, up to 256 characters, and a customer id may hold anything (an
e-mail address, an emoji, a slash), so the customer travels as its UTF-8 bytes in unpadded base64url, whose
alphabet is exactly that. The header carries the same text, so an id too long for a tag still arrives.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

#: the headers and tags the sender writes for feedback to find the message
MESSAGE_HEADER = "X-Righttime-Message-Id"
CUSTOMER_HEADER = "X-Righttime-Customer"
MESSAGE_TAG = "message_id"
CUSTOMER_TAG = "customer"
ATTEMPT_TAG = "attempt"
#: SES's limit on a tag value
MAX_TAG_VALUE = 256


class FeedbackError(ValueError):
    """An SES event righttime cannot read: the text names what is wrong."""


def customer_reference(customer_id: str) -> str:
    """The customer id as SES tags and headers can carry it: unpadded base64url of its UTF-8 bytes."""
    return base64.urlsafe_b64encode(customer_id.encode("utf-8")).decode("ascii").rstrip("=")


def customer_from_reference(reference: str) -> str:
    """The customer id a `customer_reference` stands for; FeedbackError if it is not one."""
    text = reference.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        customer_id = raw.decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise FeedbackError(f"customer reference {text[:40]!r} is not base64url of a UTF-8 id") from exc
    if not customer_id or customer_reference(customer_id) != text:
        raise FeedbackError(f"customer reference {text[:40]!r} is not base64url of a UTF-8 id")
    return customer_id


def customer_tag(customer_id: str) -> str | None:
    """The `customer` tag value, or None when the id is too long for a tag (the header still carries it)."""
    reference = customer_reference(customer_id)
    return reference if len(reference) <= MAX_TAG_VALUE else None


class SesEventType(StrEnum):
    """SES's `eventType` values (event publishing)."""

    SEND = "Send"
    DELIVERY = "Delivery"
    BOUNCE = "Bounce"
    COMPLAINT = "Complaint"
    REJECT = "Reject"
    RENDERING_FAILURE = "Rendering Failure"
    DELIVERY_DELAY = "DeliveryDelay"
    OPEN = "Open"
    CLICK = "Click"
    SUBSCRIPTION = "Subscription"


#: EventBridge's `detail-type` for each SES event type
DETAIL_TYPES: dict[SesEventType, str] = {
    SesEventType.SEND: "Email Sent",
    SesEventType.DELIVERY: "Email Delivered",
    SesEventType.BOUNCE: "Email Bounced",
    SesEventType.COMPLAINT: "Email Complaint Received",
    SesEventType.REJECT: "Email Rejected",
    SesEventType.RENDERING_FAILURE: "Email Rendering Failed",
    SesEventType.DELIVERY_DELAY: "Email Delivery Delayed",
    SesEventType.OPEN: "Email Opened",
    SesEventType.CLICK: "Email Clicked",
    SesEventType.SUBSCRIPTION: "Email Subscribed",
}


class _SesModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class MailHeader(_SesModel):
    name: str
    value: str


class SesMail(_SesModel):
    """What SES says about the message itself, in every event."""

    message_id: str = Field(alias="messageId", min_length=1)
    #: when SES accepted the message
    timestamp: AwareDatetime
    destination: list[str] = Field(default_factory=list)
    headers: list[MailHeader] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)

    def tag(self, name: str) -> str | None:
        values = self.tags.get(name) or []
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((h.value.strip() for h in self.headers if h.name.lower() == wanted), None)


class Recipient(_SesModel):
    email_address: str = Field(alias="emailAddress", min_length=3)
    #: the SMTP status code (5.1.1); the diagnostic text is not kept, because servers quote the address in it
    status: str | None = None


class Bounce(_SesModel):
    bounce_type: str = Field(alias="bounceType")
    bounce_sub_type: str = Field(alias="bounceSubType", default="General")
    bounced_recipients: list[Recipient] = Field(alias="bouncedRecipients", default_factory=list)
    timestamp: AwareDatetime

    @property
    def permanent(self) -> bool:
        """SES's Permanent type: the address won't take mail. Transient and Undetermined may pass later."""
        return self.bounce_type == "Permanent"


class Complaint(_SesModel):
    complained_recipients: list[Recipient] = Field(alias="complainedRecipients", default_factory=list)
    timestamp: AwareDatetime
    complaint_feedback_type: str | None = Field(alias="complaintFeedbackType", default=None)


class Delivery(_SesModel):
    timestamp: AwareDatetime
    recipients: list[str] = Field(default_factory=list)


class Reject(_SesModel):
    reason: str = "unknown"


class RenderingFailure(_SesModel):
    error_message: str = Field(alias="errorMessage", default="unknown")
    template_name: str | None = Field(alias="templateName", default=None)


class DeliveryDelay(_SesModel):
    timestamp: AwareDatetime
    delay_type: str = Field(alias="delayType", default="General")
    expiration_time: AwareDatetime | None = Field(alias="expirationTime", default=None)
    delayed_recipients: list[Recipient] = Field(alias="delayedRecipients", default_factory=list)


class Open(_SesModel):
    timestamp: AwareDatetime


class Click(_SesModel):
    timestamp: AwareDatetime
    link: str = ""


@dataclass(frozen=True)
class MailReference:
    """The message an SES event is about, and the sending attempt that handed it to SES (when tagged)."""

    customer_id: str
    message_id: str
    attempt_id: str | None


#: the body each event type must carry
_BODY: dict[SesEventType, str] = {
    SesEventType.DELIVERY: "delivery",
    SesEventType.BOUNCE: "bounce",
    SesEventType.COMPLAINT: "complaint",
    SesEventType.DELIVERY_DELAY: "delivery_delay",
    SesEventType.OPEN: "open",
    SesEventType.CLICK: "click",
}


class SesEvent(_SesModel):
    """One SES event-publishing record (an EventBridge event's `detail`)."""

    event_type: SesEventType = Field(alias="eventType")
    mail: SesMail
    send: dict[str, JsonValue] | None = None
    delivery: Delivery | None = None
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    reject: Reject | None = None
    failure: RenderingFailure | None = None
    delivery_delay: DeliveryDelay | None = Field(alias="deliveryDelay", default=None)
    open: Open | None = None
    click: Click | None = None

    @field_validator("event_type", mode="before")
    @classmethod
    def _spelling(cls, value: Any) -> Any:
        # SES writes "Rendering Failure" in event publishing and RENDERING_FAILURE in its API's enums.
        return "Rendering Failure" if value in ("RenderingFailure", "RENDERING_FAILURE") else value

    @model_validator(mode="after")
    def _has_its_body(self) -> SesEvent:
        body = _BODY.get(self.event_type)
        if body is not None and getattr(self, body) is None:
            alias = type(self).model_fields[body].alias or body
            raise ValueError(f"a {self.event_type.value} event needs its {alias!r} object")
        return self

    @property
    def occurred_at(self) -> datetime:
        """When the event happened, by SES's clock (when SES accepted the mail, for types without a time)."""
        for body in (self.delivery, self.bounce, self.complaint, self.delivery_delay, self.open, self.click):
            if body is not None:
                return body.timestamp
        return self.mail.timestamp

    def reference(self) -> MailReference | None:
        """The righttime message this event is about (tags first, then headers), or None for mail another
        sender put through the configuration set. FeedbackError if righttime's marks are unreadable."""
        message_id = self.mail.tag(MESSAGE_TAG) or self.mail.header(MESSAGE_HEADER)
        customer = self.mail.tag(CUSTOMER_TAG) or self.mail.header(CUSTOMER_HEADER)
        if message_id is None and customer is None:
            return None
        if message_id is None or customer is None:
            missing = "message id" if message_id is None else "customer"
            raise FeedbackError(f"SES event for {self.mail.message_id} names no {missing} (tag or header)")
        return MailReference(customer_from_reference(customer), message_id, self.mail.tag(ATTEMPT_TAG))

    def recipients(self) -> list[str]:
        """The addresses the event is about: those that bounced or complained, else the message's."""
        if self.bounce is not None and self.bounce.bounced_recipients:
            return [r.email_address for r in self.bounce.bounced_recipients]
        if self.complaint is not None and self.complaint.complained_recipients:
            return [r.email_address for r in self.complaint.complained_recipients]
        return list(self.mail.destination)

    def recipient_status(self) -> str | None:
        """The SMTP status code SES reported for the first bounced recipient, if any."""
        if self.bounce is not None and self.bounce.bounced_recipients:
            return self.bounce.bounced_recipients[0].status
        return None


def link_without_query(link: str) -> str | None:
    """A clicked link as the engagement history keeps it: scheme, host and path. Query strings and fragments
    carry tracking tokens and sometimes the address, so they are dropped."""
    try:
        parts = urllib.parse.urlsplit(link.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))[:500]
