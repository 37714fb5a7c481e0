"""Ingest as a browser reaches it through the HTTP API: Segment's short paths, the write key in a `text/plain`
body, and CORS (the preflight, and the headers of every answer) from the template's routes to the handler."""

from __future__ import annotations

import json
from typing import Any

import pytest

from righttime.core.clock import VirtualClock
from righttime.wiring.root import from_environment, install, root
from righttime_dev.local.pipeline import Pipeline
from tests.conftest import WRITE_KEY
from tests.functional.conftest import post

SHOP = "http://shop.test:8080"
ELSEWHERE = "http://elsewhere.test"


@pytest.fixture
def shop_only(pipeline: Pipeline, clock: VirtualClock) -> Pipeline:
    """The stack with RIGHTTIME_ALLOWED_ORIGINS naming the shop's pages only."""
    install(from_environment({**pipeline.environment, "RIGHTTIME_ALLOWED_ORIGINS": SHOP}, clock=clock))
    return pipeline


def browser_post(
    pipeline: Pipeline, path: str, document: Any, origin: str = SHOP, **headers: str
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """A POST as analytics.js makes it: `text/plain`, the write key in the body, from a page at `origin`."""
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    sent = {"content-type": "text/plain", "origin": origin, **{k.lower(): v for k, v in headers.items()}}
    status, reply_headers, payload = pipeline.http("POST", path, sent, raw)
    return status, {k.lower(): v for k, v in reply_headers.items()}, json.loads(payload or b"{}")


def preflight(pipeline: Pipeline, path: str, origin: str) -> tuple[int, dict[str, str]]:
    headers = {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    status, reply_headers, _ = pipeline.http("OPTIONS", path, headers, b"")
    return status, {k.lower(): v for k, v in reply_headers.items()}


def queued(pipeline: Pipeline) -> list[dict[str, Any]]:
    """The messages waiting on the events queue, left there."""
    response = pipeline.sqs.receive_message(
        QueueUrl=pipeline.stack.physical["EventsQueue"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [json.loads(m["Body"])["message"] for m in response.get("Messages", [])]


def track(**extra: Any) -> dict[str, Any]:
    return {"userId": "u1", "event": "Product Added", "writeKey": WRITE_KEY, **extra}


@pytest.mark.parametrize(
    ("path", "document", "kind"),
    [
        ("/v1/i", {"userId": "u1", "traits": {"email": "ada@example.com"}}, "identify"),
        ("/v1/t", {"userId": "u1", "event": "Product Added"}, "track"),
        ("/v1/p", {"userId": "u1", "name": "Home"}, "page"),
        ("/v1/s", {"userId": "u1", "name": "Cart"}, "screen"),
        ("/v1/g", {"userId": "u1", "groupId": "acme"}, "group"),
        ("/v1/a", {"userId": "u1", "previousId": "anon-1"}, "alias"),
        ("/v1/page", {"userId": "u1", "name": "Home"}, "page"),
        ("/v1/screen", {"userId": "u1", "name": "Cart"}, "screen"),
        ("/v1/group", {"userId": "u1", "groupId": "acme"}, "group"),
        ("/v1/alias", {"userId": "u1", "previousId": "anon-1"}, "alias"),
    ],
)
def test_each_single_message_path_queues_its_call_with_the_key_from_a_text_plain_body(
    pipeline: Pipeline, path: str, document: dict[str, Any], kind: str
) -> None:
    # Given a browser's POST to one of Segment's paths, the write key in its text/plain body
    # When the HTTP API routes it to ingest
    status, headers, body = browser_post(pipeline, path, {**document, "writeKey": WRITE_KEY})
    # Then it is accepted, with the CORS header the page needs to read the answer
    assert (status, body) == (200, {"success": True})
    assert headers["access-control-allow-origin"] == "*"
    # And the queue holds the call, typed by its path, without the key
    [message] = queued(pipeline)
    assert message["type"] == kind
    assert "writeKey" not in message


def test_a_batch_on_the_short_path_queues_every_message(pipeline: Pipeline) -> None:
    batch = {"writeKey": WRITE_KEY, "batch": [track(type="track"), track(type="track", event="Viewed")]}
    status, _, _ = browser_post(pipeline, "/v1/b", batch)
    assert status == 200
    assert sorted(m["event"] for m in queued(pipeline)) == ["Product Added", "Viewed"]


def test_an_allowed_page_gets_the_cors_headers_on_success_and_on_every_refusal(shop_only: Pipeline) -> None:
    # Given ingest allowing the shop's pages only
    # When the shop's page posts a good event, an invalid one, and one with a wrong key
    answers = [
        browser_post(shop_only, "/v1/t", track()),
        browser_post(shop_only, "/v1/t", track(event="")),
        browser_post(shop_only, "/v1/t", track(writeKey="wk_wrong")),
    ]
    # Then each answer names the shop as allowed, so analytics.js can read it
    assert [status for status, _, _ in answers] == [200, 400, 401]
    for _, headers, _ in answers:
        assert headers["access-control-allow-origin"] == SHOP
        assert headers["vary"] == "Origin"
    assert "invalid write key" in answers[2][2]["message"]


def test_a_preflight_from_an_allowed_page_says_what_it_may_send(shop_only: Pipeline) -> None:
    # Given ingest allowing the shop's pages only
    # When the browser asks before posting (analytics.js sends an Authorization header, so it asks)
    status, headers = preflight(shop_only, "/v1/t", SHOP)
    # Then it may post, with the headers analytics.js sends
    assert status == 204
    assert headers["access-control-allow-origin"] == SHOP
    assert "POST" in headers["access-control-allow-methods"]
    assert "authorization" in headers["access-control-allow-headers"].lower()


def test_a_preflight_and_a_post_from_another_page_are_refused_and_nothing_is_queued(
    shop_only: Pipeline,
) -> None:
    # Given ingest allowing the shop's pages only
    # When another site's page asks, then posts anyway (a text/plain POST a browser sends without asking)
    asked, asked_headers = preflight(shop_only, "/v1/t", ELSEWHERE)
    posted, posted_headers, body = browser_post(shop_only, "/v1/t", track(), origin=ELSEWHERE)
    # Then both are refused without a CORS header, so the browser keeps the answer from the page
    assert (asked, posted) == (403, 403)
    assert "access-control-allow-origin" not in asked_headers
    assert "access-control-allow-origin" not in posted_headers
    assert "RIGHTTIME_ALLOWED_ORIGINS" in body["message"]
    # And nothing was queued
    assert queued(shop_only) == []


def test_a_preflight_for_a_path_ingest_does_not_have_finds_nothing(pipeline: Pipeline) -> None:
    assert preflight(pipeline, "/v1/nope", SHOP)[0] == 404


def test_server_side_sdks_without_an_origin_are_unaffected_by_the_allowed_origins(
    shop_only: Pipeline,
) -> None:
    # Given ingest allowing the shop's pages only, When a server SDK posts (Basic auth, no Origin header)
    status, body = post(shop_only, "/v1/track", {"userId": "u1", "event": "Product Added"})
    # Then it is accepted, and the answer carries no CORS header
    assert (status, body) == (200, {"success": True})
    assert len(queued(shop_only)) == 1


def test_a_page_view_as_analytics_js_sends_it_counts_as_the_customers_activity(
    pipeline: Pipeline, clock: VirtualClock
) -> None:
    # Given a page view exactly as analytics.js 1.84 posts it to /v1/p (text/plain, key in the body, its
    # context, integrations and _metadata), for a visitor not yet identified
    page = {
        "timestamp": clock.now().isoformat(),
        "integrations": {},
        "type": "page",
        "properties": {
            "path": "/",
            "referrer": "",
            "search": "",
            "title": "Shop",
            "url": "http://shop.test/",
        },
        "context": {
            "page": {"path": "/", "referrer": "", "search": "", "title": "Shop", "url": "http://shop.test/"},
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0 Safari/537.36",
            "userAgentData": {"brands": [{"brand": "Chromium", "version": "131"}], "mobile": False},
            "locale": "fr-FR",
            "library": {"name": "analytics.js", "version": "npm:next-1.84.3"},
            "timezone": "Europe/Paris",
        },
        "messageId": "ajs-next-1772445598120-6b0f1c2a",
        "anonymousId": "visitor-1",
        "userId": None,
        "name": None,
        "category": None,
        "writeKey": WRITE_KEY,
        "sentAt": clock.now().isoformat(),
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }
    # When ingest accepts it and evaluate runs
    status, _, body = browser_post(pipeline, "/v1/p", page)
    assert (status, body) == (200, {"success": True})
    pipeline.run_until_idle()
    # Then the visitor's profile saw them now, in their zone and language
    profile = root().store.get_profile("visitor-1")
    assert profile.last_seen_at == clock.now()
    assert (profile.context_timezone, profile.locale) == ("Europe/Paris", "fr-FR")
