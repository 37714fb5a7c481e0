"""Ingestion: authenticate, decode, validate and queue Segment-format messages.

Nothing from a rejected request is queued: the whole request is validated before anything is sent on.
Hostile input is refused here with 400 naming the field, never accepted and dead-lettered later: numbers
DynamoDB cannot store, strings SQS cannot carry, nesting past `MAX_NESTING`, absurd timestamps, e-mail
addresses that are not one plain addr-spec, and traits or cart-line fields over the caps in docs/limits.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from righttime.core.addresses import parse_address
from righttime.core.catalog import CatalogError, product_fields
from righttime.core.errors import FieldError, InvalidRequestError, UnauthorizedError
from righttime.core.events import (
    IDENTITY_REQUIRED,
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    PRODUCT_UPDATED,
    RESERVED_EVENT_PREFIX,
    BatchRequest,
    IdentifyMessage,
    Message,
    QueuedEvent,
    corrected_timestamp,
)

Endpoint = Literal["identify", "track", "page", "screen", "group", "alias", "batch"]
#: Every path ingest answers under /v1, long and short as Segment's API has them (analytics.js posts to the
#: short ones: /v1/t for a track call, /v1/b for a batch).
ENDPOINT_PATHS: dict[str, Endpoint] = {
    **{name: name for name in ("identify", "track", "page", "screen", "group", "alias", "batch")},
    **{name[0]: name for name in ("identify", "track", "page", "screen", "group", "alias", "batch")},
}
#: The top-level field browsers send the write key in (analytics.js puts it in every message, and in a batch).
WRITE_KEY_FIELD = "writeKey"
_message_adapter: TypeAdapter[Message] = TypeAdapter(Message)

#: How deep a value inside a message may nest (objects and arrays; the message itself is level 0).
MAX_NESTING = 32
#: Caps on what an identify may add to a profile (docs/limits.md).
MAX_TRAITS = 100
MAX_TRAIT_KEY_LENGTH = 100
MAX_TRAIT_VALUE_BYTES = 2 * 1024
#: Caps on the cart-line fields the profile keeps from e-commerce events (docs/limits.md).
MAX_CART_FIELD_BYTES = 1024
CART_LINE_FIELDS = ("product_id", "sku", "name", "category", "url", "image_url")
#: The events whose properties (and `products[]`) become cart lines or order categories on the profile.
PROFILE_EVENTS = frozenset({"Product Added", "Product Removed", "Order Completed"})
#: What a DynamoDB number can be: finite, at most 38 significant digits, 1E-130 <= |n| < 1E+126.
MAX_NUMBER_DIGITS = 38
_LARGEST_NUMBER = Decimal("9.9999999999999999999999999999999999999E+125")
_SMALLEST_NUMBER = Decimal("1E-130")
#: Event times outside these are not mistakes a clock makes; they would only overflow date arithmetic later.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)
#: An answer lists at most this many bad fields (a 10,000-message batch could otherwise list 10,000).
MAX_REPORTED_ERRORS = 100
#: A request with more events than this is queued over QUEUE_LANES concurrent lanes, one customer's events
#: in one lane and in order: 10,000 events are 1,000 SendMessageBatch calls, too many to make one by one
#: within the function's 10 s.
LANE_THRESHOLD = 100
QUEUE_LANES = 8
#: Lone surrogates cannot be encoded as UTF-8, and SQS refuses U+FFFE and U+FFFF.
_UNSENDABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


MISSING_WRITE_KEY = (
    "missing write key: use HTTP Basic auth with the write key as the user name, "
    f"or send it as {WRITE_KEY_FIELD!r} in the JSON body"
)


def authenticate(authorization: str | None, is_valid_key: Callable[[str], bool]) -> None:
    """HTTP Basic with the write key as user name and an empty password, as Segment's API does."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise UnauthorizedError(MISSING_WRITE_KEY)
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


def authenticate_body(document: Any, is_valid_key: Callable[[str], bool]) -> None:
    """The write key as browsers send it, without an Authorization header: `writeKey` in the JSON body."""
    key = document.get(WRITE_KEY_FIELD) if isinstance(document, dict) else None
    if not isinstance(key, str) or not key:
        raise UnauthorizedError(MISSING_WRITE_KEY)
    if not is_valid_key(key):
        raise UnauthorizedError(f"invalid write key in {WRITE_KEY_FIELD!r}")


def parse(endpoint: Endpoint, body: bytes, received_at: datetime) -> list[QueuedEvent]:
    """Validate a decoded body into queued events, or raise InvalidRequestError naming every bad field."""
    return parse_document(endpoint, _load_json(body), received_at)


def parse_document(endpoint: Endpoint, document: Any, received_at: datetime) -> list[QueuedEvent]:
    """`parse` for a body already loaded with `load_body`."""
    if not isinstance(document, dict):
        raise InvalidRequestError("body must be a JSON object", [FieldError("body", "expected an object")])
    document = _without_write_keys(document, endpoint)
    # Checked before pydantic sees the document: unstorable numbers are placeholders until then, and a
    # deeply nested value would give pydantic a path as long as the nesting.
    value_errors: list[FieldError] = []
    _check_values(document, [], -2 if endpoint == "batch" else 0, value_errors)
    if value_errors:
        raise _invalid(value_errors)

    raw_messages: Any
    if endpoint == "batch":
        raw_messages = document.get("batch")
        prefix = "batch"
    else:
        # The single-message endpoints take the type from the path, as Segment does.
        raw_messages = [{**document, "type": endpoint}]
        prefix = ""
    errors = (
        _size_errors(raw_messages, prefix)
        + _identity_errors(raw_messages, prefix)
        + _content_errors(raw_messages, endpoint, prefix)
    )
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
    errors += _time_errors(messages, batch_sent_at, prefix)
    if errors:
        raise _invalid(errors)

    events = []
    for message in messages:
        if isinstance(message, IdentifyMessage) and isinstance(message.traits.get("email"), str):
            message.traits["email"] = parse_address(str(message.traits["email"]))
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


def _without_write_keys(document: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    """The body without the write key browsers put in it (top level, and every message of a batch): a
    credential has no place on the queue or in a profile's history."""
    document = {k: v for k, v in document.items() if k != WRITE_KEY_FIELD}
    if endpoint == "batch" and isinstance(document.get("batch"), list):
        document["batch"] = [
            {k: v for k, v in m.items() if k != WRITE_KEY_FIELD} if isinstance(m, dict) else m
            for m in document["batch"]
        ]
    return document


def _invalid(errors: list[FieldError]) -> InvalidRequestError:
    count = len(errors)
    listed = f"; the first {MAX_REPORTED_ERRORS} are listed" if count > MAX_REPORTED_ERRORS else ""
    return InvalidRequestError(
        f"{count} invalid field{'s' if count > 1 else ''}; nothing was accepted{listed}",
        errors[:MAX_REPORTED_ERRORS],
    )


# --- JSON values: what DynamoDB and SQS can hold --------------------------------------------------------


@dataclass(frozen=True)
class _Unstorable:
    """A JSON number DynamoDB cannot store, kept in place of its value until `_check_values` names it."""

    text: str
    reason: str


def load_body(body: bytes) -> Any:
    """The body's JSON, with numbers DynamoDB cannot store kept as placeholders `parse_document` names."""
    return _load_json(body)


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_int=_integer, parse_float=_float, parse_constant=_non_finite)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequestError("body is not valid JSON", [FieldError("body", str(exc))]) from exc
    except RecursionError as exc:  # json's C parser guards its own stack; the limit is far past MAX_NESTING
        raise InvalidRequestError(
            "body nests objects or arrays too deeply",
            [FieldError("body", f"nested more than {MAX_NESTING} levels deep")],
        ) from exc


def _integer(text: str) -> int | _Unstorable:
    # Decimal first: int() refuses literals over 4,300 digits with a ValueError that is not a JSON error.
    reason = _unstorable(Decimal(text), text)
    return _Unstorable(text, reason) if reason else int(text)


def _float(text: str) -> float | _Unstorable:
    reason = _unstorable(Decimal(text), text)
    if reason:
        return _Unstorable(text, reason)
    value = float(text)
    # Stored as the float's shortest repr, which may round past the largest number.
    reason = _unstorable(Decimal(repr(value)), text)
    return _Unstorable(text, reason) if reason else value


def _non_finite(text: str) -> _Unstorable:
    return _Unstorable(text, f"{text} is not a finite number; DynamoDB cannot store it")


def _unstorable(number: Decimal, text: str) -> str | None:
    shown = text if len(text) <= 50 else f"{text[:20]}…({len(text)} characters)"
    if not number.is_finite():
        return f"{shown} is not a finite number; DynamoDB cannot store it"
    if number.is_zero():
        return None
    # Leading and trailing zeros don't count, as DynamoDB trims them (normalize() would round to 28 digits).
    if len("".join(map(str, number.as_tuple().digits)).strip("0")) > MAX_NUMBER_DIGITS:
        return f"{shown} has more than {MAX_NUMBER_DIGITS} significant digits; DynamoDB cannot store it"
    if not _SMALLEST_NUMBER <= number.copy_abs() <= _LARGEST_NUMBER:  # exact, unlike abs()
        return f"{shown} is outside the range DynamoDB can store (1E-130 to 9.99…E+125 in magnitude)"
    return None


def _check_values(value: Any, path: list[str], depth: int, errors: list[FieldError]) -> None:
    """Name every unstorable number, unsendable string and value nested past MAX_NESTING."""
    if isinstance(value, _Unstorable):
        errors.append(FieldError(_path(path), value.reason))
    elif isinstance(value, str):
        if _UNSENDABLE.search(value):
            errors.append(FieldError(_path(path), _UNSENDABLE_MESSAGE))
    elif isinstance(value, dict | list):
        if depth > MAX_NESTING:
            errors.append(FieldError(_path(path), f"nested more than {MAX_NESTING} levels deep"))
            return
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and _UNSENDABLE.search(key):
                errors.append(FieldError(_path([*path, key]), f"the key {_UNSENDABLE_MESSAGE}"))
            elif key == "":  # a DynamoDB attribute name, nested ones included, has at least one character
                errors.append(FieldError(_path(path), "has an empty key, which DynamoDB cannot store"))
            _check_values(item, [*path, str(key)], depth + 1, errors)


_UNSENDABLE_MESSAGE = "contains a lone UTF-16 surrogate or U+FFFE/U+FFFF, which cannot be stored or queued"


def _path(parts: list[str]) -> str:
    # A field name travels in the JSON answer and the logs: no surrogates, and no unbounded key.
    cleaned = [_UNSENDABLE.sub("\ufffd", p if len(p) <= 200 else p[:200] + "…") for p in parts]
    return ".".join(cleaned) or "body"


# --- per message: identify traits, cart lines, addresses, times ------------------------------------------


def _content_errors(raw_messages: Any, endpoint: Endpoint, prefix: str) -> list[FieldError]:
    if not isinstance(raw_messages, list):
        return []
    errors: list[FieldError] = []
    for index, raw in enumerate(raw_messages):
        if not isinstance(raw, dict):
            continue
        where = f"{prefix}.{index}." if prefix else ""
        kind = raw.get("type") if endpoint == "batch" else endpoint
        if kind == "identify" and isinstance(raw.get("traits"), dict):
            errors += _trait_errors(raw["traits"], f"{where}traits")
        context = raw.get("context")
        if kind == "identify" and isinstance(context, dict) and isinstance(context.get("traits"), dict):
            # RudderStack's SDKs send identify's traits here: they are read, so they are checked alike.
            errors += _trait_errors(context["traits"], f"{where}context.traits")
        event, properties = raw.get("event"), raw.get("properties")
        if kind == "track" and isinstance(event, str) and event.startswith(RESERVED_EVENT_PREFIX):
            errors.append(
                FieldError(
                    f"{where}event",
                    f"event names beginning with {RESERVED_EVENT_PREFIX!r} are righttime's own: "
                    "apps cannot send them",
                )
            )
        if (
            kind == "track"
            and isinstance(event, str)
            and event in PROFILE_EVENTS
            and isinstance(properties, dict)
        ):
            errors += _cart_errors(properties, f"{where}properties")
        if kind == "track" and event == PRODUCT_UPDATED:
            errors += _product_errors(properties, where)
    return errors


def _product_errors(properties: Any, where: str) -> list[FieldError]:
    """A catalog update must describe a product: its id, and fields of the right types and sizes."""
    if not isinstance(properties, dict):
        return [FieldError(f"{where}properties", "a Product Updated event needs properties, with product_id")]
    try:
        product_fields(properties)
    except CatalogError as exc:
        field, _, problem = str(exc).partition(": ")
        return [FieldError(f"{where}{field}", problem)]
    return []


def _trait_errors(traits: dict[str, Any], where: str) -> list[FieldError]:
    errors = []
    if len(traits) > MAX_TRAITS:
        errors.append(FieldError(where, f"{len(traits)} traits, over the limit of {MAX_TRAITS} per message"))
    for key, value in traits.items():
        field = _path([where, key])
        if len(key) > MAX_TRAIT_KEY_LENGTH:
            errors.append(FieldError(field, f"trait name over {MAX_TRAIT_KEY_LENGTH} characters"))
        elif (size := _json_bytes(value)) > MAX_TRAIT_VALUE_BYTES:
            errors.append(FieldError(field, f"value is {size} bytes of JSON, over {MAX_TRAIT_VALUE_BYTES}"))
    email = traits.get("email")
    if isinstance(email, str):
        try:
            parse_address(email)
        except ValueError as exc:
            errors.append(FieldError(f"{where}.email", str(exc)))
    elif email is not None:
        errors.append(FieldError(f"{where}.email", "an e-mail address must be a string"))
    return errors


def _cart_errors(properties: dict[str, Any], where: str) -> list[FieldError]:
    lines: list[tuple[str, Any]] = [(where, properties)]
    if isinstance(products := properties.get("products"), list):
        lines += [(f"{where}.products.{i}", p) for i, p in enumerate(products)]
    errors = []
    for line_where, line in lines:
        if not isinstance(line, dict):
            continue
        for name in CART_LINE_FIELDS:
            value = line.get(name)
            size = len(value.encode()) if isinstance(value, str) else _json_bytes(value)
            if value is not None and size > MAX_CART_FIELD_BYTES:
                errors.append(
                    FieldError(
                        f"{line_where}.{name}", f"{size} bytes, over the {MAX_CART_FIELD_BYTES}-byte limit"
                    )
                )
    return errors


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _time_errors(
    messages: Sequence[Message], batch_sent_at: datetime | None, prefix: str
) -> list[FieldError]:
    named = [("sentAt", batch_sent_at)] if prefix else []
    for index, message in enumerate(messages):
        where = f"{prefix}.{index}." if prefix else ""
        named += [(f"{where}timestamp", message.timestamp), (f"{where}sentAt", message.sentAt)]
    return [
        FieldError(field, f"must be between {EARLIEST_TIME:%Y-%m-%d} and {LATEST_TIME:%Y-%m-%d} (UTC)")
        for field, value in named
        if value is not None and not _plausible(value)
    ]


def _plausible(instant: datetime) -> bool:
    # The naive check first: comparing an aware time near year 1 or 9999 with another can overflow.
    naive, margin = instant.replace(tzinfo=None), timedelta(days=1)
    earliest, latest = EARLIEST_TIME.replace(tzinfo=None), LATEST_TIME.replace(tzinfo=None)
    if not earliest - margin <= naive <= latest + margin:
        return False
    return EARLIEST_TIME <= instant <= LATEST_TIME


# --- e-mail addresses ----------------------------------------------------------------------------------


#: RFC 5322 atext: what a dot-atom local part may contain (no quoted strings, no comments).
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
    elif not prefix and parts and parts[0] in ("identify", "track", "page", "screen", "group", "alias"):
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
    """Authenticate, decode, validate and queue one request; return the number of messages accepted.

    The Authorization header is checked before the body is read. Without one, the key is looked for in the
    body, as analytics.js and other browser SDKs send it (a `text/plain` body, to spare a CORS preflight):
    a body that cannot be read then counts as a missing key, 401, like a missing header."""
    if authorization:
        authenticate(authorization, is_valid_key)
        document = load_body(decode_body(body, content_encoding))
    else:
        try:
            document = load_body(decode_body(body, content_encoding))
        except InvalidRequestError as exc:
            raise UnauthorizedError(MISSING_WRITE_KEY) from exc
        authenticate_body(document, is_valid_key)
    events = parse_document(endpoint, document, received_at)
    enqueue_in_lanes(events, enqueue)
    return len(events)


def enqueue_in_lanes(events: Sequence[QueuedEvent], enqueue: Callable[[Sequence[QueuedEvent]], None]) -> None:
    """Queue `events` with `enqueue`, concurrently for a large request. A customer's events stay in one lane,
    sent in order, so the FIFO queue still sees them in order. If any lane fails, its error is raised once
    every lane has finished: the caller answers 503 and the SDK's retry is de-duplicated by messageId."""
    if len(events) <= LANE_THRESHOLD:
        enqueue(events)
        return
    from concurrent.futures import ThreadPoolExecutor  # only large requests pay for its import

    lanes: list[list[QueuedEvent]] = [[] for _ in range(QUEUE_LANES)]
    for event in events:
        lanes[zlib.crc32(event.customer_id.encode()) % QUEUE_LANES].append(event)
    with ThreadPoolExecutor(max_workers=QUEUE_LANES, thread_name_prefix="enqueue") as pool:
        sent = [pool.submit(enqueue, lane) for lane in lanes if lane]
    for lane in sent:
        lane.result()
