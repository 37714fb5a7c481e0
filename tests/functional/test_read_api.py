"""The read API: why did (or didn't) a customer get a message? Admin keys only."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest

from righttime.wiring.root import from_environment, install
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.conftest import WRITE_KEY
from tests.functional.conftest import post, sample_event

ADMIN_KEY = "test-admin-key"


def _get(pipeline: Pipeline, path: str, key: str | None, query: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    headers = {"authorization": f"Bearer {key}"} if key else {}
    status, _, body = pipeline.http("GET", path, headers, b"", query)
    return status, json.loads(body)


def _admin_keys(pipeline: Pipeline, keys: str) -> None:
    """The deployment's admin keys are `keys` (comma-separated, as the SSM parameter holds them)."""
    install(from_environment({**pipeline.environment, "RIGHTTIME_ADMIN_KEYS": keys}, clock=pipeline.clock))


def test_decisions_are_explained_to_an_admin(pipeline: Pipeline):
    # Given an admin key, and a customer with a cart reminder that was cancelled by a purchase
    _admin_keys(pipeline, f"old-key,{ADMIN_KEY}")
    post(pipeline, "/v1/identify", {"userId": "ivy", "traits": {"email": "ivy@example.com"}})
    post(
        pipeline, "/v1/track", {"userId": "ivy", "event": "Product Added", "properties": {"product_id": "p"}}
    )
    post(
        pipeline, "/v1/track", {"userId": "ivy", "event": "Order Completed", "properties": {"channel": "pos"}}
    )
    pipeline.run_until_idle()

    # When the admin asks about the cart campaign
    status, body = _get(pipeline, "/v1/profiles/ivy/decisions", ADMIN_KEY, {"campaign": "cart_abandonment"})

    # Then every decision is there, the newest first, with machine-readable reasons
    assert status == 200
    assert body["user_id"] == "ivy" and body["count"] == 2 and body["next_cursor"] is None
    assert [(d["outcome"], d["reasons"][0]["code"]) for d in body["decisions"]] == [
        ("cancelled", "converted"),
        ("scheduled", "triggered"),
    ]
    assert body["decisions"][1]["timezone"] == "UTC" and body["decisions"][1]["timezone_source"] == "default"


def test_the_read_api_refuses_write_keys_and_strangers(pipeline: Pipeline):
    _admin_keys(pipeline, ADMIN_KEY)
    assert _get(pipeline, "/v1/profiles/ivy/decisions", WRITE_KEY)[0] == 401
    status, body = _get(pipeline, "/v1/profiles/ivy/decisions", None)
    assert status == 401 and "admin key" in body["message"]


def test_an_unknown_customer_has_no_decisions(pipeline: Pipeline):
    _admin_keys(pipeline, ADMIN_KEY)
    status, body = _get(pipeline, "/v1/profiles/nobody/decisions", ADMIN_KEY)
    assert (status, body["decisions"]) == (200, [])


def _history(pipeline: Pipeline, user: str, views: int) -> list[str]:
    """`user` views `views` products one after the other, then carts one: the decisions recorded, as
    (instant, campaign, outcome) strings, the oldest first."""
    from righttime.wiring.root import root

    post(pipeline, "/v1/identify", {"userId": user, "traits": {"email": "pat@example.com"}})
    for n in range(views):
        event = {"userId": user, "event": "Product Viewed", "properties": {"product_id": f"p{n}"}}
        post(pipeline, "/v1/track", {**event, "messageId": f"view-{n}"})
        pipeline.clock.advance(timedelta(minutes=1))
        pipeline.run_until_idle()
    post(pipeline, "/v1/track", {"userId": user, "event": "Product Added", "properties": {"product_id": "p"}})
    pipeline.run_until_idle()
    return [_key(d) for d in _decisions_json(root().store.decisions(user))]


def _decisions_json(decisions):  # type: ignore[no-untyped-def]
    from righttime.stages.explain import decision_json

    return [decision_json(d) for d in decisions]


def _key(decision: dict[str, object]) -> str:
    return f"{decision['at']} {decision['campaign']} {decision['outcome']} {decision['message_id']}"


def test_decisions_page_newest_first_with_a_cursor_and_no_overlap(pipeline: Pipeline):
    # Given a customer with a history of decisions
    _admin_keys(pipeline, ADMIN_KEY)
    recorded = _history(pipeline, "pat", 8)
    assert len(recorded) >= 7, recorded

    # When the admin reads it three at a time, following each page's cursor
    pages: list[list[str]] = []
    query: dict[str, str] = {"limit": "3"}
    while True:
        status, body = _get(pipeline, "/v1/profiles/pat/decisions", ADMIN_KEY, query)
        assert status == 200, body
        pages.append([_key(d) for d in body["decisions"]])
        if body["next_cursor"] is None:
            break
        query = {"limit": "3", "cursor": body["next_cursor"]}

    # Then the pages hold three each (the last the rest), newest first, every decision exactly once
    assert len(pages) >= 3
    assert all(len(page) == 3 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 3
    assert [key for page in pages for key in page] == list(reversed(recorded))


def test_a_campaign_filter_pages_too(pipeline: Pipeline):
    # Given a customer with decisions of several campaigns
    _admin_keys(pipeline, ADMIN_KEY)
    _history(pipeline, "pat", 4)
    from righttime.wiring.root import root

    cart = [_key(d) for d in _decisions_json(root().store.decisions("pat", "cart_abandonment"))]

    # When the admin reads one campaign's, one at a time
    found: list[str] = []
    query: dict[str, str] = {"limit": "1", "campaign": "cart_abandonment"}
    while True:
        status, body = _get(pipeline, "/v1/profiles/pat/decisions", ADMIN_KEY, query)
        assert status == 200 and all(d["campaign"] == "cart_abandonment" for d in body["decisions"])
        found += [_key(d) for d in body["decisions"]]
        if body["next_cursor"] is None:
            break
        query = {**query, "cursor": body["next_cursor"]}

    # Then it gets exactly that campaign's decisions, newest first
    assert cart and found == list(reversed(cart))


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJrIjoiTVNHI3gifQ"}, "cursor"),  # well-formed, but naming a message, not a decision
    ],
)
def test_a_bad_limit_or_cursor_is_refused_naming_it(pipeline: Pipeline, query: dict[str, str], named: str):
    _admin_keys(pipeline, ADMIN_KEY)
    status, body = _get(pipeline, "/v1/profiles/pat/decisions", ADMIN_KEY, query)
    assert status == 400 and f"'{named}'" in body["message"]


#: customer ids ingest accepts that a URL path cannot hold as they are
AWKWARD_IDS = [
    "a/b",
    "../admin",
    "order#12",
    "what?really",
    'say "hi"',
    "100%",
    "%41",
    "two words",
    "émilie.crème",
    "🛒 shopper",
    "東京",
]


@pytest.mark.parametrize("user_id", AWKWARD_IDS)
def test_the_read_api_reads_any_customer_id_percent_encoded(pipeline: Pipeline, user_id: str):
    # Given a customer whose id holds characters a path cannot carry as they are
    _admin_keys(pipeline, ADMIN_KEY)
    post(pipeline, "/v1/identify", {"userId": user_id, "traits": {"email": "odd@example.com"}})
    post(
        pipeline,
        "/v1/track",
        {"userId": user_id, "event": "Product Added", "properties": {"product_id": "p"}},
    )
    pipeline.run_until_idle()

    # When the admin asks for its decisions with the id percent-encoded, as one path segment
    status, body = _get(pipeline, f"/v1/profiles/{quote(user_id, safe='')}/decisions", ADMIN_KEY)

    # Then the answer is about that customer, decoded exactly once
    assert status == 200, body
    assert body["user_id"] == user_id
    assert body["decisions"] and {d["user_id"] for d in body["decisions"]} == {user_id}


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", "/decisions"), ("GET", ""), ("DELETE", "")],
    ids=["decisions", "export", "erase"],
)
def test_an_id_longer_than_ingest_accepts_is_refused_naming_it(pipeline: Pipeline, method: str, suffix: str):
    _admin_keys(pipeline, ADMIN_KEY)
    headers = {"authorization": f"Bearer {ADMIN_KEY}"}
    status, _, body = pipeline.http(method, f"/v1/profiles/{'x' * 257}{suffix}", headers, b"")
    document = json.loads(body)
    assert status == 400 and document["errors"][0]["field"] == "userId"


def test_an_id_api_gateway_delivers_decoded_in_the_raw_path_is_still_read(pipeline: Pipeline):
    # Given a customer whose id holds `/`, a space and `#`
    _admin_keys(pipeline, ADMIN_KEY)
    user_id = "order/12 #1"
    post(pipeline, "/v1/identify", {"userId": user_id, "traits": {"email": "odd@example.com"}})
    pipeline.run_until_idle()

    # When API Gateway invokes the function with `rawPath` decoded, as HTTP APIs are reported to, and the id
    # in `pathParameters` as it routed it (events/api-decisions-decoded-path.json)
    event = sample_event("api-decisions-decoded-path.json")
    response = pipeline.handlers["ApiFunction"](event, LambdaContext(function_name="ApiFunction"))

    # Then the answer is about that customer: the function routes on the route API Gateway matched
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["user_id"] == user_id
