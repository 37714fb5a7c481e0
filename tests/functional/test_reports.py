"""The campaign report: decisions counted per campaign and day by the reports function (following the
messages stream), read back with an admin key from `GET /v1/reports/campaigns`."""

from __future__ import annotations

import email
import json
from datetime import timedelta
from email.policy import default as default_policy
from typing import Any
from urllib.parse import parse_qs, urlparse

from righttime.core.clock import VirtualClock
from righttime.wiring.root import from_environment, install
from righttime_dev.local.pipeline import Pipeline
from righttime_dev.local.ses_events import Fate
from tests.functional.conftest import post

ADMIN_KEY = "test-admin-key"


def _report(pipeline: Pipeline, query: dict[str, str] | None = None, key: str | None = ADMIN_KEY) -> Any:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    status, _, body = pipeline.http("GET", "/v1/reports/campaigns", headers, b"", query)
    return status, json.loads(body)


def _campaign(report: dict[str, Any], campaign_id: str) -> dict[str, Any]:
    return next(line for line in report["campaigns"] if line["id"] == campaign_id)


def _with_admin_key(pipeline: Pipeline) -> None:
    install(
        from_environment({**pipeline.environment, "RIGHTTIME_ADMIN_KEYS": ADMIN_KEY}, clock=pipeline.clock)
    )


def _cart_reminder_sent(pipeline: Pipeline, clock: VirtualClock, user: str = "ana") -> None:
    post(pipeline, "/v1/identify", {"userId": user, "traits": {"email": f"{user}@example.com"}})
    post(
        pipeline,
        "/v1/track",
        {"userId": user, "event": "Product Added", "properties": {"product_id": "lamp", "price": 20}},
    )
    pipeline.run_until_idle()
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()


def test_the_report_counts_a_campaigns_funnel_from_trigger_to_revenue(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a cart reminder that was sent, delivered, opened and clicked
    _with_admin_key(pipeline)
    _cart_reminder_sent(pipeline, clock)
    assert len(pipeline.sent) == 1
    pipeline.simulate_ses("ana@example.com", Fate.OPEN)
    pipeline.simulate_ses("ana@example.com", Fate.CLICK, "https://shop.example/cart?utm=x")
    pipeline.run_until_idle()
    # And an order a day later, from the shop, with its revenue
    clock.advance(timedelta(days=1))
    post(
        pipeline,
        "/v1/track",
        {
            "userId": "ana",
            "event": "Order Completed",
            "properties": {"order_id": "o-1", "revenue": "49.90", "currency": "eur"},
        },
    )
    pipeline.run_until_idle()

    # When the marketer asks for the report of the last 30 days
    status, report = _report(pipeline)

    # Then the cart reminder's funnel is counted, with the order's revenue in its currency
    assert status == 200
    line = _campaign(report, "cart_abandonment")
    counts = line["counts"]
    assert {k: counts[k] for k in ("triggered", "scheduled", "sent", "delivered", "opened", "clicked")} == {
        "triggered": 1,
        "scheduled": 1,
        "sent": 1,
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
    }
    assert counts["converted"] == 1 and line["revenue"] == {"EUR": "49.90"}
    assert line["lift"]["conclusion"] == "no_holdout"
    assert report["totals"]["revenue"] == {"EUR": "49.90"}
    assert report["to"] == clock.now().date().isoformat()


def test_a_one_click_unsubscribe_is_counted_once_against_the_campaign_whose_link_was_used(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a cart reminder with its one-click link
    _with_admin_key(pipeline)
    from tests.functional.conftest import UNSUBSCRIBE_KEYS

    install(
        from_environment(
            {
                **pipeline.environment,
                "RIGHTTIME_ADMIN_KEYS": ADMIN_KEY,
                "RIGHTTIME_UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEYS,
            },
            clock=pipeline.clock,
        )
    )
    _cart_reminder_sent(pipeline, clock)
    message = email.message_from_bytes(pipeline.sent[-1].raw, policy=default_policy)
    url = next(p.strip("<> ") for p in message["List-Unsubscribe"].split(",") if "https://" in p)
    token = parse_qs(urlparse(url).query)["t"][0]

    # When the customer's mail client POSTs it, and retries
    for _ in range(2):
        status, _, _ = pipeline.http(
            "POST",
            "/v1/unsubscribe",
            {"content-type": "application/x-www-form-urlencoded"},
            b"List-Unsubscribe=One-Click",
            {"t": token},
        )
        assert status == 200
    pipeline.run_until_idle()

    # Then the campaign's report counts one unsubscribe
    _, report = _report(pipeline)
    assert _campaign(report, "cart_abandonment")["counts"]["unsubscribed"] == 1


def test_a_program_lists_its_steps_and_adds_them_up(pipeline: Pipeline, clock: VirtualClock):
    # Given a customer who bought: the post-purchase series sends its cross-sell five days on
    _with_admin_key(pipeline)
    post(pipeline, "/v1/identify", {"userId": "omar", "traits": {"email": "omar@example.com"}})
    post(
        pipeline,
        "/v1/track",
        {
            "userId": "omar",
            "event": "Order Completed",
            "properties": {
                "order_id": "o-9",
                "revenue": 80,
                "products": [{"product_id": "p", "category": "Lamps"}],
            },
        },
    )
    pipeline.run_until_idle()
    for _ in range(6):
        clock.advance(timedelta(days=1))
        pipeline.run_until_idle()

    # When the report is read
    _, report = _report(pipeline)

    # Then the program is one line, with its step under it, and the program's figures include the step's
    program = _campaign(report, "post_purchase_series")
    assert program["kind"] == "program" and program["counts"]["entered"] == 1
    (step,) = [s for s in program["steps"] if s["id"] == "post_purchase_series--v1--cross_sell"]
    assert step["kind"] == "step" and step["counts"]["sent"] == 1
    assert program["counts"]["sent"] >= step["counts"]["sent"]
    assert all(line["kind"] != "step" for line in report["campaigns"])


def test_the_report_refuses_without_an_admin_key_and_names_a_bad_parameter(pipeline: Pipeline):
    _with_admin_key(pipeline)
    # Given no key, or a write key: refused
    assert _report(pipeline, key=None)[0] == 401
    assert _report(pipeline, key="test-write-key")[0] == 401
    # A day that isn't one, a period backwards or too long: 400 naming what is wrong
    status, body = _report(pipeline, {"from": "last week"})
    assert status == 400 and "'from'" in body["message"] and "YYYY-MM-DD" in body["message"]
    status, body = _report(pipeline, {"from": "2026-11-20", "to": "2026-11-01"})
    assert status == 400 and "before" in body["message"]
    status, body = _report(pipeline, {"from": "2024-01-01", "to": "2026-11-01"})
    assert status == 400 and "at most 400" in body["message"]
    # And a period with nothing in it is an empty report, not an error
    status, body = _report(pipeline, {"from": "2020-01-01", "to": "2020-01-31"})
    assert status == 200 and body["campaigns"] == [] and body["totals"]["counts"]["sent"] == 0
