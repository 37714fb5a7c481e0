"""Every JSON refusal of either API has one shape, `Error`: a message, the fields at fault (possibly none),
and for ingest `"success": false`, which Segment's SDKs read."""

from __future__ import annotations

import copy
import gzip
import json
from typing import Any

import pytest

from righttime.core.errors import QueueUnavailableError
from righttime.stages import report
from righttime.stages.ports import CountersUnavailable
from righttime.wiring.http_errors import Error
from righttime.wiring.root import from_environment, install, root
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.functional.conftest import post, sample_event

ADMIN_KEY = "test-admin-key"
KEYS = {"message", "errors", "success"}


def assert_error_shape(body: dict[str, Any], *, ingest: bool) -> Error:
    """`body` is an `Error` and nothing else; ingest's carries `success: false`, the read API's does not."""
    assert set(body) <= KEYS, f"unexpected keys {set(body) - KEYS}"
    error = Error.model_validate(body)
    assert error.message and isinstance(body["errors"], list)
    assert ("success" in body) is ingest
    return error


def _direct(pipeline: Pipeline, function: str, method: str, path: str) -> tuple[int, dict[str, Any]]:
    """A request the function itself gets although no route of its resolver matches (API Gateway's routes
    and Powertools' disagree): answered by Powertools' own 404."""
    event = copy.deepcopy(sample_event("ingest-track.json"))
    event.update(routeKey=f"{method} {path}", rawPath=f"/live{path}")
    event["requestContext"]["http"].update(method=method, path=f"/live{path}")
    response = pipeline.handlers[function](event, LambdaContext(function_name=function))
    return response["statusCode"], json.loads(response["body"])


# --- ingest --------------------------------------------------------------------------------------------


def test_ingest_names_each_bad_field_in_a_400(pipeline: Pipeline) -> None:
    # Given a batch whose second message has no identity and whose first has a bad timestamp
    batch = {
        "batch": [{"type": "track", "userId": "u", "event": "x", "timestamp": "nope"}, {"type": "track"}]
    }
    # When it is sent
    status, body = post(pipeline, "/v1/batch", batch)
    # Then the 400 names both fields, in the one shape
    assert status == 400
    error = assert_error_shape(body, ingest=True)
    assert {e.field for e in error.errors} >= {"batch.0.timestamp", "batch.1.userId"}
    assert body["success"] is False


@pytest.mark.parametrize(
    ("status", "request_kwargs", "body"),
    [
        pytest.param(401, {"key": None}, {"userId": "u", "event": "x"}, id="401 without a write key"),
        pytest.param(401, {"key": "wrong"}, {"userId": "u", "event": "x"}, id="401 with a wrong key"),
        pytest.param(413, {}, b"[" + b" " * (501 * 1024) + b"]", id="413 over the batch limit"),
        pytest.param(
            415, {"headers": {"Content-Encoding": "br"}}, b"{}", id="415 for an unknown Content-Encoding"
        ),
        pytest.param(
            400, {"headers": {"Content-Encoding": "gzip"}}, b"not gzip", id="400 for a body that is not gzip"
        ),
    ],
)
def test_ingest_refusals_share_the_error_shape(
    pipeline: Pipeline, status: int, request_kwargs: dict[str, Any], body: Any
) -> None:
    answered, answer = post(pipeline, "/v1/track", body, **request_kwargs)
    assert answered == status
    assert_error_shape(answer, ingest=True)


def test_ingest_says_503_in_the_error_shape_when_the_queue_is_down(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a queue that refuses every message
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise QueueUnavailableError("throttled")

    monkeypatch.setattr(root().queue, "send", refuse)
    # When an event is sent
    status, body = post(pipeline, "/v1/track", {"userId": "u", "event": "x"})
    # Then it is a 503 the SDK retries, with nothing about the queue's internals
    assert status == 503
    assert "throttled" not in assert_error_shape(body, ingest=True).message


def test_ingest_answers_a_path_it_has_no_route_for_in_the_error_shape(pipeline: Pipeline) -> None:
    status, body = _direct(pipeline, "IngestFunction", "POST", "/v1/nope")
    assert status == 404
    assert_error_shape(body, ingest=True)


def test_a_gzip_body_gets_the_same_400_as_a_plain_one(pipeline: Pipeline) -> None:
    plain = post(pipeline, "/v1/track", {"userId": "u"})
    zipped = post(
        pipeline,
        "/v1/track",
        gzip.compress(json.dumps({"userId": "u"}).encode()),
        headers={"Content-Encoding": "gzip"},
    )
    assert plain == zipped and plain[0] == 400
    assert_error_shape(plain[1], ingest=True)


# --- the read API --------------------------------------------------------------------------------------


def _get(
    pipeline: Pipeline, path: str, key: str | None = ADMIN_KEY, query: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    install(
        from_environment({**pipeline.environment, "RIGHTTIME_ADMIN_KEYS": ADMIN_KEY}, clock=pipeline.clock)
    )
    headers = {"authorization": f"Bearer {key}"} if key else {}
    status, _, body = pipeline.http("GET", path, headers, b"", query)
    return status, json.loads(body)


@pytest.mark.parametrize(
    ("path", "query", "fields"),
    [
        ("/v1/reports/campaigns", {"to": "yesterday"}, {"to"}),
        ("/v1/reports/campaigns", {"from": "2026-02-30"}, {"from"}),
        ("/v1/reports/campaigns", {"from": "2026-03-02", "to": "2026-03-01"}, {"from", "to"}),
        ("/v1/reports/campaigns", {"from": "2020-01-01", "to": "2026-01-01"}, {"from", "to"}),
        ("/v1/profiles/ivy/decisions", {"limit": "0"}, {"limit"}),
        ("/v1/profiles/ivy/decisions", {"limit": "many"}, {"limit"}),
        ("/v1/profiles/ivy/decisions", {"cursor": "not-a-cursor"}, {"cursor"}),
    ],
    ids=["bad to", "bad from", "backwards", "too long", "limit 0", "limit text", "bad cursor"],
)
def test_the_read_api_names_the_parameter_at_fault(
    pipeline: Pipeline, path: str, query: dict[str, str], fields: set[str]
) -> None:
    # When a read asks with a parameter it cannot take
    status, body = _get(pipeline, path, query=query)
    # Then the 400 names it, in the error shape
    assert status == 400, body
    assert {e.field for e in assert_error_shape(body, ingest=False).errors} == fields


def test_a_report_ending_on_the_first_day_there_is_is_answered_not_a_server_error(pipeline: Pipeline) -> None:
    # Given a report whose `to` is 0001-01-01, with no `from` (the default period would start before it)
    status, body = _get(pipeline, "/v1/reports/campaigns", query={"to": "0001-01-01"})
    # Then it is answered (an empty report), where it used to overflow into a 500 (found by make fuzz)
    assert status == 200, body
    assert body["campaigns"] == []


@pytest.mark.parametrize("key", [None, "wrong"], ids=["no key", "a wrong key"])
def test_the_read_api_says_401_in_the_error_shape(pipeline: Pipeline, key: str | None) -> None:
    status, body = _get(pipeline, "/v1/reports/campaigns", key=key)
    assert status == 401
    assert_error_shape(body, ingest=False)


def test_the_read_api_says_503_in_the_error_shape_when_the_counters_cannot_be_read(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*_args: Any, **_kwargs: Any) -> None:
        raise CountersUnavailable("throttled")

    monkeypatch.setattr(report, "campaign_report", unavailable)
    status, body = _get(pipeline, "/v1/reports/campaigns")
    assert status == 503
    assert_error_shape(body, ingest=False)


def test_the_read_api_answers_a_path_it_has_no_route_for_in_the_error_shape(pipeline: Pipeline) -> None:
    status, body = _direct(pipeline, "ApiFunction", "GET", "/v1/nope")
    assert status == 404
    assert_error_shape(body, ingest=False)


def test_a_route_the_gateway_does_not_have_is_a_404_in_the_error_shape(pipeline: Pipeline) -> None:
    # Given local mode's stand-in for API Gateway, asked for a path no route of the template matches
    status, _, payload = pipeline.http("GET", "/v2/anything", {}, b"")
    # Then it says 404, with a message and no field at fault
    assert status == 404
    assert json.loads(payload) == {"message": "Not Found", "errors": []}


def test_the_unsubscribe_pages_stay_html_when_the_link_is_bad(pipeline: Pipeline) -> None:
    status, headers, payload = pipeline.http("GET", "/v1/unsubscribe", {}, b"", {"t": "forged"})
    assert status == 400 and headers["Content-Type"].startswith("text/html")
    assert b"<html" in payload.lower() or b"<!doctype" in payload.lower()
