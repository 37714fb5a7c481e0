"""Recovering messages stuck in flight (core/recovery.py): what the sweeper does with each status, and when
the in-flight index says to look."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from righttime.core.campaigns import Kind
from righttime.core.decisions import FINAL_STATUSES, MessageStatus, OutboundMessage
from righttime.core.recovery import (
    INFLIGHT_SHARDS,
    RECORD_GRACE,
    SCHEDULE_GRACE,
    UNKNOWN_TIMEOUT_MIN,
    Recovery,
    RecoveryTimings,
    inflight_shard,
    overdue,
    recovery_for,
    watch_at,
)

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TIMINGS = RecoveryTimings()


def message(status: MessageStatus, **fields: Any) -> OutboundMessage:
    base: dict[str, Any] = {
        "message_id": "3f1c2a9e8b7d4c6e9f0a1b2c3d4e5f60",
        "customer_id": "cust-1",
        "campaign_id": "cart_abandonment",
        "kind": Kind.PROMOTIONAL,
        "template": "cart_abandonment",
        "status": status,
        "send_at": NOW - timedelta(hours=1),
        "created_at": NOW - timedelta(hours=2),
        "updated_at": NOW - timedelta(hours=1),
        "trigger_event": "Product Added",
        "trigger_message_id": "m-1",
        "trigger_at": NOW - timedelta(hours=2),
    }
    return OutboundMessage.model_validate(base | fields)


def sending(lease_until: datetime, ses_called_at: datetime | None = None) -> OutboundMessage:
    return message(
        MessageStatus.SENDING, attempt_id="a-1", lease_until=lease_until, ses_called_at=ses_called_at
    )


def test_an_expired_lease_without_a_call_to_ses_goes_back_to_pending():
    # Given an attempt that claimed the message and died before calling SES
    stuck = sending(lease_until=NOW - timedelta(seconds=1))
    # Then the message is requeued: nothing can have been sent
    assert recovery_for(stuck, NOW, TIMINGS).action is Recovery.REQUEUE


def test_an_expired_lease_after_a_call_to_ses_becomes_unknown_not_resent():
    # Given an attempt that died after recording that it called SES
    stuck = sending(lease_until=NOW - timedelta(seconds=1), ses_called_at=NOW - timedelta(minutes=5))
    # Then SES may have sent it: the outcome is unknown, and nothing is sent yet
    assert recovery_for(stuck, NOW, TIMINGS).action is Recovery.MARK_UNKNOWN


def test_a_lease_that_still_holds_is_left_to_its_attempt():
    lease = NOW + timedelta(minutes=2)
    verdict = recovery_for(sending(lease_until=lease), NOW, TIMINGS)
    assert (verdict.action, verdict.look_at) == (Recovery.WAIT, lease)
    assert not overdue(verdict)


def test_an_unknown_outcome_waits_for_ses_events_until_the_timeout():
    since = NOW - timedelta(minutes=10)
    verdict = recovery_for(message(MessageStatus.UNKNOWN, unknown_since=since), NOW, TIMINGS)
    assert (verdict.action, verdict.look_at) == (Recovery.WAIT, since + TIMINGS.unknown_timeout)


def test_an_unknown_outcome_past_the_timeout_is_resent_once_then_given_up():
    # Given an outcome unknown for longer than the timeout, and no SES event
    since = NOW - TIMINGS.unknown_timeout
    first = message(MessageStatus.UNKNOWN, unknown_since=since, attempt_id="a-1")
    # Then the first time it is resent; after one resend, it fails (never a third copy)
    assert recovery_for(first, NOW, TIMINGS).action is Recovery.RESEND
    again = first.model_copy(update={"resends": 1})
    assert recovery_for(again, NOW, TIMINGS).action is Recovery.GIVE_UP


def test_the_unknown_timeout_is_a_setting():
    since = NOW - timedelta(minutes=40)
    stuck = message(MessageStatus.UNKNOWN, unknown_since=since)
    assert (
        recovery_for(stuck, NOW, RecoveryTimings(unknown_timeout=timedelta(hours=1))).action is Recovery.WAIT
    )
    assert recovery_for(stuck, NOW, RecoveryTimings()).action is Recovery.RESEND


def test_a_pending_message_past_its_send_at_and_the_grace_gets_a_new_schedule():
    late = message(MessageStatus.PENDING, send_at=NOW - SCHEDULE_GRACE)
    assert recovery_for(late, NOW, TIMINGS).action is Recovery.RESCHEDULE
    on_time = message(MessageStatus.PENDING, send_at=NOW - timedelta(minutes=3))
    assert recovery_for(on_time, NOW, TIMINGS).action is Recovery.WAIT


def test_a_sent_message_still_in_flight_after_the_grace_is_recorded_on_the_profile():
    sent = message(MessageStatus.SENT, updated_at=NOW - RECORD_GRACE)
    assert recovery_for(sent, NOW, TIMINGS).action is Recovery.RECORD_SEND
    just_sent = message(MessageStatus.SENT, updated_at=NOW - timedelta(seconds=30))
    assert recovery_for(just_sent, NOW, TIMINGS).action is Recovery.WAIT


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES - {MessageStatus.SENT}))
def test_a_settled_message_only_leaves_the_index(status: MessageStatus):
    verdict = recovery_for(message(status), NOW, TIMINGS)
    assert verdict.action is Recovery.FORGET
    assert not overdue(verdict)


def test_each_status_enters_or_leaves_the_index_when_it_is_written():
    lease = NOW + timedelta(minutes=5)
    assert watch_at(MessageStatus.PENDING, send_at=NOW) == NOW + SCHEDULE_GRACE
    assert watch_at(MessageStatus.SENDING, lease_until=lease) == lease
    assert watch_at(MessageStatus.UNKNOWN, now=NOW) == NOW + UNKNOWN_TIMEOUT_MIN
    assert watch_at(MessageStatus.SENT, now=NOW, recorded=False) == NOW + RECORD_GRACE
    # Settled and recorded: out of the index, so the index stays sparse
    assert watch_at(MessageStatus.SENT, now=NOW) is None
    for status in FINAL_STATUSES - {MessageStatus.SENT}:
        assert watch_at(status, now=NOW) is None


@given(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
def test_a_message_always_lands_in_the_same_valid_shard(message_id: str):
    shard = inflight_shard(message_id)
    assert shard == inflight_shard(message_id)
    assert 0 <= int(shard) < INFLIGHT_SHARDS


@given(
    st.sampled_from(
        [MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.UNKNOWN, MessageStatus.SENT]
    ),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
)
def test_a_message_the_index_surfaces_is_recovered_or_looked_at_again_later(
    status: MessageStatus, since: timedelta
):
    # Given a message written `since` ago and left as it was: the index surfaces it at watch_at
    written = NOW - since
    lease = written + timedelta(minutes=5)
    stuck = message(
        status,
        send_at=written,
        updated_at=written,
        lease_until=lease,
        unknown_since=written,
        attempt_id="a-1",
    )
    surfaced = watch_at(status, now=written, send_at=written, lease_until=lease, recorded=False)
    assert surfaced is not None
    verdict = recovery_for(stuck, max(NOW, surfaced), TIMINGS)
    # Then the sweeper either acts, or names a later instant: it never spins on the same entry
    if verdict.action is Recovery.WAIT:
        assert verdict.look_at is not None and verdict.look_at > max(NOW, surfaced)
    else:
        assert overdue(verdict)
