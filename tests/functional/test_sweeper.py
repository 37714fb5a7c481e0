"""The sweeper on moto: messages stuck in flight are found through the sparse in-flight index and recovered,
each change with a decision, and every run publishes StuckMessages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from righttime.core.clock import VirtualClock
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage, Outcome, Reason
from righttime.core.recovery import INFLIGHT_SHARDS
from righttime.stages.send import LEASE
from righttime.wiring.root import root
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.functional.conftest import request_path, sample_event

CUSTOMER = "cust-42"


def _waiting_reminder(pipeline: Pipeline) -> OutboundMessage:
    """Ada adds a lamp to her cart: a reminder waits, with its schedule."""
    for name in ("ingest-identify.json", "ingest-track.json"):
        event = sample_event(name)
        status, _, payload = pipeline.http(
            "POST", request_path(event), event["headers"], event["body"].encode()
        )
        assert status == 200, payload
    pipeline.run_until_idle()
    (message,) = root().store.messages_of(CUSTOMER)
    assert message.status is MessageStatus.PENDING
    return message


def _sweep(pipeline: Pipeline) -> dict[str, Any]:
    result: dict[str, Any] = pipeline.handlers["SweeperFunction"](
        sample_event("sweeper-schedule.json"), LambdaContext("SweeperFunction")
    )
    pipeline.pump_stream()
    return result


def _claim(message: OutboundMessage, pipeline: Pipeline, attempt: str, *, call_ses: bool) -> OutboundMessage:
    """A sender invocation that claims the message (and records calling SES) and then dies."""
    store, now = root().store, pipeline.clock.now()
    version = store.get_profile(CUSTOMER).version
    store.claim(message, version, attempt, now, now + LEASE)
    if call_ses:
        assert store.start_attempt(message, attempt, now)
    found = store.get_message(CUSTOMER, message.message_id)
    assert found is not None and found.status is MessageStatus.SENDING
    return found


def _decisions(*outcomes: str) -> list[Decision]:
    return [d for d in root().store.decisions(CUSTOMER) if d.outcome.value in outcomes]


def test_an_expired_lease_before_ses_was_called_is_sent_after_all(pipeline: Pipeline, clock: VirtualClock):
    # Given a reminder whose sending attempt died after claiming it, before calling SES
    waiting = _waiting_reminder(pipeline)
    clock.set(waiting.send_at)
    _claim(waiting, pipeline, "dead-attempt", call_ses=False)
    # When its lease has run out and the sweeper runs
    clock.advance(LEASE + timedelta(seconds=1))
    result = _sweep(pipeline)
    # Then the message is pending again as a new generation, due now, with a decision that says why
    assert result["stuck"] == 1 and result["actions"] == {"requeue": 1}
    recovered = root().store.get_message(CUSTOMER, waiting.message_id)
    assert recovered is not None and recovered.status is MessageStatus.PENDING
    assert recovered.generation == waiting.generation + 1 and recovered.attempt_id is None
    (deferred,) = _decisions("deferred")
    assert deferred.reasons == [Reason.lease_expired("dead-attempt", waiting.send_at + LEASE, None)]
    # And its new schedule fires: the reminder goes out once
    clock.advance(timedelta(minutes=2))
    pipeline.run_until_idle()
    assert len(pipeline.sent) == 1
    assert [d.outcome for d in _decisions("sent")] == [Outcome.SENT]


def test_an_unknown_outcome_is_resent_once_then_failed_never_a_third_time(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a reminder whose attempt called SES and died: SES may have sent it
    waiting = _waiting_reminder(pipeline)
    clock.set(waiting.send_at)
    _claim(waiting, pipeline, "attempt-1", call_ses=True)
    clock.advance(LEASE + timedelta(seconds=1))
    # When the sweeper runs, the outcome becomes unknown: nothing is sent blindly
    assert _sweep(pipeline)["actions"] == {"mark_unknown": 1}
    unknown = root().store.get_message(CUSTOMER, waiting.message_id)
    assert unknown is not None and unknown.status is MessageStatus.UNKNOWN
    (decision,) = _decisions("unknown")
    assert decision.reasons[0].detail["ses_called"] is True

    # When no SES event comes within 30 minutes
    clock.advance(timedelta(minutes=31))
    assert _sweep(pipeline)["actions"] == {"resend": 1}
    # Then it is pending again, counted as the one resend, with a decision
    resent = root().store.get_message(CUSTOMER, waiting.message_id)
    assert resent is not None and resent.status is MessageStatus.PENDING and resent.resends == 1
    resend = [d for d in _decisions("deferred") if d.reasons[0].detail.get("resend") == 1]
    assert len(resend) == 1

    # When the copy's attempt dies after calling SES too, and 30 more minutes pass
    _claim(resent, pipeline, "attempt-2", call_ses=True)
    clock.advance(LEASE + timedelta(seconds=1))
    assert _sweep(pipeline)["actions"] == {"mark_unknown": 1}
    clock.advance(timedelta(minutes=31))
    assert _sweep(pipeline)["actions"] == {"give_up": 1}
    # Then it fails, saying it gave up, and leaves the profile's pending messages
    failed = root().store.get_message(CUSTOMER, waiting.message_id)
    assert failed is not None and failed.status is MessageStatus.FAILED
    (gave_up,) = _decisions("failed")
    assert gave_up.reasons[0].detail == {
        "unknown_since": (waiting.send_at + 2 * LEASE + timedelta(minutes=31, seconds=2)).isoformat(),
        "resends": 1,
        "gave_up": True,
    }
    assert root().store.get_profile(CUSTOMER).pending == {}
    # And it is out of the index: later runs find nothing
    clock.advance(timedelta(hours=2))
    assert _sweep(pipeline)["looked_at"] == 0


def test_a_pending_message_whose_schedule_was_lost_gets_a_new_one(pipeline: Pipeline, clock: VirtualClock):
    # Given a reminder whose schedule disappeared (a skipped stream record, a deleted schedule)
    waiting = _waiting_reminder(pipeline)
    scheduler = pipeline.client("scheduler")
    (schedule,) = scheduler.list_schedules(GroupName=pipeline.stack.physical["ScheduleGroup"])["Schedules"]
    scheduler.delete_schedule(Name=schedule["Name"], GroupName=pipeline.stack.physical["ScheduleGroup"])
    # When 15 minutes past its send_at nothing has fired, and the sweeper runs
    clock.set(waiting.send_at + timedelta(minutes=15))
    result = _sweep(pipeline)
    # Then it is given a new generation with its own schedule, and a decision says why
    assert result["actions"] == {"reschedule": 1}
    (deferred,) = _decisions("deferred")
    assert deferred.reasons == [Reason.schedule_missing(waiting.send_at, timedelta(minutes=15))]
    # And the new schedule sends it
    clock.advance(timedelta(minutes=2))
    pipeline.run_until_idle()
    assert len(pipeline.sent) == 1


def test_a_healthy_pipeline_leaves_nothing_in_the_index(pipeline: Pipeline, clock: VirtualClock):
    # Given a reminder sent as planned
    waiting = _waiting_reminder(pipeline)
    clock.set(waiting.send_at + timedelta(minutes=1))
    pipeline.run_until_idle()
    assert len(pipeline.sent) == 1
    # Then the sent message, recorded on the profile, is out of the in-flight index
    dynamodb = pipeline.client("dynamodb")
    for shard in range(INFLIGHT_SHARDS):
        items = dynamodb.query(
            TableName=pipeline.stack.physical["MessagesTable"],
            IndexName="InFlight",
            KeyConditionExpression="inflight_shard = :s",
            ExpressionAttributeValues={":s": {"S": str(shard)}},
        )["Items"]
        assert items == []
    # And a sweep much later finds nothing stuck
    clock.advance(timedelta(days=1))
    assert _sweep(pipeline) == {"looked_at": 0, "stuck": 0, "actions": {}, "incomplete": False}


def test_every_run_publishes_the_stuck_messages_metric(
    pipeline: Pipeline,
    clock: VirtualClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    # Given a message stuck in sending, and metrics published (as EMF on stdout)
    waiting = _waiting_reminder(pipeline)
    clock.set(waiting.send_at)
    _claim(waiting, pipeline, "dead-attempt", call_ses=False)
    clock.advance(LEASE + timedelta(seconds=1))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    # When the sweeper runs twice
    _sweep(pipeline)
    _sweep(pipeline)
    # Then each run published StuckMessages: 1, then 0 (recovered)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    stuck = [blob["StuckMessages"] for blob in blobs if "StuckMessages" in blob]
    assert stuck == [[1.0], [0.0]]
    assert blobs[0]["Sweep_requeue"] == [1.0]
    assert blobs[0]["service"] == "righttime"
