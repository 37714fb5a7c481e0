"""Local mode answers with the headers the handlers set, as API Gateway does: clients read Content-Type to
parse, WWW-Authenticate to know how to authenticate, Retry-After to know when to come back."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from email.message import Message

import pytest

from righttime.core.errors import QueueUnavailableError
from righttime.wiring.root import root
from righttime_dev.local.server import LocalRighttime
from tests.conftest import WRITE_KEY

pytestmark = pytest.mark.e2e


def _request(url: str, body: dict[str, object] | None, headers: dict[str, str]) -> tuple[int, Message, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


TRACK = {"userId": "h1", "event": "Product Viewed", "properties": {"product_id": "p"}}


def test_an_accepted_event_is_answered_as_json(local: LocalRighttime):
    # When an app posts a valid event with the write key
    status, headers, body = _request(f"{local.url}/v1/track", TRACK, _basic(WRITE_KEY))
    # Then the answer says it is JSON, and is
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"success": True}


def test_a_missing_write_key_is_challenged_with_basic_auth(local: LocalRighttime):
    # When an app posts without a key
    status, headers, body = _request(f"{local.url}/v1/track", TRACK, {})
    # Then it is told to authenticate with HTTP Basic, in a JSON answer
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="righttime"'
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["success"] is False


def test_the_read_api_challenges_with_bearer_auth(local: LocalRighttime):
    # When someone asks for decisions with a write key instead of an admin key
    status, headers, _ = _request(
        f"{local.url}/v1/profiles/h1/decisions", None, {"Authorization": f"Bearer {WRITE_KEY}"}
    )
    # Then it is told the read API wants an admin bearer token
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="righttime-admin"'


def test_a_queue_outage_tells_the_sdk_when_to_retry(local: LocalRighttime, monkeypatch: pytest.MonkeyPatch):
    # Given the events queue refuses everything
    def refuse(events: object) -> None:
        raise QueueUnavailableError("queue unavailable")

    monkeypatch.setattr(root().queue, "send", refuse)
    # When an app posts an event
    status, headers, body = _request(f"{local.url}/v1/track", TRACK, _basic(WRITE_KEY))
    # Then it gets 503 with Retry-After, so an SDK backs off and sends again (messageId makes that safe)
    assert status == 503
    assert headers["Retry-After"] == "5"
    assert headers["Content-Type"] == "application/json"
    assert "retry" in json.loads(body)["message"]
