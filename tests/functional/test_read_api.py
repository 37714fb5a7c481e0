"""The read API: why did (or didn't) a customer get a message? Admin keys only."""

from __future__ import annotations

import json

from righttime.wiring.root import from_environment, install
from righttime_dev.local.pipeline import Pipeline
from tests.conftest import WRITE_KEY
from tests.functional.conftest import post

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

    # Then every decision is there, in order, with machine-readable reasons
    assert status == 200
    assert body["user_id"] == "ivy" and body["count"] == 2
    assert [(d["outcome"], d["reasons"][0]["code"]) for d in body["decisions"]] == [
        ("scheduled", "triggered"),
        ("cancelled", "converted"),
    ]
    assert body["decisions"][0]["timezone"] == "UTC" and body["decisions"][0]["timezone_source"] == "default"


def test_the_read_api_refuses_write_keys_and_strangers(pipeline: Pipeline):
    _admin_keys(pipeline, ADMIN_KEY)
    assert _get(pipeline, "/v1/profiles/ivy/decisions", WRITE_KEY)[0] == 401
    status, body = _get(pipeline, "/v1/profiles/ivy/decisions", None)
    assert status == 401 and "admin key" in body["message"]


def test_an_unknown_customer_has_no_decisions(pipeline: Pipeline):
    _admin_keys(pipeline, ADMIN_KEY)
    status, body = _get(pipeline, "/v1/profiles/nobody/decisions", ADMIN_KEY)
    assert (status, body["decisions"]) == (200, [])
