"""Identity through `righttime local` over real HTTP: an anonymous visitor's cart, then a login with the
official Segment SDK, gives one reminder to the login's address, and the read API explains the merge."""

from __future__ import annotations

import email
import json
import urllib.parse
import urllib.request
from datetime import timedelta
from email.policy import default as default_policy
from typing import Any

import pytest

from righttime_dev.local.server import LocalRighttime
from tests.conftest import WRITE_KEY
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def _decisions(local: LocalRighttime, user_id: str) -> list[dict[str, Any]]:
    url = f"{local.url}/v1/profiles/{urllib.parse.quote(user_id, safe='')}/decisions"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {local.options.admin_key}"})
    with urllib.request.urlopen(request) as response:
        return list(json.loads(response.read())["decisions"])


def test_an_anonymous_cart_then_a_login_sends_one_reminder_to_the_login_address(local: LocalRighttime):
    # Given the official Segment SDK pointed at righttime, and a visitor who is not logged in
    from segment.analytics.client import Client

    errors: list[Exception] = []
    client = Client(
        write_key=WRITE_KEY,
        host=local.url,
        sync_mode=True,
        on_error=lambda error, _batch: errors.append(error),
    )
    local.clock.set_speed(600)  # ten minutes a second: the login lands well inside the reminder's hour

    # When she adds a mug anonymously, then logs in: identify with her userId, the anonymousId and her address
    client.track(
        anonymous_id="anon-e2e",
        event="Product Added",
        properties={"product_id": "mug-1", "name": "Blue mug", "price": 12.5, "cart_id": "c-1"},
    )
    client.identify("lena", {"email": "lena@example.com", "firstName": "Lena"}, anonymous_id="anon-e2e")
    client.flush()
    assert errors == []

    # Then exactly one reminder lands in the outbox, to her address, naming the anonymous cart's mug
    assert wait_for(lambda: len(local.pipeline.sent) == 1, timeout=60)
    message = email.message_from_bytes(local.pipeline.sent[0].raw, policy=default_policy)
    assert message["To"] == "lena@example.com"
    assert "Blue mug" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # And the read API explains it: merged from the anonymous id, then the reminder planned and sent
    decisions = _decisions(local, "lena")
    merged = next(d for d in decisions if d["outcome"] == "merged")
    assert merged["campaign"] == "identity" and merged["reasons"][0]["anonymous_id"] == "anon-e2e"
    assert merged["reasons"][0]["replayed"] == 1
    cart = [d["outcome"] for d in decisions if d["campaign"] == "cart_abandonment"]
    assert "scheduled" in cart and "sent" in cart
    assert [d["outcome"] for d in _decisions(local, "anon-e2e") if d["campaign"] == "identity"] == ["merged"]

    # And six more hours passing send nothing more
    local.clock.set_speed(36_000)
    later = local.clock.now() + timedelta(hours=6)
    assert wait_for(lambda: local.clock.now() >= later)
    assert len(local.pipeline.sent) == 1
