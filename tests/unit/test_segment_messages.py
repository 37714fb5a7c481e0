"""Segment message models: the shapes SDKs send, the identity rule, and clock-skew correction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from righttime.core.events import (
    AliasMessage,
    GroupMessage,
    IdentifyMessage,
    Message,
    PageMessage,
    QueuedEvent,
    TrackMessage,
    corrected_timestamp,
)

messages: TypeAdapter[Message] = TypeAdapter(Message)
RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "model"),
    [
        ({"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}}, IdentifyMessage),
        ({"type": "track", "userId": "u1", "event": "Product Added"}, TrackMessage),
        ({"type": "page", "userId": "u1", "name": "Home"}, PageMessage),
        ({"type": "screen", "userId": "u1", "name": "Cart"}, PageMessage),
        ({"type": "group", "userId": "u1", "groupId": "acme"}, GroupMessage),
        ({"type": "alias", "userId": "u1", "previousId": "anon-7"}, AliasMessage),
    ],
)
def test_each_segment_call_is_read_as_its_own_type(raw: dict[str, Any], model: type) -> None:
    # Given a message of each Segment call type
    # When it is validated
    message = messages.validate_python(raw)
    # Then the `type` field picks the model that knows its fields
    assert isinstance(message, model)


def test_an_unknown_type_is_rejected() -> None:
    # Given a message whose type Segment does not define
    # When it is validated, Then it is refused rather than guessed
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        messages.validate_python({"type": "purchase", "userId": "u1"})


def test_a_message_without_user_or_anonymous_id_is_rejected() -> None:
    # Given a track call that says nothing about who did it
    # When it is validated, Then the identity rule explains what is missing
    with pytest.raises(ValidationError, match="either userId or anonymousId is required"):
        messages.validate_python({"type": "track", "event": "Product Added"})


def test_an_anonymous_visitor_is_keyed_by_anonymous_id() -> None:
    # Given a visitor who has not logged in
    message = messages.validate_python({"type": "track", "anonymousId": "anon-7", "event": "Product Viewed"})
    # When righttime asks whose profile it is, Then the anonymousId is the key
    assert message.customer_id == "anon-7"


def test_a_known_user_is_keyed_by_user_id_even_with_an_anonymous_id() -> None:
    # Given a message carrying both ids (a visitor who just logged in)
    message = messages.validate_python(
        {"type": "track", "userId": "u1", "anonymousId": "anon-7", "event": "Product Viewed"}
    )
    # Then the profile key is the userId
    assert message.customer_id == "u1"


def test_numeric_ids_are_read_as_strings() -> None:
    # Given an SDK that sends numeric ids
    message = messages.validate_python(
        {"type": "track", "userId": 42, "anonymousId": 7, "messageId": 9001, "event": "Product Viewed"}
    )
    # Then they are accepted as the strings Segment treats them as
    assert (message.userId, message.anonymousId, message.messageId) == ("42", "7", "9001")


def test_a_boolean_id_is_not_mistaken_for_a_number() -> None:
    # Given a buggy client sending userId: true
    # When it is validated, Then it is rejected instead of becoming the customer "True"
    with pytest.raises(ValidationError, match="userId"):
        messages.validate_python({"type": "track", "userId": True, "event": "Product Viewed"})


def test_a_timestamp_without_zone_is_rejected() -> None:
    # Given a timestamp that could mean any of 24 instants
    # When it is validated, Then it is refused
    with pytest.raises(ValidationError, match="timestamp"):
        messages.validate_python(
            {"type": "track", "userId": "u1", "event": "E", "timestamp": "2026-03-02T10:00:00"}
        )


def test_unknown_segment_fields_are_kept() -> None:
    # Given a message with fields righttime does not read (Segment allows any)
    message = messages.validate_python({"type": "track", "userId": "u1", "event": "E", "version": 2})
    # Then they are kept, not dropped
    assert message.model_dump()["version"] == 2


def test_a_queued_event_survives_the_queue_with_its_type() -> None:
    # Given an accepted page call queued as JSON for the evaluator
    message = messages.validate_python({"type": "page", "userId": "u1", "name": "Home", "custom": 1})
    queued = QueuedEvent(message=message, received_at=RECEIVED, occurred_at=RECEIVED)
    # When the evaluator reads it back
    restored = QueuedEvent.model_validate_json(queued.model_dump_json())
    # Then it is the same event, still a page call
    assert restored == queued
    assert isinstance(restored.message, PageMessage)


def _track(timestamp: datetime | None, sent_at: datetime | None) -> TrackMessage:
    return TrackMessage(userId="u1", event="Product Added", timestamp=timestamp, sentAt=sent_at)


def test_without_a_timestamp_the_event_happened_when_received() -> None:
    # Given a message with no timestamp
    # When its time is corrected, Then it happened when righttime received it
    assert corrected_timestamp(_track(None, None), RECEIVED) == RECEIVED


def test_a_device_clock_ahead_is_corrected_by_its_skew() -> None:
    # Given a phone whose clock is 10 minutes fast, reporting an event that really happened 5 minutes ago
    skew = timedelta(minutes=10)
    message = _track(RECEIVED - timedelta(minutes=5) + skew, RECEIVED + skew)
    # When its time is corrected
    # Then the event is placed 5 minutes before it was received
    assert corrected_timestamp(message, RECEIVED) == RECEIVED - timedelta(minutes=5)


def test_a_device_clock_behind_is_corrected_by_its_skew() -> None:
    # Given a device whose clock is one hour slow
    skew = timedelta(hours=-1)
    message = _track(RECEIVED - timedelta(seconds=30) + skew, RECEIVED + skew)
    # Then the correction moves the event forward by that hour
    assert corrected_timestamp(message, RECEIVED) == RECEIVED - timedelta(seconds=30)


def test_without_sent_at_the_timestamp_is_trusted_as_sent() -> None:
    # Given a server-side integration that sends only a timestamp
    at = RECEIVED - timedelta(hours=2)
    # Then that timestamp is when the event happened
    assert corrected_timestamp(_track(at, None), RECEIVED) == at


def test_an_event_is_never_placed_after_it_was_received() -> None:
    # Given a device clock far in the future and no sentAt to measure it by
    message = _track(RECEIVED + timedelta(days=3), None)
    # Then the event is placed no later than when it was received
    assert corrected_timestamp(message, RECEIVED) == RECEIVED


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(timestamp=instants, sent_at=st.none() | instants, received_at=instants)
def test_corrected_time_is_never_after_receipt(
    timestamp: datetime, sent_at: datetime | None, received_at: datetime
) -> None:
    # Given any timestamp, sentAt and receipt instant
    # When the time is corrected
    corrected = corrected_timestamp(_track(timestamp, sent_at), received_at)
    # Then the event did not happen after righttime received it
    assert corrected <= received_at
