"""Each handler on its own, fed the sample event from events/ that `sam local invoke -e` uses too."""

from __future__ import annotations

import pytest

from righttime.wiring.root import from_environment, install, root
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.functional.conftest import sample_event


def _invoke(pipeline: Pipeline, function: str, event: dict) -> dict:  # type: ignore[type-arg]
    return pipeline.handlers[function](event, LambdaContext(function_name=function))  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["ingest-identify.json", "ingest-track.json", "ingest-batch.json"])
def test_ingest_accepts_each_sample_request(pipeline: Pipeline, name: str):
    response = _invoke(pipeline, "IngestFunction", sample_event(name))
    assert response["statusCode"] == 200
    assert response["body"] == '{"success":true}'


def test_ingest_answers_404_for_an_unknown_path(pipeline: Pipeline):
    event = sample_event("ingest-track.json") | {"path": "/v1/nope", "resource": "/v1/nope"}
    assert _invoke(pipeline, "IngestFunction", event)["statusCode"] == 404


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


def test_sender_ignores_a_message_it_does_not_know(pipeline: Pipeline):
    response = _invoke(pipeline, "SenderFunction", sample_event("sender-schedule.json"))
    assert response["status"] == "unknown_message"
    assert pipeline.collect_sent() == []


def test_sender_rejects_a_malformed_invocation(pipeline: Pipeline):
    from aws_lambda_powertools.utilities.parser import ValidationError

    with pytest.raises(ValidationError):
        _invoke(pipeline, "SenderFunction", {"message_id": "x"})
