"""Ingestion from browsers (analytics.js): the write key in the body, Segment's short paths, and CORS."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from righttime.core.cors import (
    cors_headers,
    origin_allowed,
    parse_origins,
    preflight_headers,
)
from righttime.core.errors import ConfigurationError, UnauthorizedError
from righttime.core.events import PageMessage, QueuedEvent
from righttime.stages.ingest import ENDPOINT_PATHS, accept
from righttime.wiring import settings

WRITE_KEY = "wk_live_123"
RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SHOP = "https://shop.example.com"


def is_valid_key(key: str) -> bool:
    return key == WRITE_KEY


def accepted(endpoint: Any, document: Any, authorization: str | None = None, **kwargs: Any) -> list[Any]:
    queued: list[QueuedEvent] = []

    def enqueue(events: Sequence[QueuedEvent]) -> None:
        queued.extend(events)

    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    accept(
        endpoint,
        raw,
        content_encoding=kwargs.get("content_encoding"),
        authorization=authorization,
        received_at=RECEIVED,
        is_valid_key=is_valid_key,
        enqueue=enqueue,
    )
    return [event.model_dump(mode="json") for event in queued]


def analytics_js_track() -> dict[str, Any]:
    """What analytics.js 1.84 posts to /v1/t for `analytics.track("Product Added", {...})`."""
    return {
        "timestamp": "2026-03-02T09:59:58.120Z",
        "integrations": {},
        "type": "track",
        "event": "Product Added",
        "properties": {"product_id": "sku-1", "price": 24},
        "context": {
            "page": {"path": "/", "referrer": "", "search": "", "title": "Shop", "url": "http://127.0.0.1/"},
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0 Safari/537.36",
            "userAgentData": {"brands": [{"brand": "Chromium", "version": "131"}], "mobile": False},
            "locale": "en-US",
            "library": {"name": "analytics.js", "version": "npm:next-1.84.3"},
            "timezone": "Europe/Paris",
        },
        "messageId": "ajs-next-1772445598120-6b0f1c2a",
        "anonymousId": "4f0e1f6e-38a4-4c9b-8d5f-9f1b9f3c0a11",
        "userId": "user-42",
        "writeKey": WRITE_KEY,
        "sentAt": "2026-03-02T09:59:58.130Z",
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }


# --- the write key in the body ---------------------------------------------------------------------


def test_a_text_plain_body_with_its_write_key_and_no_header_is_accepted_without_the_key() -> None:
    # Given what analytics.js posts: the write key in the JSON body, no Authorization header
    # When ingest accepts it
    queued = accepted("track", analytics_js_track())
    # Then the event is queued, and the key (a credential) is not part of it
    assert [event["message"]["event"] for event in queued] == ["Product Added"]
    assert "writeKey" not in queued[0]["message"]


def test_a_batch_with_the_write_key_in_the_body_and_in_each_message_queues_none_of_them() -> None:
    # Given analytics.js's batching delivery: the key at the top and in every message
    message = {k: v for k, v in analytics_js_track().items() if k != "sentAt"}
    document = {"writeKey": WRITE_KEY, "batch": [message, message | {"messageId": "ajs-2"}]}
    # When ingest accepts it
    queued = accepted("batch", document)
    # Then both messages are queued without the key
    assert len(queued) == 2
    assert all("writeKey" not in event["message"] for event in queued)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({**analytics_js_track(), "writeKey": "wk_wrong"}, "invalid write key in 'writeKey'"),
        ({k: v for k, v in analytics_js_track().items() if k != "writeKey"}, "missing write key"),
        ({**analytics_js_track(), "writeKey": ""}, "missing write key"),
        ({**analytics_js_track(), "writeKey": ["wk_live_123"]}, "missing write key"),
        (b"not json", "missing write key"),
        (b"[1, 2]", "missing write key"),
    ],
    ids=["wrong", "absent", "empty", "not-a-string", "not-json", "not-an-object"],
)
def test_a_body_without_a_valid_write_key_and_no_header_is_refused_as_unauthorized(
    document: Any, message: str
) -> None:
    # Given a request without an Authorization header, whose body holds no valid key
    # When ingest is asked to accept it, Then it answers 401 naming the problem, and queues nothing
    with pytest.raises(UnauthorizedError, match=message):
        accepted("track", document)


def test_the_missing_key_message_names_both_ways_to_send_it() -> None:
    with pytest.raises(UnauthorizedError) as refused:
        accepted("track", {"userId": "u1", "event": "x"})
    assert "HTTP Basic" in str(refused.value) and "writeKey" in str(refused.value)


def test_a_gzipped_body_carries_its_write_key_too() -> None:
    # Given a gzipped body with the key inside, and no header
    raw = gzip.compress(json.dumps(analytics_js_track()).encode())
    # When ingest accepts it, Then the event is queued
    assert len(accepted("track", raw, content_encoding="gzip")) == 1


def test_the_header_wins_over_the_body_when_both_are_sent() -> None:
    # Given analytics.js's own habit: the valid key both as Basic auth and in the body
    header = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    # When ingest accepts it, Then it is queued without the key
    assert "writeKey" not in accepted("track", analytics_js_track(), header)[0]["message"]
    # And a wrong header is refused even when the body names a valid key
    wrong = "Basic " + base64.b64encode(b"wk_wrong:").decode()
    with pytest.raises(UnauthorizedError, match="invalid write key"):
        accepted("track", analytics_js_track(), wrong)


# --- the single-message calls and the short paths ---------------------------------------------------


def test_every_segment_path_long_and_short_names_its_call() -> None:
    assert {
        **{n: n for n in ("identify", "track", "page", "screen", "group", "alias", "batch")},
        "i": "identify",
        "t": "track",
        "p": "page",
        "s": "screen",
        "g": "group",
        "a": "alias",
        "b": "batch",
    } == ENDPOINT_PATHS


def test_a_page_call_as_analytics_js_sends_it_is_queued_as_a_page() -> None:
    # Given analytics.page() as analytics.js 1.84 posts it to /v1/p
    document = analytics_js_track() | {
        "type": "page",
        "name": None,
        "properties": {"path": "/", "referrer": "", "search": "", "title": "Shop", "url": "http://x/"},
        "category": None,
    }
    del document["event"]
    # When ingest accepts it
    queued = accepted("page", document)
    # Then one page message is queued, with what analytics.js put in its context
    assert queued[0]["message"]["type"] == "page"
    assert queued[0]["message"]["context"]["page"]["title"] == "Shop"
    assert PageMessage.model_validate(queued[0]["message"]).customer_id == "user-42"


@pytest.mark.parametrize(
    ("endpoint", "document", "kept"),
    [
        ("screen", {"userId": "u1", "name": "Cart"}, ("name", "Cart")),
        ("group", {"userId": "u1", "groupId": "acme", "traits": {"plan": "pro"}}, ("groupId", "acme")),
        ("alias", {"userId": "u1", "previousId": "anon-1"}, ("previousId", "anon-1")),
    ],
)
def test_the_other_single_message_calls_take_their_type_from_the_path(
    endpoint: str, document: dict[str, Any], kept: tuple[str, str]
) -> None:
    # Given a single message without a type, When it is sent to its endpoint
    queued = accepted(endpoint, document | {"writeKey": WRITE_KEY})
    # Then it is queued as that type
    assert queued[0]["message"]["type"] == endpoint
    assert queued[0]["message"][kept[0]] == kept[1]


def test_a_group_call_without_its_group_id_is_refused_naming_the_field() -> None:
    from righttime.core.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError) as refused:
        accepted("group", {"userId": "u1", "writeKey": WRITE_KEY})
    assert [e.field for e in refused.value.errors] == ["groupId"]


# --- CORS ------------------------------------------------------------------------------------------


def test_an_allowed_origin_gets_its_own_origin_back_and_a_vary_header() -> None:
    allowed = parse_origins(f"{SHOP}, https://www.shop.example.com")
    assert cors_headers(SHOP, allowed) == {
        "Access-Control-Allow-Origin": SHOP,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


def test_any_origin_allowed_answers_with_the_wildcard() -> None:
    headers = cors_headers("https://anything.example", parse_origins("*"))
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in headers


def test_a_refused_origin_and_a_request_without_origin_get_no_allow_origin() -> None:
    allowed = parse_origins(SHOP)
    assert "Access-Control-Allow-Origin" not in cors_headers("https://evil.example", allowed)
    assert "Access-Control-Allow-Origin" not in cors_headers(None, allowed)
    assert not origin_allowed("https://evil.example", allowed)


def test_origins_compare_as_browsers_send_them_lower_case_without_a_trailing_slash() -> None:
    allowed = parse_origins("https://Shop.Example.com/")
    assert origin_allowed(SHOP, allowed)


def test_a_preflight_answer_allows_what_analytics_js_sends() -> None:
    headers = preflight_headers(SHOP, parse_origins(SHOP))
    assert headers["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in headers["Access-Control-Allow-Methods"]
    allowed_headers = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-retry-count"} <= allowed_headers


@pytest.mark.parametrize("value", ["", " , ", "shop.example.com", "https://shop.example.com/path", "ftp://x"])
def test_a_setting_that_is_not_a_list_of_origins_fails_naming_the_variable(value: str) -> None:
    # Given RIGHTTIME_ALLOWED_ORIGINS set to something that is not an origin
    # When the setting is read, Then the error names the variable
    with pytest.raises(ConfigurationError, match="RIGHTTIME_ALLOWED_ORIGINS"):
        settings.load(settings.CorsSettings, {"RIGHTTIME_ALLOWED_ORIGINS": value})


def test_any_origin_is_the_default() -> None:
    assert settings.load(settings.CorsSettings, {}).origins == frozenset({"*"})
