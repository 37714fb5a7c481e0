"""Faults the sender cannot settle itself: an invocation that dies holding a message, and an SES call whose
answer never came and whose events never arrived. The sweeper (and SES's own events) must settle each, with
no silent drop and at most one recorded copy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from righttime.core.clock import VirtualClock
from righttime.core.decisions import MessageStatus
from righttime.wiring.root import root
from righttime_dev.local.pipeline import Pipeline
from tests.faults.conftest import CUSTOMER, Crash, Fault, Faults, body_has, emails, reminder_due, send

CLAIM = body_has("ConditionCheck")


def _reminder():  # type: ignore[no-untyped-def]
    (message,) = [m for m in root().store.messages_of(CUSTOMER) if m.campaign_id == "cart_abandonment"]
    return message


def _codes() -> list[tuple[str, list[str]]]:
    return [(d.outcome.value, d.reason_codes) for d in root().store.decisions(CUSTOMER, "cart_abandonment")]


def _let_time_pass(pipeline: Pipeline, clock: VirtualClock, minutes: int) -> None:
    """Move the clock in 5-minute steps, letting schedules and the sweeper run as they would."""
    for _ in range(minutes // 5):
        clock.advance(timedelta(minutes=5))
        pipeline.run_until_idle()


def test_a_message_held_by_a_dead_invocation_is_recovered_and_sent_once(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given the invocation died right after claiming the reminder, before SES was called
    payload = reminder_due(pipeline, clock)
    faults.arm(Fault("dynamodb", "TransactWriteItems", "crash-after", when=CLAIM))
    with pytest.raises(Crash):
        send(pipeline, payload)
    assert _reminder().status is MessageStatus.SENDING
    # When its lease runs out and the sweeper runs
    _let_time_pass(pipeline, clock, 20)
    # Then the message was given back (SES was never called), sent once, and the record says why it waited
    assert emails(pipeline) == 1
    assert _reminder().status is MessageStatus.SENT
    codes = _codes()
    assert ("deferred", ["lease_expired"]) in codes and codes.count(("sent", ["delivered_to_ses"])) == 1


def test_an_unanswered_ses_call_without_events_is_resent_at_most_once_and_recorded(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults, monkeypatch: pytest.MonkeyPatch
):
    # Given SES takes the mail but the answer is lost, and SES's events never arrive (no event destination)
    payload = reminder_due(pipeline, clock)
    monkeypatch.setattr(pipeline, "emit_ses_events", lambda: 0)
    faults.arm(Fault("sesv2", "outbound-emails", "lose-response", times=2))
    send(pipeline, payload)
    assert _reminder().status is MessageStatus.UNKNOWN
    # When hours pass with the sweeper running (and the resend's answer is lost too)
    _let_time_pass(pipeline, clock, 180)
    # Then at most one more copy went out, the message is settled, and every step is on record
    assert emails(pipeline) <= 2
    assert _reminder().status in (MessageStatus.FAILED, MessageStatus.SENT, MessageStatus.UNKNOWN)
    outcomes = [outcome for outcome, _ in _codes()]
    assert outcomes.count("unknown") >= 1 and "deferred" in outcomes
    assert _reminder().status is not MessageStatus.UNKNOWN or _reminder().unknown_since is not None


def test_an_unanswered_ses_call_is_settled_as_sent_by_ses_own_event(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given SES takes the mail but the answer is lost; SES still publishes its Send and Delivery events
    payload = reminder_due(pipeline, clock)
    faults.arm(Fault("sesv2", "outbound-emails", "lose-response"))
    send(pipeline, payload)
    # When the events arrive (local mode emits them from the outbox) and hours pass
    _let_time_pass(pipeline, clock, 120)
    # Then the message is settled as sent from SES's own word, and nothing was sent again
    assert emails(pipeline) == 1
    assert _reminder().status is MessageStatus.SENT
    assert "sent" in [outcome for outcome, _ in _codes()]


def test_an_invocation_that_dies_after_ses_took_the_mail_sends_no_second_copy(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults
):
    # Given SES takes the mail and the invocation dies before it can settle anything (a timeout while SES
    # was slow, an out-of-memory kill)
    payload = reminder_due(pipeline, clock)
    faults.arm(Fault("sesv2", "outbound-emails", "crash-after"))
    with pytest.raises(Crash):
        send(pipeline, payload)
    # When Lambda retries at once, then the lease runs out, SES's events arrive and the sweeper runs
    retry = send(pipeline, payload)
    _let_time_pass(pipeline, clock, 60)
    # Then the retry left the held message alone, the one copy is settled as sent, and none was added
    assert retry["status"] == "ignored_sending"
    assert emails(pipeline) == 1
    assert _reminder().status is MessageStatus.SENT
