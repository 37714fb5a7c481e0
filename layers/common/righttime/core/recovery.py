"""Recovering messages stuck in flight (pure): what the sweeper does with a message it finds overdue.

A message is *in flight* from the moment it is planned until it is settled and recorded: `pending`,
`sending`, `unknown`, or `sent` but not yet recorded on the profile. While it is, its item carries two
attributes a sparse index is built on (docs/data-model.md): `inflight_shard`, a fixed shard of its id, and
`inflight_at`, the instant the sweeper should look at it if nothing else has moved it on by then. Every write
that changes a message's status sets or clears them (`watch_at`), so the index holds only messages in flight.

When the sweeper looks, `recovery_for` decides from the message alone (docs/operations.md has the rules):

    sending, lease expired, SES never called ..... back to pending, due now, as a new generation
    sending, lease expired, SES called ........... unknown: SES's events (or the timeout) will tell
    unknown past the timeout, never resent ........ back to pending, due now, resent once (same Message-ID)
    unknown past the timeout, resent already ...... failed, saying it gave up
    pending past send_at + grace .................. a new generation (a new schedule), due now
    sent, not recorded on the profile ............. record it, then leave the index
    settled otherwise ............................. leave the index
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from righttime.core.decisions import FINAL_STATUSES, MessageStatus, OutboundMessage

#: shards of the in-flight index: its writes spread over this many partitions, and a sweep queries each one
INFLIGHT_SHARDS = 8
#: a pending message whose schedule has not fired this long after its send_at has lost its schedule
SCHEDULE_GRACE = timedelta(minutes=15)
#: how long the sender has to record a send on the profile before the sweeper does it
RECORD_GRACE = timedelta(minutes=5)
#: the shortest unknown timeout the sweeper accepts; unknown messages are first looked at this long after
UNKNOWN_TIMEOUT_MIN = timedelta(minutes=5)
#: how long an unknown outcome waits for SES's events before the one resend
UNKNOWN_TIMEOUT = timedelta(minutes=30)
#: copies of a message sent after an ambiguous failure: one, recorded
MAX_RESENDS = 1


class Recovery(StrEnum):
    """What the sweeper does with one message."""

    #: nothing is overdue yet: look again at `Verdict.look_at`
    WAIT = "wait"
    #: a lease expired before SES was called: pending again, due now
    REQUEUE = "requeue"
    #: a lease expired after SES was called: the outcome is unknown
    MARK_UNKNOWN = "mark_unknown"
    #: no SES event came for an unknown outcome: send it once more
    RESEND = "resend"
    #: no SES event came after the resend either: the message fails
    GIVE_UP = "give_up"
    #: a pending message's schedule never fired: a new generation, due now
    RESCHEDULE = "reschedule"
    #: SES accepted it, and the profile does not show it yet
    RECORD_SEND = "record_send"
    #: settled: it leaves the index
    FORGET = "forget"


@dataclass(frozen=True)
class RecoveryTimings:
    """The sweeper's waits; `unknown_timeout` is a setting (UNKNOWN_TIMEOUT_MINUTES)."""

    unknown_timeout: timedelta = UNKNOWN_TIMEOUT
    schedule_grace: timedelta = SCHEDULE_GRACE
    record_grace: timedelta = RECORD_GRACE


@dataclass(frozen=True)
class Verdict:
    action: Recovery
    #: for WAIT: when the message is next due a look
    look_at: datetime | None = None


def inflight_shard(message_id: str) -> str:
    """The message's shard of the in-flight index: stable, so every write of a message lands in one shard."""
    return str(int(hashlib.sha256(message_id.encode()).hexdigest()[:8], 16) % INFLIGHT_SHARDS)


def watch_at(
    status: MessageStatus,
    *,
    now: datetime | None = None,
    send_at: datetime | None = None,
    lease_until: datetime | None = None,
    recorded: bool = True,
) -> datetime | None:
    """When the sweeper should first look at a message a write leaves in `status` (at `now`): a pending one
    after its `send_at`, a claimed one when its `lease_until` runs out. None: it leaves the index.

    `recorded` says whether a `sent` write records the send on the profile in the same transaction.
    """
    match status:
        case MessageStatus.PENDING:
            assert send_at is not None
            return send_at + SCHEDULE_GRACE
        case MessageStatus.SENDING:
            assert lease_until is not None
            return lease_until
        case MessageStatus.UNKNOWN:
            assert now is not None
            return now + UNKNOWN_TIMEOUT_MIN
        case MessageStatus.SENT if not recorded:
            assert now is not None
            return now + RECORD_GRACE
    return None


def recovery_for(message: OutboundMessage, now: datetime, timings: RecoveryTimings) -> Verdict:
    """What to do with `message`, found in the in-flight index at `now`."""
    match message.status:
        case MessageStatus.SENDING:
            lease = message.lease_until or message.updated_at
            if lease > now:
                return Verdict(Recovery.WAIT, lease)
            return Verdict(Recovery.REQUEUE if message.ses_called_at is None else Recovery.MARK_UNKNOWN)
        case MessageStatus.UNKNOWN:
            due = (message.unknown_since or message.updated_at) + timings.unknown_timeout
            if due > now:
                return Verdict(Recovery.WAIT, due)
            return Verdict(Recovery.RESEND if message.resends < MAX_RESENDS else Recovery.GIVE_UP)
        case MessageStatus.PENDING:
            due = message.send_at + timings.schedule_grace
            return Verdict(Recovery.RESCHEDULE) if due <= now else Verdict(Recovery.WAIT, due)
        case MessageStatus.SENT:
            due = message.updated_at + timings.record_grace
            return Verdict(Recovery.RECORD_SEND) if due <= now else Verdict(Recovery.WAIT, due)
    assert message.status in FINAL_STATUSES
    return Verdict(Recovery.FORGET)


def overdue(verdict: Verdict) -> bool:
    """Whether the sweeper had to act: every such message counts in the StuckMessages metric."""
    return verdict.action not in (Recovery.WAIT, Recovery.FORGET)
