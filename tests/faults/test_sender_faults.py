"""The sender under faults: a customer never gets the same message twice, and no accepted message silently
disappears. Each test injects one fault under the real sender handler (on moto) and asserts what a customer
and an operator would see: emails in the outbox, the message's status, and the decisions recorded."""

from __future__ import annotations

import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from righttime.core.clock import VirtualClock
from righttime.core.decisions import MessageStatus
from righttime.wiring.root import from_environment, install, root
from righttime_dev.local.pipeline import Pipeline
from tests.conftest import ROOT
from tests.faults.conftest import (
    CUSTOMER,
    Crash,
    Fault,
    Faults,
    body_has,
    emails,
    reminder_due,
    send,
)
from tests.functional.conftest import post

CLAIM = body_has("ConditionCheck")
START = body_has("ses_called_at")
PROFILE_PUT = body_has('"TableName": "ProfilesTable"')


def _reminder(pipeline: Pipeline):  # type: ignore[no-untyped-def]
    (message,) = [m for m in root().store.messages_of(CUSTOMER) if m.campaign_id == "cart_abandonment"]
    return message


def _outcomes(campaign: str = "cart_abandonment") -> list[tuple[str, list[str]]]:
    return [(d.outcome.value, d.reason_codes) for d in root().store.decisions(CUSTOMER, campaign)]


def test_a_double_invocation_sends_once(pipeline: Pipeline, clock: VirtualClock, faults: Faults):
    # Given a reminder due now
    payload = reminder_due(pipeline, clock)
    # When EventBridge Scheduler invokes the sender twice with the same input
    first, second = send(pipeline, payload), send(pipeline, payload)
    # Then one email goes out, and the second invocation knows it was sent
    assert (first["status"], second["status"]) == ("sent", "ignored_sent")
    assert emails(pipeline) == 1


def test_concurrent_invocations_send_once(pipeline: Pipeline, clock: VirtualClock, faults: Faults):
    # Given a reminder due now, and two invocations racing for it
    payload = reminder_due(pipeline, clock)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(send(pipeline, payload)["status"])) for _ in range(2)
    ]
    # When both run at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one sends; the other finds it claimed or sent
    assert sorted(results)[-1] == "sent" and results.count("sent") == 1
    assert emails(pipeline) == 1


def test_a_lost_claim_response_still_sends_once(pipeline: Pipeline, clock: VirtualClock, faults: Faults):
    # Given the claim's write is applied but its answer is lost (botocore then retries it)
    payload = reminder_due(pipeline, clock)
    fault = faults.arm(Fault("dynamodb", "TransactWriteItems", "lose-response", when=CLAIM))
    # When the sender runs
    result = send(pipeline, payload)
    # Then the retried claim is recognised as this attempt's own: the message is sent, once
    assert fault.fired == 1
    assert result["status"] == "sent"
    assert emails(pipeline) == 1
    assert _reminder(pipeline).status is MessageStatus.SENT


def test_a_crash_after_the_claim_is_not_a_silent_drop(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given the invocation dies right after claiming the message, before SES is called
    payload = reminder_due(pipeline, clock)
    faults.arm(Fault("dynamodb", "TransactWriteItems", "crash-after", when=CLAIM))
    with pytest.raises(Crash):
        send(pipeline, payload)
    # When Lambda retries the invocation
    retry = send(pipeline, payload)
    # Then nothing was sent, and the message says who holds it and until when (the sweeper recovers it)
    assert retry["status"] == "ignored_sending"
    assert emails(pipeline) == 0
    held = _reminder(pipeline)
    assert held.status is MessageStatus.SENDING and held.ses_called_at is None
    assert held.lease_until is not None and held.lease_until > clock.now()


def test_a_lost_ses_response_leaves_at_most_one_copy_and_says_so(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given SES accepts the mail but the answer never arrives
    payload = reminder_due(pipeline, clock)
    faults.arm(Fault("sesv2", "outbound-emails", "lose-response"))
    # When the sender runs, and Lambda retries it
    first = send(pipeline, payload)
    retry = send(pipeline, payload)
    # Then one copy went out, nothing was resent blindly, and the record says the outcome is unknown
    assert emails(pipeline) == 1
    assert (first["status"], retry["status"]) == ("unknown", "ignored_unknown")
    assert _reminder(pipeline).status is MessageStatus.UNKNOWN
    assert _outcomes()[-1] == ("unknown", ["ses_outcome_unknown"])


def test_ses_throttling_is_retried_later_and_sent_once(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given SES throttles the first two attempts (which proves it took nothing)
    reminder_due(pipeline, clock)
    faults.arm(
        Fault("sesv2", "outbound-emails", "error", times=2, code="TooManyRequestsException", status=429)
    )
    # When the schedules fire over the next half hour
    for _ in range(3):
        pipeline.run_until_idle()
        clock.advance(timedelta(minutes=6))
    pipeline.run_until_idle()
    # Then the reminder went out once, after two recorded deferrals
    assert emails(pipeline) == 1
    assert [o for o, _ in _outcomes()] == ["scheduled", "deferred", "deferred", "sent", "delivered"]


def test_a_slow_ses_call_is_not_started_without_time_to_record_it(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given an invocation with 5 seconds left (a slow start, a long queue of work before it)
    payload = reminder_due(pipeline, clock)
    # When it reaches the send
    result = send(pipeline, payload, millis_left=5_000)
    # Then it does not call SES but moves the message a minute later, saying why
    assert result["status"] == "deferred"
    assert emails(pipeline) == 0
    assert _outcomes()[-1] == ("deferred", ["invocation_deadline"])
    assert _reminder(pipeline).status is MessageStatus.PENDING


def test_a_send_whose_profile_update_failed_is_still_counted(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given SES accepts the mail but every write of the send onto the profile fails, in this invocation
    payload = reminder_due(pipeline, clock)
    faults.arm(
        Fault(
            "dynamodb",
            "PutItem",
            "error",
            times=8,
            when=PROFILE_PUT,
            code="ConditionalCheckFailedException",
            status=400,
        )
    )
    with pytest.raises(RuntimeError, match="kept changing"):
        send(pipeline, payload)
    # When Lambda retries the invocation
    retry = send(pipeline, payload)
    # Then the message was sent once, and the retry put the send on the profile for caps and re-entry
    assert retry["status"] == "ignored_sent"
    assert emails(pipeline) == 1
    profile = root().store.get_profile(CUSTOMER)
    assert [s.campaign_id for s in profile.sends] == ["cart_abandonment"]
    assert profile.history["cart_abandonment"].sent_count == 1
    assert not [r for r in profile.pending.values() if r.campaign_id == "cart_abandonment"]


def _order(pipeline: Pipeline) -> None:
    order = {
        "userId": CUSTOMER,
        "event": "Order Completed",
        "properties": {"order_id": "o-9", "channel": "pos"},
    }
    assert post(pipeline, "/v1/track", order)[0] == 200
    pipeline.pump_queue()


def test_an_order_committed_before_the_claim_stops_the_send(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given the customer buys in store while the sender is deciding (just before it claims the reminder)
    payload = reminder_due(pipeline, clock)
    faults.arm(Fault("dynamodb", "TransactWriteItems", "call", when=CLAIM, action=lambda: _order(pipeline)))
    # When the sender claims
    result = send(pipeline, payload)
    # Then the order cancels the reminder before the claim lands, and the claim finds it cancelled: no email
    assert result["status"] == "ignored_cancelled"
    assert emails(pipeline) == 0
    assert _outcomes()[-1] == ("cancelled", ["converted"])


def _unsubscribe(pipeline: Pipeline) -> None:
    assert post(pipeline, "/v1/identify", {"userId": CUSTOMER, "traits": {"unsubscribed": True}})[0] == 200
    pipeline.pump_queue()


def test_an_unsubscribe_committed_before_the_claim_stops_the_send(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given the customer unsubscribes while the sender is deciding (the message itself is untouched)
    payload = reminder_due(pipeline, clock)
    faults.arm(
        Fault("dynamodb", "TransactWriteItems", "call", when=CLAIM, action=lambda: _unsubscribe(pipeline))
    )
    # When the sender claims
    result = send(pipeline, payload)
    # Then the claim sees the profile changed since the decision, decides again, and suppresses: no email
    assert result["status"] == "suppressed"
    assert emails(pipeline) == 0
    assert _outcomes()[-1] == ("suppressed", ["unsubscribed"])


def test_an_order_between_the_claim_and_ses_is_recorded(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given the customer buys in store after the reminder was claimed, just as SES is called
    payload = reminder_due(pipeline, clock)
    faults.arm(Fault("dynamodb", "UpdateItem", "call", when=START, action=lambda: _order(pipeline)))
    # When the sender sends
    send(pipeline, payload)
    # Then the email could not be stopped, and the record says the order came during the send
    assert emails(pipeline) == 1
    assert _outcomes()[-2:] == [("sent", ["delivered_to_ses"]), ("sent", ["converted_during_send"])]


def test_a_template_that_raises_fails_the_message_instead_of_leaving_it_pending(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults, tmp_path: Path
):
    # Given a cart template that divides by zero when rendered
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    body = templates / "cart_abandonment" / "body.txt"
    body.write_text(body.read_text() + "\n{{ 1 // 0 }}\n")
    install(from_environment({**pipeline.environment, "TEMPLATES_DIR": str(templates)}, clock=pipeline.clock))
    payload = reminder_due(pipeline, clock)
    # When the sender renders it
    result = send(pipeline, payload)
    # Then the message fails, naming the error's class, and nothing is left pending or sent
    assert result["status"] == "failed"
    assert emails(pipeline) == 0
    assert _reminder(pipeline).status is MessageStatus.FAILED
    (decision,) = [
        d for d in root().store.decisions(CUSTOMER, "cart_abandonment") if d.outcome.value == "failed"
    ]
    assert decision.reasons[0].detail["error_type"] == "ZeroDivisionError"
