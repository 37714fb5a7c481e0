"""Ingestion: authenticate, decode, validate and queue Segment-format messages.

Nothing from a rejected request is queued: the whole request is validated before anything is sent on.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from righttime.core.errors import FieldError, InvalidRequestError, UnauthorizedError
from righttime.core.events import (
    IDENTITY_REQUIRED,
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    BatchRequest,
    Message,
    QueuedEvent,
    corrected_timestamp,
)

Endpoint = Literal["identify", "track", "batch"]
_message_adapter: TypeAdapter[Message] = TypeAdapter(Message)


def authenticate(authorization: str | None, is_valid_key: Callable[[str], bool]) -> None:
    """HTTP Basic with the write key as user name and an empty password, as Segment's API does."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise UnauthorizedError("missing write key: use HTTP Basic auth with the write key as the user name")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise UnauthorizedError("malformed Authorization header") from exc
    key = decoded.split(":", 1)[0]
    if not key or not is_valid_key(key):
        raise UnauthorizedError("invalid write key")


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    """The request body, gunzipped if needed, refusing anything over Segment's batch limit."""
    if content_encoding and content_encoding.strip().lower() == "gzip":
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_BATCH_BYTES + 1)
        except zlib.error as exc:
            raise InvalidRequestError("body is not valid gzip", [FieldError("body", str(exc))]) from exc
        if inflater.unconsumed_tail:
            raise _too_large()
    elif content_encoding and content_encoding.strip().lower() not in ("identity", ""):
        raise InvalidRequestError(
            f"unsupported Content-Encoding {content_encoding!r}: use gzip or none",
            [FieldError("Content-Encoding", "unsupported")],
            status=415,
        )
    if len(body) > MAX_BATCH_BYTES:
        raise _too_large()
    return body


def _too_large() -> InvalidRequestError:
    return InvalidRequestError(
        f"request body is over the {MAX_BATCH_BYTES // 1024} KB batch limit",
        [FieldError("body", "too large")],
        status=413,
    )


def parse(endpoint: Endpoint, body: bytes, received_at: datetime) -> list[QueuedEvent]:
    """Validate a decoded body into queued events, or raise InvalidRequestError naming every bad field."""
    try:
        document: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequestError("body is not valid JSON", [FieldError("body", str(exc))]) from exc
    if not isinstance(document, dict):
        raise InvalidRequestError("body must be a JSON object", [FieldError("body", "expected an object")])

    raw_messages: Any
    if endpoint == "batch":
        raw_messages = document.get("batch")
        prefix = "batch"
    else:
        # The single-message endpoints take the type from the path, as Segment does.
        raw_messages = [{**document, "type": endpoint}]
        prefix = ""
    errors = _size_errors(raw_messages, prefix) + _identity_errors(raw_messages, prefix)
    try:
        if endpoint == "batch":
            request = BatchRequest.model_validate(document)
            messages: Sequence[Message] = request.batch
            batch_sent_at = request.sentAt
        else:
            messages = [_message_adapter.validate_python(raw_messages[0])]
            batch_sent_at = None
    except ValidationError as exc:
        # The identity rule is reported by _identity_errors under the field users write (userId), even
        # when other fields of the message are wrong too; pydantic reports it only when they are not.
        errors += [
            FieldError(_field_name(err["loc"], prefix), err["msg"])
            for err in exc.errors()
            if IDENTITY_REQUIRED not in err["msg"]
        ]
        messages, batch_sent_at = [], None
    if errors:
        count = len(errors)
        raise InvalidRequestError(
            f"{count} invalid field{'s' if count > 1 else ''}; nothing was accepted", errors
        )

    events = []
    for message in messages:
        if message.messageId is None:
            message.messageId = f"rt-{uuid.uuid4()}"  # Segment generates one too; de-duplication needs it
        if message.sentAt is None and batch_sent_at is not None:
            message.sentAt = batch_sent_at
        events.append(
            QueuedEvent(
                message=message,
                received_at=received_at,
                occurred_at=corrected_timestamp(message, received_at),
            )
        )
    return events


def _size_errors(raw_messages: Any, prefix: str) -> list[FieldError]:
    if not isinstance(raw_messages, list):
        return []
    errors = []
    for index, raw in enumerate(raw_messages):
        size = len(json.dumps(raw, separators=(",", ":")).encode())
        if size > MAX_MESSAGE_BYTES:
            where = f"{prefix}.{index}" if prefix else "body"
            errors.append(
                FieldError(where, f"message is {size} bytes, over the {MAX_MESSAGE_BYTES // 1024} KB limit")
            )
    return errors


def _identity_errors(raw_messages: Any, prefix: str) -> list[FieldError]:
    if not isinstance(raw_messages, list):
        return []
    return [
        FieldError(f"{prefix}.{index}.userId" if prefix else "userId", IDENTITY_REQUIRED)
        for index, raw in enumerate(raw_messages)
        if isinstance(raw, dict) and raw.get("userId") in (None, "") and raw.get("anonymousId") in (None, "")
    ]


def _field_name(loc: tuple[int | str, ...], prefix: str) -> str:
    # Pydantic puts the discriminator's value ("track") into the path of union members; users don't
    # write it, so it is dropped: batch.2.track.event -> batch.2.event.
    parts = [str(p) for p in loc]
    if (
        prefix
        and len(parts) > 2
        and parts[0] == "batch"
        and parts[2] in ("identify", "track", "page", "screen", "group", "alias")
    ):
        del parts[2]
    elif not prefix and parts and parts[0] in ("identify", "track"):
        del parts[0]
    return ".".join(parts) or "body"


def accept(
    endpoint: Endpoint,
    body: bytes,
    *,
    content_encoding: str | None,
    authorization: str | None,
    received_at: datetime,
    is_valid_key: Callable[[str], bool],
    enqueue: Callable[[Sequence[QueuedEvent]], None],
) -> int:
    """Authenticate, decode, validate and queue one request; return the number of messages accepted."""
    authenticate(authorization, is_valid_key)
    events = parse(endpoint, decode_body(body, content_encoding), received_at)
    enqueue(events)
    return len(events)
