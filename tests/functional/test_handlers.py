"""Each handler on its own, fed the sample event from events/ that `sam local invoke -e` uses too."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from righttime.wiring.root import from_environment, install, root
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.functional.conftest import sample_event

ADMIN_KEY = "test-admin-key"


def _invoke(pipeline: Pipeline, function: str, event: dict) -> dict:  # type: ignore[type-arg]
    return pipeline.handlers[function](event, LambdaContext(function_name=function))  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["ingest-identify.json", "ingest-track.json", "ingest-batch.json"])
def test_ingest_accepts_each_sample_request(pipeline: Pipeline, name: str):
    response = _invoke(pipeline, "IngestFunction", sample_event(name))
    assert response["statusCode"] == 200
    assert response["body"] == '{"success":true}'


def test_ingest_answers_404_for_an_unknown_path(pipeline: Pipeline):
    event = sample_event("ingest-track.json") | {"routeKey": "POST /v1/nope", "rawPath": "/live/v1/nope"}
    event["requestContext"]["http"]["path"] = "/live/v1/nope"
    assert _invoke(pipeline, "IngestFunction", event)["statusCode"] == 404


def _as_api_gateway_sends(event: dict[str, Any], raw: bytes, **headers: str) -> dict[str, Any]:
    """`event` carrying `raw` as an HTTP API passes a body it does not take for text: base64-encoded."""
    event["headers"].update(headers, **{"content-length": str(len(raw))})
    return event | {"body": base64.b64encode(raw).decode(), "isBase64Encoded": True}


def test_ingest_accepts_a_gzip_batch_as_the_http_api_passes_it(pipeline: Pipeline):
    # Given the sample batch, gzip-compressed as Segment SDKs send it, in an HTTP API (payload 2.0) event
    sample = sample_event("ingest-batch.json")
    event = _as_api_gateway_sends(
        sample, gzip.compress(sample["body"].encode()), **{"content-encoding": "gzip"}
    )
    assert event["version"] == "2.0" and event["headers"]["content-type"] == "application/json"

    # When ingest receives it
    response = _invoke(pipeline, "IngestFunction", event)
    pipeline.run_until_idle()

    # Then it is accepted, and the identify and the cart it carried reached the profile
    assert (response["statusCode"], response["body"]) == (200, '{"success":true}')
    profile = root().store.get_profile("cust-42")
    assert profile.email == "ada@example.com"
    assert profile.last_order_at is not None


@pytest.mark.parametrize(
    ("headers", "raw", "status", "field", "header"),
    [
        pytest.param(
            {"authorization": "Basic " + base64.b64encode(b"wrong:").decode()},
            b'{"userId": "u1", "event": "E"}',
            401,
            None,
            ("www-authenticate", 'Basic realm="righttime"'),
            id="a wrong write key",
        ),
        pytest.param({}, b'{"userId": "u1"}', 400, "event", None, id="a track without its event"),
        pytest.param(
            {"content-encoding": "gzip"},
            gzip.compress(b'{"userId": "u1", "event": "E", "properties": {"x": "' + b"y" * 600_000 + b'"}}'),
            413,
            "body",
            None,
            id="a gzip body over the limit",
        ),
        pytest.param({"content-encoding": "br"}, b"{}", 415, "Content-Encoding", None, id="brotli"),
    ],
)
def test_ingest_refusals_keep_their_status_json_body_and_headers(
    pipeline: Pipeline,
    headers: dict[str, str],
    raw: bytes,
    status: int,
    field: str | None,
    header: tuple[str, str] | None,
):
    # Given a refused request to /v1/track in an HTTP API event
    event = _as_api_gateway_sends(sample_event("ingest-track.json"), raw, **headers)
    # When ingest answers it
    response = _invoke(pipeline, "IngestFunction", event)
    # Then the status, the JSON body naming the field, and the challenge header are those of the contract
    body = json.loads(response["body"])
    assert (response["statusCode"], body["success"]) == (status, False)
    answered = {name.lower(): value for name, value in response["headers"].items()}
    assert answered["content-type"] == "application/json"
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}
    if header is not None:
        assert answered[header[0]] == header[1]


def test_the_read_api_takes_the_customer_from_the_http_api_path(pipeline: Pipeline):
    # Given an admin key and a customer with decisions
    install(
        from_environment({**pipeline.environment, "RIGHTTIME_ADMIN_KEYS": ADMIN_KEY}, clock=pipeline.clock)
    )
    assert _invoke(pipeline, "IngestFunction", sample_event("ingest-batch.json"))["statusCode"] == 200
    pipeline.run_until_idle()
    # When the read API receives GET /v1/profiles/cust-42/decisions as an HTTP API event
    event = sample_event("ingest-track.json")
    route = "GET /v1/profiles/{userId}/decisions"
    event.update(
        routeKey=route,
        rawPath="/live/v1/profiles/cust-42/decisions",
        rawQueryString="campaign=cart_abandonment",
        queryStringParameters={"campaign": "cart_abandonment"},
        pathParameters={"userId": "cust-42"},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
    )
    del event["body"]
    event["requestContext"].update(routeKey=route)
    event["requestContext"]["http"].update(method="GET", path=event["rawPath"])
    response = _invoke(pipeline, "ApiFunction", event)
    # Then it answers for that customer and campaign
    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert body["user_id"] == "cust-42" and body["count"] >= 1
    assert {d["campaign"] for d in body["decisions"]} == {"cart_abandonment"}
    # And without the key it challenges with Bearer
    event["headers"] = {}
    response = _invoke(pipeline, "ApiFunction", event)
    assert response["statusCode"] == 401
    assert response["headers"]["WWW-Authenticate"] == 'Bearer realm="righttime-admin"'


def test_evaluate_explains_why_an_anonymous_cart_gets_no_reminder(pipeline: Pipeline):
    # Given a Product Added from a customer righttime has no address for
    response = _invoke(pipeline, "EvaluateFunction", sample_event("evaluate-sqs.json"))
    # Then the record is processed, the cart is stored, and the decision says there is no address
    assert response == {"batchItemFailures": []}
    profile = root().store.get_profile("cust-42")
    assert [item.name for item in profile.cart] == ["Brass desk lamp"]
    (decision,) = root().store.decisions("cust-42")
    assert (decision.outcome.value, decision.reason_codes) == ("suppressed", ["no_email"])


def test_an_unreadable_event_waits_in_the_dead_letter_queue_with_its_reason(pipeline: Pipeline):
    # Given a queued record whose body is not an event
    event = sample_event("evaluate-sqs.json")
    event["Records"][0]["body"] = '{"not": "an event"}'
    # When evaluate receives it
    response = _invoke(pipeline, "EvaluateFunction", event)
    # Then the batch succeeds and the record sits in the events DLQ, saying what was wrong
    assert response == {"batchItemFailures": []}
    sqs = pipeline.client("sqs")
    (dead,) = sqs.receive_message(
        QueueUrl=pipeline.stack.physical["EventsDLQ"], MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert dead["Body"] == '{"not": "an event"}'
    assert dead["MessageAttributes"]["error_type"]["StringValue"] == "ValidationError"
    assert "message" in dead["MessageAttributes"]["reason"]["StringValue"]


def test_a_failing_event_is_retried_until_its_last_receive_then_dead_lettered(pipeline: Pipeline):
    # Given a valid event whose evaluation fails (the campaigns folder is unreadable)
    install(from_environment({**pipeline.environment, "CAMPAIGNS_DIR": "/nonexistent"}, clock=pipeline.clock))
    event = sample_event("evaluate-sqs.json")
    # When it is received the first time, the invocation fails so SQS delivers it again
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError, match="All records failed"):
        _invoke(pipeline, "EvaluateFunction", event)
    # When it is received the fifth time (maxReceiveCount), it goes to the DLQ with its reason
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    assert _invoke(pipeline, "EvaluateFunction", event) == {"batchItemFailures": []}
    sqs = pipeline.client("sqs")
    (dead,) = sqs.receive_message(
        QueueUrl=pipeline.stack.physical["EventsDLQ"], MessageAttributeNames=["All"]
    )["Messages"]
    assert "campaigns folder not found" in dead["MessageAttributes"]["reason"]["StringValue"]


def test_scheduler_creates_the_schedule_for_a_new_pending_message(pipeline: Pipeline):
    response = _invoke(pipeline, "SchedulerFunction", sample_event("scheduler-stream.json"))
    assert response == {"batchItemFailures": []}
    client = pipeline.client("scheduler")
    schedule = client.get_schedule(
        Name="rt-3f1c2a9e8b7d4c6e9f0a1b2c3d4e5f60-0", GroupName=pipeline.stack.physical["ScheduleGroup"]
    )
    assert schedule["ScheduleExpression"] == "at(2026-11-20T10:14:00)"


def test_reports_counts_the_sample_decisions_once_even_when_handed_over_twice(pipeline: Pipeline):
    from datetime import date

    from righttime.stages.report import campaign_report
    from righttime.wiring.root import root

    # Given the sample stream batch: a cart reminder sent, and an order credited to it
    event = sample_event("reports-stream.json")
    # When the reports function gets it, and Lambda hands it over again
    assert _invoke(pipeline, "ReportsFunction", event) == {"batchItemFailures": []}
    assert _invoke(pipeline, "ReportsFunction", event) == {"batchItemFailures": []}
    # Then the report of that day counts each decision once, with the order's revenue
    day = date(2026, 11, 20)
    report = campaign_report(root().counters, day, day, pipeline.clock.now())
    (line,) = report.campaigns
    assert (line.id, line.counts["sent"], line.counts["converted"], line.revenue) == (
        "cart_abandonment",
        1,
        1,
        {"EUR": "49.90"},
    )


def test_sender_ignores_a_message_it_does_not_know(pipeline: Pipeline):
    response = _invoke(pipeline, "SenderFunction", sample_event("sender-schedule.json"))
    assert response["status"] == "unknown_message"
    assert pipeline.collect_sent() == []


def test_sender_rejects_a_malformed_invocation(pipeline: Pipeline):
    from aws_lambda_powertools.utilities.parser import ValidationError

    with pytest.raises(ValidationError):
        _invoke(pipeline, "SenderFunction", {"message_id": "x"})
