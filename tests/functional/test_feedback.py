"""The feedback function on moto: SES's events (the samples in events/) against a message the pipeline sent,
and local mode closing the loop through the SES mailbox simulator."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from righttime.core.clock import VirtualClock
from righttime.wiring.root import root
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.functional.conftest import post, sample_event

SAMPLE_MESSAGE_ID = "3f1c2a9e8b7d4c6e9f0a1b2c3d4e5f60"


def _order(pipeline: Pipeline, user: str, order_id: str) -> None:
    order = {
        "type": "track",
        "userId": user,
        "event": "Order Completed",
        "properties": {"order_id": order_id},
    }
    assert post(pipeline, "/v1/batch", {"batch": [order]})[0] == 200
    pipeline.run_until_idle()


def _customer(pipeline: Pipeline, user: str, address: str) -> None:
    identify = {"type": "identify", "userId": user, "traits": {"email": address}}
    assert post(pipeline, "/v1/batch", {"batch": [identify]})[0] == 200
    pipeline.run_until_idle()


def _let_schedules_fire(pipeline: Pipeline, clock: VirtualClock) -> None:
    clock.advance(timedelta(minutes=2))
    pipeline.run_until_idle()


def _about(event: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The sample event, about `message_id` instead of the sample's message."""
    text = json.dumps(event).replace(SAMPLE_MESSAGE_ID, message_id)
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("sample", "status", "outcomes"),
    [
        ("feedback-send.json", "repeated", []),  # the sender settled it already
        ("feedback-delivery.json", "repeated", []),  # local mode's own Delivery came first
        ("feedback-bounce.json", "recorded", ["bounced"]),
        ("feedback-complaint.json", "recorded", ["complained"]),
        ("feedback-reject.json", "recorded", ["failed"]),
        ("feedback-rendering-failure.json", "recorded", ["failed"]),
        ("feedback-delivery-delay.json", "recorded", ["delayed"]),
        ("feedback-open.json", "recorded", ["opened"]),
        ("feedback-click.json", "recorded", ["clicked"]),
    ],
)
def test_each_sample_event_is_applied_to_the_message_it_names(
    pipeline: Pipeline, clock: VirtualClock, sample: str, status: str, outcomes: list[str]
):
    # Given an order confirmation the pipeline sent to cust-42
    _customer(pipeline, "cust-42", "ada@example.com")
    _order(pipeline, "cust-42", "o-1")
    _let_schedules_fire(pipeline, clock)
    (message,) = root().store.messages_of("cust-42")
    # When the feedback function gets the sample event about it, as `sam local invoke -e` would give it
    handler = pipeline.handlers["FeedbackFunction"]
    result = handler(_about(sample_event(sample), message.message_id), LambdaContext("FeedbackFunction"))
    # Then it says what it did, and the customer's record shows it
    assert (result["status"], result["outcomes"]) == (status, outcomes)
    if outcomes:
        assert list(root().store.decisions("cust-42"))[-1].outcome.value == outcomes[0]


def test_a_simulated_bounce_suppresses_the_address_and_the_next_message_is_suppressed(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a customer whose address is the SES mailbox simulator's bouncing one
    _customer(pipeline, "bo", "bounce@simulator.amazonses.com")
    # When her first order confirmation goes out, and SES reports the bounce
    _order(pipeline, "bo", "o-1")
    _let_schedules_fire(pipeline, clock)
    assert len(pipeline.sent) == 1
    assert root().store.suppression_reason("bounce@simulator.amazonses.com") == "bounce"
    # And she orders again
    _order(pipeline, "bo", "o-2")
    _let_schedules_fire(pipeline, clock)
    # Then the second confirmation is not sent: suppressed, and the record says it bounced
    assert len(pipeline.sent) == 1
    decisions = [
        (d.outcome.value, d.reason_codes) for d in root().store.decisions("bo", "order_confirmation")
    ]
    assert decisions[-1] == ("suppressed", ["address_suppressed"])
    assert ("bounced", ["hard_bounce"]) in decisions
    last = list(root().store.decisions("bo", "order_confirmation"))[-1]
    assert last.reasons[0].detail == {"suppression": "bounce"}


def test_a_complaint_from_the_simulator_unsubscribes_the_customer(pipeline: Pipeline, clock: VirtualClock):
    _customer(pipeline, "co", "complaint@simulator.amazonses.com")
    _order(pipeline, "co", "o-1")
    _let_schedules_fire(pipeline, clock)
    outcomes = [d.outcome.value for d in root().store.decisions("co")]
    assert outcomes[-2:] == ["delivered", "complained"]
    assert root().store.get_profile("co").unsubscribed is True
    assert root().store.suppression_reason("complaint@simulator.amazonses.com") == "complaint"


def test_any_address_can_be_made_to_bounce_in_local_mode(pipeline: Pipeline, clock: VirtualClock):
    # Given an order confirmation delivered to Ada
    _customer(pipeline, "ada", "ada@example.com")
    _order(pipeline, "ada", "o-1")
    _let_schedules_fire(pipeline, clock)
    # When the developer makes her address bounce, through local mode's own route
    status, _, body = pipeline.http("POST", "/local/ses/bounce", {}, b"", {"address": "ada@example.com"})
    pipeline.run_until_idle()
    # Then SES reports a bounce for the message already sent, and the address is suppressed
    assert status == 202 and json.loads(body)["reported_for"] == pipeline.sent[0].ses_message_id
    assert root().store.suppression_reason("ada@example.com") == "bounce"


@pytest.mark.parametrize(
    ("method", "path", "query", "status", "message"),
    [
        ("POST", "/local/ses/explode", {"address": "a@b.c"}, 404, "unknown fate 'explode'"),
        ("POST", "/local/ses/bounce", {}, 400, "address"),
        ("GET", "/local/ses/bounce", {"address": "a@b.c"}, 405, "use POST"),
    ],
)
def test_the_local_ses_route_names_what_is_wrong(
    pipeline: Pipeline, method: str, path: str, query: dict[str, str], status: int, message: str
):
    answer, _, body = pipeline.http(method, path, {}, b"", query)
    assert answer == status and message in json.loads(body)["message"]
