"""`righttime local` over real HTTP: what an app, curl, or a Segment SDK sees."""

from __future__ import annotations

import email
import json
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from typing import Any

import pytest

from righttime_dev.cli import post_json
from righttime_dev.local.server import LocalRighttime
from tests.conftest import EVENTS, ROOT, WRITE_KEY
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e
#: the npm packages the e2e tests load (`make npm-deps`): analytics.js for the browser, Segment's Node SDK
NODE_PACKAGES = ROOT / "tests" / "e2e" / "browser" / "analytics_js"


def _sdk(client_class: Any, local: LocalRighttime, errors: list[Exception]) -> Any:
    """A Segment-style SDK client (Segment's or RudderStack's, which share the API) pointed at local mode,
    sending at once, gzipped, and keeping the errors it reports."""
    return client_class(
        write_key=WRITE_KEY,
        host=local.url,
        sync_mode=True,
        gzip=True,
        on_error=lambda error, _batch: errors.append(error),
    )


def test_the_official_segment_sdk_works_unmodified_and_the_reminder_arrives(local: LocalRighttime):
    # Given the official Segment Python SDK pointed at righttime, with gzip on
    from segment.analytics.client import Client

    errors: list[Exception] = []
    client = _sdk(Client, local, errors)

    # When the app identifies a customer and tracks a Product Added
    client.identify("sdk-ann", {"email": "ann@example.com", "firstName": "Ann"})
    client.track("sdk-ann", "Product Added", {"product_id": "mug-1", "name": "Blue mug", "price": 12.5})
    client.flush()

    # Then the SDK saw no error, and after the (accelerated) hour one email lands in the outbox
    assert errors == []
    assert wait_for(lambda: len(local.pipeline.sent) == 1)
    (sent,) = local.pipeline.sent
    assert sent.path is not None and sent.path.read_bytes() == sent.raw
    message = email.message_from_bytes(sent.raw, policy=default_policy)
    assert message["To"] == "ann@example.com"
    assert "Blue mug" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_the_rudderstack_sdk_works_unmodified_though_it_sends_traits_in_the_context(local: LocalRighttime):
    # Given RudderStack's Python SDK pointed at righttime: it puts identify's traits in context.traits only
    from rudderstack.analytics.client import Client

    errors: list[Exception] = []
    client = _sdk(Client, local, errors)

    # When the app identifies a customer (with an address) and tracks a Product Added
    client.identify("rs-rui", {"email": "rui@example.com", "firstName": "Rui"})
    client.track("rs-rui", "Product Added", {"product_id": "cup-2", "name": "Green cup", "price": 9})
    client.flush()

    # Then the SDK saw no error, and the reminder reaches the address it sent, with the name it sent
    assert errors == []
    assert wait_for(lambda: len(local.pipeline.sent) == 1)
    message = email.message_from_bytes(local.pipeline.sent[0].raw, policy=default_policy)
    assert message["To"] == "rui@example.com"
    assert "Hi Rui" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_the_segment_node_sdk_works_unmodified_and_the_reminder_arrives(local: LocalRighttime):
    # Given Segment's Node SDK (@segment/analytics-node, pinned in tests/e2e/browser/analytics_js)
    script = NODE_PACKAGES / "node_sdk.mjs"
    if not (NODE_PACKAGES / "node_modules" / "@segment" / "analytics-node").is_dir():
        pytest.fail(
            "the Node SDK is not installed: run `make npm-deps` (npm ci in tests/e2e/browser/analytics_js)"
        )

    # When a Node app pointed at righttime identifies a customer and tracks a Product Added
    done = subprocess.run(
        ["node", str(script), local.url, WRITE_KEY, "node-nora", "nora@example.com"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Then the SDK saw no error, and after the (accelerated) hour the reminder reaches the address it sent
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"errors": []}
    assert wait_for(lambda: len(local.pipeline.sent) == 1)
    message = email.message_from_bytes(local.pipeline.sent[0].raw, policy=default_policy)
    assert message["To"] == "nora@example.com"
    assert "Iron teapot" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_an_order_before_the_delay_means_no_email(local: LocalRighttime):
    # Given a slower clock for this test, so the order lands well inside the hour
    local.clock.set_speed(60)  # an hour now lasts a minute
    for line in (EVENTS / "journey-cart-abandonment.jsonl").read_text().splitlines():
        assert post_json(f"{local.url}/v1/batch", {"batch": [json.loads(line)]}, WRITE_KEY)[0] == 200
    # When the order arrives shortly after
    order = {
        "type": "track",
        "userId": "demo-jane",
        "event": "Order Completed",
        "properties": {"order_id": "o-1"},
    }
    assert post_json(f"{local.url}/v1/batch", {"batch": [order]}, WRITE_KEY)[0] == 200
    assert wait_for(lambda: _decided(local, "cancelled"))
    # Then, once the clock has run well past the delay and the pipeline has looked again, the only email
    # is the order confirmation: no cart reminder
    past_delay = local.clock.now() + timedelta(hours=2)
    local.clock.set_speed(36_000)
    assert wait_for(lambda: local.clock.now() > past_delay)
    steps = local.pipeline.steps
    assert wait_for(lambda: local.pipeline.steps >= steps + 2)
    subjects = [
        email.message_from_bytes(s.raw, policy=default_policy)["Subject"] for s in local.pipeline.sent
    ]
    assert subjects == ["Your order o-1 is confirmed"]


def test_wrong_key_and_malformed_input_are_refused_over_http(local: LocalRighttime):
    track = {"userId": "u1", "event": "Product Added", "properties": {"product_id": "p"}}
    status, body = post_json(f"{local.url}/v1/track", track, "wrong-key")
    assert status == 401 and json.loads(body)["success"] is False
    status, body = post_json(f"{local.url}/v1/track", {"event": "Product Added"}, WRITE_KEY)
    assert status == 400
    assert [e["field"] for e in json.loads(body)["errors"]] == ["userId"]


def test_health_endpoint_answers(local: LocalRighttime):
    with urllib.request.urlopen(f"{local.url}/health") as response:
        assert json.loads(response.read()) == {"ok": True}


def _decided(local: LocalRighttime, outcome: str) -> bool:
    from righttime.wiring.root import root

    return any(d.outcome.value == outcome for d in root().store.decisions("demo-jane", "cart_abandonment"))


def test_righttime_explain_tells_why_over_http(local: LocalRighttime, capsys):  # type: ignore[no-untyped-def]
    # Given a customer whose cart reminder was planned
    from righttime_dev.cli import main

    for message in (
        {"type": "identify", "userId": "eve", "traits": {"email": "eve@example.com"}},
        {"type": "track", "userId": "eve", "event": "Product Added", "properties": {"product_id": "p"}},
    ):
        assert post_json(f"{local.url}/v1/batch", {"batch": [message]}, WRITE_KEY)[0] == 200
    assert wait_for(lambda: _has_decision(local, "eve"))

    # When a marketer asks why, with the admin key
    code = main(["explain", "eve", "--url", local.url, "--admin-key", local.options.admin_key])

    # Then the answer names the campaign, the outcome and the reason
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = captured.out
    assert "cart_abandonment" in out and "triggered(event=Product Added, delay=1h)" in out


def _has_decision(local: LocalRighttime, user: str) -> bool:
    from righttime.wiring.root import root

    return bool(list(root().store.decisions(user)))


def test_a_one_click_unsubscribe_over_http_stops_the_next_promotion(local: LocalRighttime):
    # Given a customer who got a cart reminder through local mode
    track = {"userId": "una", "event": "Product Added", "properties": {"product_id": "mug", "price": 9}}
    identify = {"userId": "una", "traits": {"email": "una@example.com"}}
    assert post_json(f"{local.url}/v1/identify", identify, WRITE_KEY)[0] == 200
    assert post_json(f"{local.url}/v1/track", track, WRITE_KEY)[0] == 200
    assert wait_for(lambda: len(local.pipeline.sent) == 1)
    message = email.message_from_bytes(local.pipeline.sent[0].raw, policy=default_policy)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip("<>")
    assert link.startswith(f"{local.url}/v1/unsubscribe?t=")

    # When the mail client POSTs the link over HTTP, as RFC 8058 says
    request = urllib.request.Request(
        link,
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and "text/html" in response.headers["Content-Type"]

    # Then a new cart gets no reminder: the decision says the customer unsubscribed
    from righttime.wiring.root import root

    assert post_json(f"{local.url}/v1/track", {**track, "messageId": "second-cart"}, WRITE_KEY)[0] == 200

    def refused() -> bool:
        return any(
            d.outcome.value == "suppressed" and "unsubscribed" in d.reason_codes
            for d in root().store.decisions("una", "cart_abandonment")
        )

    assert wait_for(refused)
    assert len(local.pipeline.sent) == 1


def test_a_product_back_in_stock_over_http_reaches_who_wanted_it(local: LocalRighttime):
    # Given the shop's feed says a lamp is sold out, and a customer looks at it through local mode's API
    def product(**fields: object) -> dict[str, object]:
        return {
            "userId": "catalog-feed",
            "event": "Product Updated",
            "properties": {"product_id": "lamp-1", **fields},
        }

    assert (
        post_json(f"{local.url}/v1/track", product(name="Brass lamp", price=120, stock=0), WRITE_KEY)[0]
        == 200
    )
    identify = {"userId": "noa", "traits": {"email": "noa@example.com"}}
    assert post_json(f"{local.url}/v1/identify", identify, WRITE_KEY)[0] == 200
    viewed = {
        "userId": "noa",
        "event": "Product Viewed",
        "properties": {"product_id": "lamp-1", "price": 120},
    }
    assert post_json(f"{local.url}/v1/track", viewed, WRITE_KEY)[0] == 200

    from righttime.wiring.root import root

    assert wait_for(lambda: bool(root().catalog.interested("lamp-1", _long_ago(), 10)))

    # When the feed says two are back
    assert post_json(f"{local.url}/v1/track", product(stock=2), WRITE_KEY)[0] == 200

    # Then she gets the back-in-stock e-mail, saying only two are left
    def told() -> bool:
        return any(
            "back in stock" in str(email.message_from_bytes(s.raw, policy=default_policy)["Subject"])
            for s in local.pipeline.sent
        )

    assert wait_for(told, timeout=60)
    (mail,) = [
        m
        for m in (email.message_from_bytes(s.raw, policy=default_policy) for s in local.pipeline.sent)
        if "back in stock" in str(m["Subject"])
    ]
    assert str(mail["To"]) == "noa@example.com"
    assert "Only 2 left." in mail.get_body(preferencelist=("plain",)).get_content()


def _long_ago() -> datetime:
    return datetime(2000, 1, 1, tzinfo=UTC)
