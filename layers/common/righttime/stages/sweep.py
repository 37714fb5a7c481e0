"""Sweeping: every few minutes, recover the messages stuck in flight, found through the sparse in-flight
index (never a Scan). `righttime.core.recovery` decides what each one needs; this applies it, records a
decision for every change of a message's course, and counts what it found (the StuckMessages metric)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from righttime.core.campaigns import Campaign, Kind
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage, Outcome, Reason
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy import Move
from righttime.core.profiles import Profile, forget_pending
from righttime.core.recovery import (
    INFLIGHT_SHARDS,
    MAX_RESENDS,
    Recovery,
    RecoveryTimings,
    overdue,
    recovery_for,
)
from righttime.stages.ports import Store
from righttime.stages.send import send_recorder, waiting_again

#: messages one run looks at, at most (spread evenly over the shards); the rest wait for the next run
MAX_MESSAGES_PER_RUN = 800
#: seconds of the invocation a run keeps in hand: it stops looking at messages when fewer are left
RESERVE_SECONDS = 10.0


@dataclass
class SweepReport:
    """What one run found and did."""

    #: index entries looked at
    looked_at: int = 0
    #: messages the sweeper had to act on: the StuckMessages metric
    stuck: int = 0
    #: what was done, by Recovery value; "lost_race" when someone else moved the message first
    actions: Counter[str] = field(default_factory=Counter)
    #: the run stopped at its bound or its time: more may be due
    incomplete: bool = False
    decisions: list[Decision] = field(default_factory=list)


def sweep_in_flight(
    *,
    store: Store,
    campaign_of: dict[str, Campaign],
    policy: GlobalPolicy,
    now: datetime,
    timings: RecoveryTimings,
    limit: int = MAX_MESSAGES_PER_RUN,
    seconds_left: Callable[[], float] = lambda: math.inf,
) -> SweepReport:
    """Look at every in-flight message due a look by `now`, shard by shard, at most `limit` in all, and
    recover the ones that are stuck."""
    report = SweepReport()
    per_shard = max(1, limit // INFLIGHT_SHARDS)
    for shard in range(INFLIGHT_SHARDS):
        due = store.due_in_flight(shard, now, per_shard)
        report.incomplete |= len(due) == per_shard
        for customer_id, message_id in due:
            if seconds_left() < RESERVE_SECONDS:
                report.incomplete = True
                return report
            report.looked_at += 1
            message = store.get_message(customer_id, message_id)
            if message is None or message.inflight_at is None or message.inflight_at > now:
                continue  # gone, or moved on since the index (eventually consistent) was read
            verdict = recovery_for(message, now, timings)
            if overdue(verdict):
                report.stuck += 1
            done, decision = _recover(store, message, verdict.action, campaign_of, policy, now, timings)
            if verdict.action is Recovery.WAIT and verdict.look_at is not None:
                done = store.watch_again(message, verdict.look_at)
            report.actions[verdict.action.value if done else "lost_race"] += 1
            if done and decision is not None:
                report.decisions.append(decision)
    return report


def _recover(
    store: Store,
    message: OutboundMessage,
    action: Recovery,
    campaign_of: dict[str, Campaign],
    policy: GlobalPolicy,
    now: datetime,
    timings: RecoveryTimings,
) -> tuple[bool, Decision | None]:
    """Apply one recovery; False when another writer changed the message first (it is then theirs)."""
    match action:
        case Recovery.REQUEUE:
            assert message.lease_until is not None
            reason = Reason.lease_expired(message.attempt_id, message.lease_until, None)
            return _give_back(store, message, reason, now)
        case Recovery.RESCHEDULE:
            return _give_back(
                store, message, Reason.schedule_missing(message.send_at, timings.schedule_grace), now
            )
        case Recovery.RESEND:
            since = message.unknown_since or message.updated_at
            resends = message.resends + 1
            reason = Reason.ses_outcome_unresolved_resend(since, now - since, resends)
            return _give_back(store, message, reason, now, resends=resends)
        case Recovery.MARK_UNKNOWN:
            assert message.lease_until is not None and message.attempt_id is not None
            reason = Reason.lease_expired(message.attempt_id, message.lease_until, message.ses_called_at)
            decision = _decision(message, Outcome.UNKNOWN, reason, now)
            return store.finish(message, message.attempt_id, MessageStatus.UNKNOWN, decision, now), decision
        case Recovery.GIVE_UP:
            assert message.attempt_id is not None
            since = message.unknown_since or message.updated_at
            reason = Reason.ses_outcome_unresolved_gave_up(since, max(message.resends, MAX_RESENDS))
            decision = _decision(message, Outcome.FAILED, reason, now)
            if not store.finish(message, message.attempt_id, MessageStatus.FAILED, decision, now):
                return False, decision
            store.apply_to_profile(message.customer_id, _forget(message))
            return True, decision
        case Recovery.RECORD_SEND:
            store.apply_to_profile(
                message.customer_id, send_recorder(message, campaign_of, policy, message.updated_at)
            )
            return store.stop_watching(message), None
        case Recovery.FORGET:
            store.apply_to_profile(message.customer_id, _forget(message))
            return store.stop_watching(message), None
    return True, None  # WAIT: the caller moves the index entry


def _give_back(
    store: Store, message: OutboundMessage, reason: Reason, now: datetime, *, resends: int | None = None
) -> tuple[bool, Decision]:
    """Pending again, due now, as a new generation: the stream gives it a schedule, and the sender applies
    the policy again when it fires (an order since, quiet hours, a cap can still stop or move it)."""
    move = Move(message.message_id, now, message.generation + 1, [reason])
    decision = _decision(message, Outcome.DEFERRED, reason, now, send_at=now)
    profile = store.get_profile(message.customer_id)
    change = waiting_again(message, now, move.generation)
    return store.give_back(profile, message, move, decision, now, change, resends=resends), decision


def _forget(message: OutboundMessage) -> Callable[[Profile], bool]:
    promotional = message.kind is Kind.PROMOTIONAL
    return lambda p: forget_pending(p, message.campaign_id, message.message_id, promotional=promotional)


def _decision(
    message: OutboundMessage, outcome: Outcome, reason: Reason, now: datetime, send_at: datetime | None = None
) -> Decision:
    return Decision.about(message, outcome, [reason], at=now, send_at=send_at)
