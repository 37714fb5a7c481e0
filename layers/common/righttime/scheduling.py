"""Keeps EventBridge Scheduler in step with the messages table: each change to a message (seen on the
table's stream) creates, moves or deletes its one-time schedule."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from righttime.decisions import MessageStatus, OutboundMessage


class Action(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"
    NONE = "none"


class ScheduleBackend(Protocol):
    def upsert(self, message: OutboundMessage, now: datetime) -> None: ...
    def delete(self, message_id: str) -> bool: ...


def action_for(old: OutboundMessage | None, new: OutboundMessage | None) -> Action:
    """What a change from `old` to `new` (either may be absent) means for the message's schedule."""
    if new is not None and new.status is MessageStatus.PENDING:
        moved = old is None or old.status is not MessageStatus.PENDING or old.send_at != new.send_at
        return Action.UPSERT if moved else Action.NONE
    was_waiting = old is not None and old.status is MessageStatus.PENDING
    # A message being sent or sent has already fired: Scheduler deletes the schedule itself afterwards.
    if was_waiting and (new is None or new.status in (MessageStatus.CANCELLED, MessageStatus.SUPPRESSED)):
        return Action.DELETE
    return Action.NONE


def sync(
    old: OutboundMessage | None, new: OutboundMessage | None, backend: ScheduleBackend, now: datetime
) -> Action:
    """Apply the schedule change one message change calls for; idempotent, so stream retries are safe."""
    action = action_for(old, new)
    if action is Action.UPSERT and new is not None:
        backend.upsert(new, now)
    elif action is Action.DELETE and old is not None:
        backend.delete(old.message_id)
    return action
