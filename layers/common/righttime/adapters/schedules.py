"""EventBridge Scheduler: one one-time `at()` schedule per pending message, deleted after it fires."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from righttime.core.addresses import address_key
from righttime.core.clock import utc
from righttime.core.decisions import OutboundMessage

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient

#: EventBridge Scheduler fires with one-minute precision and will not create an at() in the past.
MIN_LEAD = timedelta(seconds=60)


def schedule_name(message_id: str, generation: int = 0) -> str:
    """One per message generation; deterministic and valid for AWS (≤ 64 characters of [0-9a-zA-Z-_.])."""
    name = f"rt-{message_id}-{generation}"
    if len(name) > 64 or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
        raise ValueError(f"message id {message_id!r} does not make a valid schedule name")
    return name


def at_expression(send_at: datetime, now: datetime) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)` in UTC, no earlier than a minute from `now`."""
    instant = max(utc(send_at), utc(now) + MIN_LEAD)
    if instant.microsecond:
        instant = instant.replace(microsecond=0) + timedelta(seconds=1)  # never fire before send_at
    return f"at({instant.strftime('%Y-%m-%dT%H:%M:%S')})"


def target_input(message: OutboundMessage) -> str:
    """What the sender receives when the schedule fires."""
    payload = {"customer_id": message.customer_id, "message_id": message.message_id}
    if message.to:
        payload["address_key"] = address_key(message.to)  # lets the sender check suppression in its one read
    return json.dumps(payload)


@dataclass(frozen=True)
class ScheduleTarget:
    """Where schedules live and what they invoke."""

    group: str
    sender_function_arn: str
    role_arn: str
    dead_letter_arn: str
    max_retry_attempts: int = 10
    max_event_age_seconds: int = 86_400


class EventBridgeSchedules:
    """The `Schedules` port on EventBridge Scheduler."""

    def __init__(self, client: EventBridgeSchedulerClient, target: ScheduleTarget) -> None:
        self.client = client
        self.config = target

    def upsert(self, message: OutboundMessage, now: datetime) -> None:
        """Create the message's schedule, or move it if it exists (a repeated trigger moved send_at)."""
        request = {
            "Name": schedule_name(message.message_id, message.generation),
            "GroupName": self.config.group,
            "ScheduleExpression": at_expression(message.send_at, now),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Description": f"righttime {message.campaign_id} for one customer",
            "Target": {
                "Arn": self.config.sender_function_arn,
                "RoleArn": self.config.role_arn,
                "Input": target_input(message),
                "RetryPolicy": {
                    "MaximumRetryAttempts": self.config.max_retry_attempts,
                    "MaximumEventAgeInSeconds": self.config.max_event_age_seconds,
                },
                "DeadLetterConfig": {"Arn": self.config.dead_letter_arn},
            },
        }
        try:
            self.client.create_schedule(**request)  # type: ignore[arg-type]
        except self.client.exceptions.ConflictException:
            self.client.update_schedule(**request)  # type: ignore[arg-type]

    def delete(self, message_id: str, generation: int) -> bool:
        """Delete one generation's schedule; False if there was none (already fired, or never created)."""
        try:
            self.client.delete_schedule(
                Name=schedule_name(message_id, generation), GroupName=self.config.group
            )
        except self.client.exceptions.ResourceNotFoundException:
            return False
        return True
