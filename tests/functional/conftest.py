"""Functional fixtures: the template's resources on moto (in process) and the real handlers."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from righttime.core.clock import VirtualClock
from righttime_dev.local.pipeline import Pipeline
from righttime_dev.local.server import embedded_aws
from tests.conftest import EVENTS, ROOT, TEMPLATE, WRITE_KEY


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One embedded moto server for the session (the DynamoDB Streams API needs server mode)."""
    with embedded_aws() as endpoint:
        yield endpoint


@pytest.fixture
def pipeline(
    moto_endpoint: str, isolated_env: None, clock: VirtualClock, tmp_path: Path
) -> Iterator[Pipeline]:
    """The deployed stack on moto: tables, queues, schedule group and SES identity from template.yaml."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    yield Pipeline.start(
        TEMPLATE,
        {"SenderAddress": "shop@example.com"},
        clock,
        aws={
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        },
        app={
            "CAMPAIGNS_DIR": str(ROOT / "campaigns"),
            "TEMPLATES_DIR": str(ROOT / "templates"),
            "RIGHTTIME_WRITE_KEYS": WRITE_KEY,
            "WRITE_KEYS_PARAMETER": "",
            "ADMIN_KEYS_PARAMETER": "",
            "RIGHTTIME_UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEYS,
            "UNSUBSCRIBE_KEYS_PARAMETER": "",
        },
        outbox=tmp_path / "outbox",
    )


#: the one-click unsubscribe keys the stack under test signs its links with (the first signs)
UNSUBSCRIBE_KEYS = "k2:" + "s" * 40 + ",k1:" + "r" * 40


def sample_event(name: str) -> dict[str, Any]:
    """A sample event from events/, as `sam local invoke -e` would use it."""
    return copy.deepcopy(json.loads((EVENTS / name).read_text()))


def request_path(event: dict[str, Any]) -> str:
    """The path the client asked for: an HTTP API event's rawPath starts with the stage."""
    return str(event["rawPath"]).removeprefix(f"/{event['requestContext']['stage']}")


def api_event(
    path: str,
    body: dict[str, Any] | bytes,
    *,
    key: str | None = WRITE_KEY,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event for `POST path`, based on events/ingest-track.json: header names
    lowercased, and the body base64-encoded, as API Gateway sends a body it does not take for text."""
    event = sample_event("ingest-track.json")
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stage = event["requestContext"]["stage"]
    event.update(
        routeKey=f"POST {path}",
        rawPath=f"/{stage}{path}",
        body=base64.b64encode(raw).decode(),
        isBase64Encoded=True,
    )
    event["requestContext"].update(routeKey=event["routeKey"])
    event["requestContext"]["http"].update(path=event["rawPath"])
    event["headers"] = {
        "content-type": "application/json",
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    if key is not None:
        event["headers"]["authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    return event


def post(
    pipeline: Pipeline, path: str, body: dict[str, Any] | bytes, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    event = api_event(path, body, **kwargs)
    raw = base64.b64decode(event["body"])
    status, _headers, payload = pipeline.http("POST", path, event["headers"], raw)
    return status, json.loads(payload)
