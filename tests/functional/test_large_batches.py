"""A batch at Segment's advertised limit (10,000 small messages within 500 KB) through the real ingest handler
on moto: accepted in seconds, every event queued."""

from __future__ import annotations

import json
import time

from righttime_dev.local.pipeline import Pipeline
from tests.functional.conftest import post

#: API Gateway's integration timeout: an answer later than this is no answer on AWS
API_GATEWAY_TIMEOUT_SECONDS = 29.0


def test_ten_thousand_small_messages_are_accepted_in_seconds_and_all_queued(pipeline: Pipeline) -> None:
    # Given 10,000 small messages of 500 customers in one body under 500 KB
    batch = [{"type": "track", "userId": f"c{i % 500}", "event": "E"} for i in range(10_000)]
    body = json.dumps({"batch": batch}, separators=(",", ":")).encode()
    assert len(body) <= 500 * 1024
    # When the ingest handler takes it (moto's SQS behind it)
    started = time.monotonic()
    status, answer = post(pipeline, "/v1/batch", body)
    elapsed = time.monotonic() - started
    # Then it is accepted well within API Gateway's 29 s
    assert (status, answer) == (200, {"success": True})
    assert elapsed < API_GATEWAY_TIMEOUT_SECONDS, f"{elapsed:.1f} s"
    # And every event is on the queue (the unit tests check each customer's order across the send lanes)
    url = pipeline.stack.physical["EventsQueue"]
    attributes = pipeline.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "10000"
