"""Keeps EventBridge Scheduler in step with the messages table: each change to a message (seen on the
table's stream) creates, replaces or deletes its one-time schedule.

Every move of a message is a new generation with a schedule of its own, created before the old one is
deleted: a schedule that is firing while its message moves can never take the new one down with it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from righttime.core.decisions import MessageStatus, OutboundMessage
from righttime.stages.ports import Schedules


class ScheduleChange(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


def actions_for(
    old: OutboundMessage | None, new: OutboundMessage | None
) -> list[tuple[ScheduleChange, OutboundMessage]]:
    """What a change from `old` to `new` (either may be absent) means for the message's schedules."""
    actions: list[tuple[ScheduleChange, OutboundMessage]] = []
    new_waiting = new is not None and new.status is MessageStatus.PENDING
    old_waiting = old is not None and old.status is MessageStatus.PENDING
    if new_waiting and new is not None:
        changed = (
            not old_waiting or old is None or old.generation != new.generation or old.send_at != new.send_at
        )
        if changed:
            actions.append((ScheduleChange.UPSERT, new))
    if old_waiting and old is not None:
        superseded = new_waiting and new is not None and new.generation != old.generation
        # Sending or sent means the schedule fired; Scheduler deletes it itself (ActionAfterCompletion).
        settled = new is None or new.status not in (
            MessageStatus.PENDING,
            MessageStatus.SENDING,
            MessageStatus.SENT,
        )
        if superseded or settled:
            actions.append((ScheduleChange.DELETE, old))
    return actions


def sync(
    old: OutboundMessage | None, new: OutboundMessage | None, backend: Schedules, now: datetime
) -> list[tuple[ScheduleChange, OutboundMessage]]:
    """Apply the schedule changes one message change calls for; idempotent, so stream retries are safe."""
    actions = actions_for(old, new)
    for action, message in actions:
        if action is ScheduleChange.UPSERT:
            backend.upsert(message, now)
        else:
            backend.delete(message.message_id, message.generation)
    return actions
