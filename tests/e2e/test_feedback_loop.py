"""`righttime local` closes the loop over real HTTP: SES's events, played locally, reach the feedback
function, and what they change shows in the read API."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import pytest

from righttime_dev.cli import post_json
from righttime_dev.local.server import LocalRighttime
from tests.conftest import WRITE_KEY
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def _post(local: LocalRighttime, message: dict[str, Any]) -> None:
    assert post_json(f"{local.url}/v1/batch", {"batch": [message]}, WRITE_KEY)[0] == 200


def _decisions(local: LocalRighttime, user: str) -> list[dict[str, Any]]:
    """The customer's decisions, newest first, from the read API with the admin key."""
    request = urllib.request.Request(
        f"{local.url}/v1/profiles/{urllib.parse.quote(user, safe='')}/decisions?campaign=order_confirmation",
        headers={"Authorization": f"Bearer {local.options.admin_key}"},
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["decisions"]  # type: ignore[no-any-return]


def _has(local: LocalRighttime, user: str, outcome: str, count: int = 1) -> bool:
    return sum(1 for d in _decisions(local, user) if d["outcome"] == outcome) >= count


def test_a_simulated_bounce_suppresses_the_address_and_the_next_message_says_why(local: LocalRighttime):
    # Given a customer whose order confirmation was sent and delivered
    user = "ada@shop.example"  # SES tags can't hold an @: feedback must still find her
    _post(local, {"type": "identify", "userId": user, "traits": {"email": "ada@example.com"}})
    _post(
        local,
        {"type": "track", "userId": user, "event": "Order Completed", "properties": {"order_id": "o-1"}},
    )
    assert wait_for(lambda: _has(local, user, "delivered"))

    # When the developer makes SES bounce her address, through local mode's own route
    query = urllib.parse.urlencode({"address": "ada@example.com"})
    request = urllib.request.Request(f"{local.url}/local/ses/bounce?{query}", method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.status == 202
    assert wait_for(lambda: _has(local, user, "bounced"))

    # And she orders again
    _post(
        local,
        {"type": "track", "userId": user, "event": "Order Completed", "properties": {"order_id": "o-2"}},
    )

    # Then the read API shows the second confirmation suppressed, with the bounce as the reason
    assert wait_for(lambda: _has(local, user, "suppressed"))
    last = _decisions(local, user)[0]  # the newest
    assert last["outcome"] == "suppressed"
    assert last["reasons"] == [{"code": "address_suppressed", "suppression": "bounce"}]
    # And only the first confirmation ever reached the outbox
    assert len(local.pipeline.sent) == 1
