"""The due sweep: every few minutes, queue a due event for each customer whose profile has something
time-based due (a program's wait, a recurring date, inactivity), found through the sparse date index (never a
Scan). Evaluation answers the event by advancing the customer to its time and writing the next `due_at`.

A run works as of the instant it was scheduled for (`run_instant`), not the instant it happens to start: it
finds what was due by then, and its events and postponements name that instant, so what a run does depends
on the grid alone (and a simulation split across processes decides as one process does).

A found entry is queued, then moved `DUE_RETRY` later if it still says what was read: the evaluation's
profile write replaces it with the next `due_at`, and an event that is lost or dead-lettered is tried again
a day later instead of at every run. The event's messageId names the due instant, so a run that finds an
entry twice (a run again at the same instant, a retry) queues nothing evaluation would act on twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from righttime.core.due import DUE_RETRY, DUE_SHARDS
from righttime.core.events import due_event
from righttime.stages.ports import EventQueue, Store

#: customers one run queues, at most (spread evenly over the shards); the rest wait for the next run
MAX_CUSTOMERS_PER_RUN = 3200
#: seconds of the invocation a run keeps in hand: it reads no further shard when fewer are left
RESERVE_SECONDS = 10.0


@dataclass
class DueReport:
    """What one run found and did."""

    #: customers found due and queued a due event: the DueCustomers metric
    queued: int = 0
    #: entries moved DUE_RETRY later
    postponed: int = 0
    #: entries a profile write had moved on between the read and the postponement (left as they are)
    moved_on: int = 0
    #: the run stopped at its bound or its time: more may be due
    incomplete: bool = False


def run_instant(scheduled_at: Any, now: datetime) -> datetime:
    """The instant a run works as of: the time its schedule fired for (EventBridge Scheduler's
    `<aws.scheduler.scheduled-time>`, e.g. 2026-11-28T21:15:00Z), never later than `now`; `now` when the
    invocation names none it can read."""
    if not isinstance(scheduled_at, str):
        return now
    try:
        scheduled = datetime.fromisoformat(scheduled_at)
    except ValueError:
        return now
    return min(scheduled, now) if scheduled.tzinfo is not None else now


def sweep_due(
    *,
    store: Store,
    queue: EventQueue,
    now: datetime,
    limit: int = MAX_CUSTOMERS_PER_RUN,
    retry: timedelta = DUE_RETRY,
    seconds_left: Callable[[], float] = lambda: math.inf,
) -> DueReport:
    """Queue a due event for every customer the date index says is due by `now` (the run's instant), shard by
    shard, at most `limit` in all, and move each entry `retry` after `now`. Raises QueueUnavailableError if
    the queue refuses events: the entries stay as they were, due, for the next run."""
    report = DueReport()
    per_shard = max(1, limit // DUE_SHARDS)
    for shard in range(DUE_SHARDS):
        if seconds_left() < RESERVE_SECONDS:
            report.incomplete = True
            break
        due = store.due_customers(shard, now, per_shard)
        report.incomplete |= len(due) == per_shard
        if not due:
            continue
        # Queued before postponed: a run that dies in between finds the entries again, and queues events
        # with the same messageIds, which evaluation drops.
        queue.send([due_event(customer_id, due_at, now) for customer_id, due_at in due])
        report.queued += len(due)
        for customer_id, due_at in due:
            if store.postpone_due(customer_id, due_at, now + retry):
                report.postponed += 1
            else:
                report.moved_on += 1
    return report
