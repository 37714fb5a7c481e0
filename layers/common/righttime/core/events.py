"""Inbound messages in the Segment HTTP Tracking API format (identify, track, batch, and friends).

Apps instrumented with Segment or RudderStack SDKs point their host at righttime unchanged, so these models
accept what those SDKs send and name every field they reject.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, model_validator

#: Segment's own limits: a message over 32 KB or a batch over 500 KB is rejected.
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_ID_LENGTH = 256
IDENTITY_REQUIRED = "either userId or anonymousId is required"
#: the track event the due sweep queues for a customer whose profile has something due; evaluation answers it
#: by advancing the customer's programs, dates and stage to its time. Apps may not send it: ingest refuses it.
DUE_EVENT = "righttime:due"
#: the prefix of the events righttime makes itself (the due event, a program step's trigger)
RESERVED_EVENT_PREFIX = "righttime:"
#: a catalog feed's event, one per product (core/catalog.py): queued by product, not by customer
PRODUCT_UPDATED = "Product Updated"


class EventContext(BaseModel):
    """The parts of Segment's `context` righttime reads; everything else is kept as sent."""

    model_config = ConfigDict(extra="allow")

    timezone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, max_length=35)
    ip: str | None = Field(default=None, max_length=45)
    channel: str | None = Field(default=None, max_length=64)


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    messageId: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    userId: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    anonymousId: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    timestamp: AwareDatetime | None = None
    sentAt: AwareDatetime | None = None
    context: EventContext = Field(default_factory=EventContext)
    integrations: dict[str, JsonValue] | None = None

    @model_validator(mode="before")
    @classmethod
    def _coerce_ids(cls, data: Any) -> Any:
        # SDKs may send numeric ids; Segment treats them as strings.
        if isinstance(data, dict):
            for key in ("userId", "anonymousId", "messageId"):
                if isinstance(data.get(key), int) and not isinstance(data.get(key), bool):
                    data = {**data, key: str(data[key])}
        return data

    @model_validator(mode="after")
    def _needs_an_identity(self) -> _Message:
        if self.userId is None and self.anonymousId is None:
            raise ValueError(IDENTITY_REQUIRED)
        return self

    @property
    def customer_id(self) -> str:
        """The id righttime keys the profile by: the userId when known, else the anonymousId."""
        return self.userId or self.anonymousId or ""


class IdentifyMessage(_Message):
    type: Literal["identify"] = "identify"
    traits: dict[str, JsonValue] = Field(default_factory=dict)


class TrackMessage(_Message):
    type: Literal["track"] = "track"
    event: str = Field(min_length=1, max_length=200)
    properties: dict[str, JsonValue] = Field(default_factory=dict)


class PageMessage(_Message):
    """Page and screen calls count as activity; righttime keeps no other state from them."""

    type: Literal["page", "screen"]
    name: str | None = None
    properties: dict[str, JsonValue] = Field(default_factory=dict)


class GroupMessage(_Message):
    type: Literal["group"] = "group"
    groupId: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    traits: dict[str, JsonValue] = Field(default_factory=dict)


class AliasMessage(_Message):
    type: Literal["alias"] = "alias"
    previousId: str = Field(min_length=1, max_length=MAX_ID_LENGTH)


Message = Annotated[
    IdentifyMessage | TrackMessage | PageMessage | GroupMessage | AliasMessage,
    Field(discriminator="type"),
]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch: list[Message] = Field(min_length=1, max_length=10_000)
    sentAt: AwareDatetime | None = None
    context: dict[str, JsonValue] | None = None


class QueuedEvent(BaseModel):
    """What ingest puts on the queue for evaluation: the accepted message plus what ingest learned."""

    message: Message
    received_at: AwareDatetime
    #: `timestamp` corrected for the device's clock skew, as Segment does: timestamp + (receivedAt - sentAt).
    occurred_at: AwareDatetime

    @property
    def customer_id(self) -> str:
        return self.message.customer_id

    @property
    def message_id(self) -> str:
        return self.message.messageId or ""

    @property
    def group_key(self) -> str:
        """What the queue orders events by: the customer, or for a catalog update its product, so that a
        product's updates apply one at a time and in order."""
        message = self.message
        if isinstance(message, TrackMessage) and message.event == PRODUCT_UPDATED:
            product = message.properties.get("product_id")
            if isinstance(product, str | int) and not isinstance(product, bool) and str(product).strip():
                return f"product:{str(product).strip()}"
        return self.customer_id


def corrected_timestamp(message: _Message, received_at: datetime) -> datetime:
    """When the event happened, in the server's time: Segment's clock-skew correction.

    A device whose clock is off sends both `timestamp` and `sentAt` from that clock; the difference between
    `sentAt` and our `received_at` is the skew. Without `timestamp`, the event happened when received.
    """
    if message.timestamp is None:
        return received_at
    corrected = message.timestamp
    if message.sentAt is not None:
        corrected += received_at - message.sentAt
    # An event cannot have happened after we received it; a device clock far in the future says nothing.
    return min(corrected, received_at)


def due_event(customer_id: str, due_at: datetime, now: datetime) -> QueuedEvent:
    """The event the due sweep queues at `now` for a customer whose profile was due at `due_at`. Its messageId
    names the customer and the due instant, so a sweep that finds the same entry twice queues one event
    (SQS de-duplicates within five minutes, the profile's recent ids after that)."""
    message = TrackMessage(
        event=DUE_EVENT,
        userId=customer_id,
        messageId=f"righttime-due-{due_at.isoformat()}",
        timestamp=now,
        context=EventContext(channel="righttime"),
    )
    return QueuedEvent(message=message, received_at=now, occurred_at=now)
