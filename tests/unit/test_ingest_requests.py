"""Ingestion of Segment HTTP API requests: auth, body decoding, validation and the all-or-nothing queueing."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from righttime.core.errors import InvalidRequestError, UnauthorizedError
from righttime.core.events import MAX_BATCH_BYTES, IdentifyMessage, QueuedEvent, TrackMessage
from righttime.stages.ingest import accept, authenticate, decode_body, parse

WRITE_KEY = "wk_live_123"
RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def is_valid_key(key: str) -> bool:
    return key == WRITE_KEY


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


def fields_of(error: InvalidRequestError) -> list[str]:
    return [e.field for e in error.errors]


# --- authenticate ---------------------------------------------------------------------------------


def test_the_write_key_as_basic_user_name_is_accepted() -> None:
    # Given the header a Segment SDK sends: the write key as user name, empty password
    seen: list[str] = []

    def check(key: str) -> bool:
        seen.append(key)
        return key == WRITE_KEY

    # When the request is authenticated, Then it passes and the key checked is the user name
    authenticate(basic(WRITE_KEY), check)
    assert seen == [WRITE_KEY]


def test_the_basic_scheme_name_is_case_insensitive() -> None:
    # Given a client writing the scheme in lower case, Then it is still accepted
    authenticate(basic(WRITE_KEY).replace("Basic", "basic"), is_valid_key)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no header"),
        pytest.param("", id="empty header"),
        pytest.param(f"Bearer {WRITE_KEY}", id="other scheme"),
        pytest.param("Basic", id="scheme only"),
        pytest.param("Basic !!!not-base64!!!", id="not base64"),
        pytest.param("Basic " + base64.b64encode(b"\xff\xfe:").decode(), id="not utf-8"),
        pytest.param(basic(""), id="empty key"),
        pytest.param(basic("wk_wrong"), id="wrong key"),
        pytest.param(basic("", WRITE_KEY), id="key as password"),
    ],
)
def test_a_missing_or_wrong_write_key_is_unauthorized(authorization: str | None) -> None:
    # Given a request without a valid write key as Basic user name
    # When it is authenticated, Then it is refused with a 401-class error
    with pytest.raises(UnauthorizedError):
        authenticate(authorization, is_valid_key)


# --- decode_body ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "", "identity"])
def test_an_uncompressed_body_is_passed_through(encoding: str | None) -> None:
    # Given a plain JSON body
    # When it is decoded, Then it is unchanged
    assert decode_body(b'{"a":1}', encoding) == b'{"a":1}'


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", " gzip "])
def test_a_gzipped_body_is_inflated(encoding: str) -> None:
    # Given a body compressed as the SDKs do
    raw = body({"batch": [{"type": "track", "userId": "u1", "event": "Product Added"}]})
    # When it is decoded, Then the JSON comes back
    assert decode_body(gzip.compress(raw), encoding) == raw


def test_a_body_at_the_batch_limit_is_accepted() -> None:
    # Given a body of exactly 500 KB
    raw = b"x" * MAX_BATCH_BYTES
    # Then it is within Segment's limit, plain or gzipped
    assert decode_body(raw, None) == raw
    assert decode_body(gzip.compress(raw), "gzip") == raw


def test_a_body_over_the_batch_limit_is_too_large() -> None:
    # Given a body one byte over 500 KB
    # When it is decoded, Then it is refused with 413 and a message naming the limit
    with pytest.raises(InvalidRequestError) as caught:
        decode_body(b"x" * (MAX_BATCH_BYTES + 1), None)
    assert caught.value.status == 413
    assert "500 KB" in str(caught.value)


@pytest.mark.parametrize("inflated", [MAX_BATCH_BYTES + 1, 20 * 1024 * 1024])
def test_a_gzip_body_that_inflates_past_the_limit_is_too_large(inflated: int) -> None:
    # Given a small gzip body that inflates past 500 KB (up to a 20 MB "gzip bomb")
    bomb = gzip.compress(b"\0" * inflated)
    assert len(bomb) < MAX_BATCH_BYTES
    # When it is decoded, Then it is refused with 413
    with pytest.raises(InvalidRequestError) as caught:
        decode_body(bomb, "gzip")
    assert caught.value.status == 413


def test_a_body_that_is_not_gzip_is_a_bad_request() -> None:
    # Given a body claiming gzip that is not
    # When it is decoded, Then it is a 400 naming the body
    with pytest.raises(InvalidRequestError) as caught:
        decode_body(b'{"plain": "json"}', "gzip")
    assert caught.value.status == 400
    assert fields_of(caught.value) == ["body"]


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress"])
def test_an_unsupported_content_encoding_is_415(encoding: str) -> None:
    # Given a body in an encoding righttime does not support
    # When it is decoded, Then the client is told to use gzip or none
    with pytest.raises(InvalidRequestError) as caught:
        decode_body(b"...", encoding)
    assert caught.value.status == 415
    assert fields_of(caught.value) == ["Content-Encoding"]
    assert "gzip" in str(caught.value)


# --- parse ----------------------------------------------------------------------------------------


def test_a_track_body_needs_no_type() -> None:
    # Given a /v1/track body as the Segment HTTP API documents it (no "type")
    document = {"userId": "u1", "event": "Product Added", "properties": {"product_id": "sku-1"}}
    # When it is parsed
    [event] = parse("track", body(document), RECEIVED)
    # Then it is a track call for that customer
    assert isinstance(event.message, TrackMessage)
    assert (event.customer_id, event.message.event) == ("u1", "Product Added")
    assert event.message.properties == {"product_id": "sku-1"}
    assert event.received_at == RECEIVED


def test_an_identify_body_becomes_an_identify_call() -> None:
    # Given a /v1/identify body
    [event] = parse("identify", body({"userId": "u1", "traits": {"email": "j@example.com"}}), RECEIVED)
    # Then its traits are read
    assert isinstance(event.message, IdentifyMessage)
    assert event.message.traits == {"email": "j@example.com"}


def test_the_path_decides_the_type_of_a_single_message() -> None:
    # Given a /v1/track body that claims to be an identify
    document = {"type": "identify", "userId": "u1", "event": "Order Completed"}
    # When it is parsed, Then the endpoint wins, as with Segment
    [event] = parse("track", body(document), RECEIVED)
    assert isinstance(event.message, TrackMessage)


def test_a_batch_yields_one_event_per_message_in_order() -> None:
    # Given a batch mixing call types
    document = {
        "batch": [
            {"type": "identify", "userId": "u1", "traits": {}},
            {"type": "track", "anonymousId": "a9", "event": "Product Viewed"},
            {"type": "page", "userId": "u1", "name": "Home"},
        ]
    }
    # When it is parsed
    events = parse("batch", body(document), RECEIVED)
    # Then every message is accepted, in the order sent
    assert [e.message.type for e in events] == ["identify", "track", "page"]
    assert [e.customer_id for e in events] == ["u1", "a9", "u1"]


def test_batch_errors_name_every_bad_field_by_position() -> None:
    # Given a batch where message 1 lacks its event name and message 2 its ids
    document = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Product Added"},
            {"type": "track", "userId": "u1"},
            {"type": "track", "event": "Product Added", "timestamp": "yesterday"},
        ]
    }
    # When it is parsed
    with pytest.raises(InvalidRequestError) as caught:
        parse("batch", body(document), RECEIVED)
    # Then one 400 names each bad field as the user wrote it, and says nothing was accepted
    error = caught.value
    assert error.status == 400
    assert {"batch.1.event", "batch.2.timestamp"} <= set(fields_of(error))
    assert "nothing was accepted" in str(error)


def test_an_app_cannot_send_righttimes_own_events() -> None:
    # Given a batch whose second message claims to be righttime's due event
    document = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Product Added"},
            {"type": "track", "userId": "u1", "event": "righttime:due"},
        ]
    }
    # When it is parsed
    with pytest.raises(InvalidRequestError) as caught:
        parse("batch", body(document), RECEIVED)
    # Then the batch is refused, naming the event and why
    assert fields_of(caught.value) == ["batch.1.event"]
    assert "righttime's own" in caught.value.errors[0].message


def test_a_batch_message_without_ids_names_its_user_id() -> None:
    # Given a batch whose first message has neither userId nor anonymousId
    document = {"batch": [{"type": "track", "event": "Product Added"}]}
    # When it is parsed
    with pytest.raises(InvalidRequestError) as caught:
        parse("batch", body(document), RECEIVED)
    # Then the error points at batch.0.userId and says what is required
    [error] = caught.value.errors
    assert error.field == "batch.0.userId"
    assert "anonymousId" in error.message


def test_a_single_message_without_ids_names_its_user_id() -> None:
    # Given a /v1/track body with neither userId nor anonymousId
    # When it is parsed, Then the error names userId
    with pytest.raises(InvalidRequestError) as caught:
        parse("track", body({"event": "Product Added"}), RECEIVED)
    assert fields_of(caught.value) == ["userId"]


def test_a_batch_message_of_the_wrong_id_type_names_its_user_id() -> None:
    # Given a userId that is a list
    document = {"batch": [{"type": "track", "userId": ["u1"], "event": "Product Added"}]}
    # Then the error names batch.0.userId
    with pytest.raises(InvalidRequestError) as caught:
        parse("batch", body(document), RECEIVED)
    assert fields_of(caught.value) == ["batch.0.userId"]


def test_a_batch_message_of_unknown_type_is_named() -> None:
    # Given a batch whose second message has a type Segment does not define
    document = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Product Added"},
            {"type": "purchase", "userId": "u1"},
        ]
    }
    with pytest.raises(InvalidRequestError) as caught:
        parse("batch", body(document), RECEIVED)
    # Then the error names that message
    assert fields_of(caught.value) == ["batch.1"]


def test_a_message_over_32_kb_is_rejected_by_position() -> None:
    # Given a batch whose second message carries 40 KB of properties
    big = {"type": "track", "userId": "u1", "event": "Product Added", "properties": {"blob": "x" * 40_000}}
    document = {"batch": [{"type": "track", "userId": "u1", "event": "Product Viewed"}, big]}
    # When it is parsed
    with pytest.raises(InvalidRequestError) as caught:
        parse("batch", body(document), RECEIVED)
    # Then the error names batch.1 and the 32 KB limit
    [error] = caught.value.errors
    assert error.field == "batch.1"
    assert "32 KB" in error.message


def test_a_single_message_over_32_kb_is_rejected() -> None:
    # Given a /v1/track body of 40 KB
    document = {"userId": "u1", "event": "Product Added", "properties": {"blob": "x" * 40_000}}
    # Then it is refused, naming the body
    with pytest.raises(InvalidRequestError) as caught:
        parse("track", body(document), RECEIVED)
    assert fields_of(caught.value) == ["body"]
    assert "32 KB" in caught.value.errors[0].message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{not json", id="broken JSON"),
        pytest.param(b"\xff\xfe\x00garbage", id="not text"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[1, 2]", id="not an object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_bad_request(raw: bytes) -> None:
    # Given a body that is not a JSON object
    # When it is parsed, Then it is a 400 naming the body
    with pytest.raises(InvalidRequestError) as caught:
        parse("track", raw, RECEIVED)
    assert caught.value.status == 400
    assert fields_of(caught.value) == ["body"]


@pytest.mark.parametrize("document", [{}, {"batch": []}, {"batch": "nope"}])
def test_a_batch_without_messages_is_a_bad_request(document: dict[str, Any]) -> None:
    # Given a /v1/batch body with no list of messages
    # Then the error names the batch field
    with pytest.raises(InvalidRequestError) as caught:
        parse("batch", body(document), RECEIVED)
    assert fields_of(caught.value) == ["batch"]


def test_a_message_id_is_generated_when_missing_and_kept_when_sent() -> None:
    # Given a batch where only the second message carries a messageId
    document = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Product Viewed"},
            {"type": "track", "userId": "u1", "event": "Product Viewed", "messageId": "m-2"},
            {"type": "track", "userId": "u1", "event": "Product Viewed"},
        ]
    }
    # When it is parsed
    first, second, third = parse("batch", body(document), RECEIVED)
    # Then the sent id is kept, and the others get distinct generated ids (de-duplication needs one)
    assert second.message_id == "m-2"
    assert first.message_id.startswith("rt-")
    assert third.message_id.startswith("rt-")
    assert first.message_id != third.message_id


def test_batch_sent_at_corrects_the_clock_of_messages_without_their_own() -> None:
    # Given a batch from a device whose clock is 10 minutes fast, with sentAt only on the batch
    skew = timedelta(minutes=10)
    happened = RECEIVED - timedelta(minutes=3)
    document = {
        "sentAt": (RECEIVED + skew).isoformat(),
        "batch": [
            {
                "type": "track",
                "userId": "u1",
                "event": "Product Added",
                "timestamp": (happened + skew).isoformat(),
            },
            {
                "type": "track",
                "userId": "u1",
                "event": "Product Added",
                "timestamp": (happened + skew).isoformat(),
                "sentAt": (RECEIVED + skew + timedelta(minutes=1)).isoformat(),
            },
        ],
    }
    # When it is parsed
    batch_only, own_sent_at = parse("batch", body(document), RECEIVED)
    # Then the batch sentAt is applied to the first message and corrects its time
    assert batch_only.message.sentAt == RECEIVED + skew
    assert batch_only.occurred_at == happened
    # And a message with its own sentAt keeps it
    assert own_sent_at.message.sentAt == RECEIVED + skew + timedelta(minutes=1)
    assert own_sent_at.occurred_at == happened - timedelta(minutes=1)


# --- accept ---------------------------------------------------------------------------------------


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[QueuedEvent] = []
        self.calls = 0

    def enqueue(self, events: Sequence[QueuedEvent]) -> None:
        self.calls += 1
        self.sent.extend(events)


def accept_with(queue: FakeQueue, raw: bytes, **overrides: Any) -> int:
    options: dict[str, Any] = {
        "content_encoding": None,
        "authorization": basic(WRITE_KEY),
        "received_at": RECEIVED,
        "is_valid_key": is_valid_key,
        "enqueue": queue.enqueue,
    }
    options.update(overrides)
    endpoint = options.pop("endpoint", "batch")
    return accept(endpoint, raw, **options)


def test_a_valid_gzipped_batch_is_queued_in_one_call() -> None:
    # Given an authenticated, gzipped batch of two messages
    queue = FakeQueue()
    raw = body(
        {
            "batch": [
                {"type": "identify", "userId": "u1", "traits": {"email": "j@example.com"}},
                {"type": "track", "userId": "u1", "event": "Product Added"},
            ]
        }
    )
    # When it is accepted
    count = accept_with(queue, gzip.compress(raw), content_encoding="gzip")
    # Then both messages are queued together and counted
    assert count == 2
    assert queue.calls == 1
    assert [e.message.type for e in queue.sent] == ["identify", "track"]


def test_nothing_is_queued_when_one_message_is_invalid() -> None:
    # Given a batch of three where only the last is invalid
    queue = FakeQueue()
    raw = body(
        {
            "batch": [
                {"type": "track", "userId": "u1", "event": "Product Added"},
                {"type": "track", "userId": "u1", "event": "Product Viewed"},
                {"type": "track", "userId": "u1"},
            ]
        }
    )
    # When it is accepted, Then it is refused and nothing at all reaches the queue
    with pytest.raises(InvalidRequestError):
        accept_with(queue, raw)
    assert queue.sent == []


def test_nothing_is_queued_without_a_valid_key() -> None:
    # Given a valid body with a wrong write key
    queue = FakeQueue()
    raw = body({"batch": [{"type": "track", "userId": "u1", "event": "Product Added"}]})
    # When it is accepted, Then it is unauthorized and nothing is queued
    with pytest.raises(UnauthorizedError):
        accept_with(queue, raw, authorization=basic("wk_wrong"))
    assert queue.sent == []


def test_authentication_comes_before_reading_the_body() -> None:
    # Given an unauthenticated request whose body is garbage
    # When it is accepted, Then the caller learns about the key first (401), not the body (400)
    with pytest.raises(UnauthorizedError):
        accept_with(FakeQueue(), b"{garbage", authorization=None)


def test_nothing_is_queued_for_a_gzip_bomb() -> None:
    # Given an authenticated gzip body that inflates to 10 MB
    queue = FakeQueue()
    # When it is accepted, Then it is refused with 413 and nothing is queued
    with pytest.raises(InvalidRequestError) as caught:
        accept_with(queue, gzip.compress(b" " * 10_000_000), content_encoding="gzip")
    assert caught.value.status == 413
    assert queue.sent == []
