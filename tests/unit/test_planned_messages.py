"""A message the planner makes is the message validating the same fields makes: stored, read back and
sent the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from righttime.core.campaigns import Kind
from righttime.core.decisions import MessageStatus, OutboundMessage, Reason

AT = datetime(2026, 11, 20, 9, 10, tzinfo=UTC)


def _fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "message_id": "8c1f0e",
        "customer_id": "u1",
        "campaign_id": "cart-reminder",
        "kind": Kind.PROMOTIONAL,
        "template": "cart",
        "send_at": AT + timedelta(hours=2),
        "created_at": AT,
        "updated_at": AT,
        "trigger_event": "Product Added",
        "trigger_message_id": "m1",
        "trigger_at": AT,
        "to": "u1@example.com",
        "priority": 5,
        "desired_at": AT + timedelta(hours=1),
        "send_by": AT + timedelta(days=3),
        "dedupe_key": "cart-9",
        "generation": 1,
        "category": "shirts",
        "trigger_properties": {"price": 30.5, "products": [{"product_id": "p1", "tags": ["a", None]}]},
        "reasons": [Reason.triggered("Product Added", timedelta(hours=1)), Reason.outranked(["b", "a"], AT)],
    }
    return {**fields, **changes}


@pytest.mark.parametrize(
    "changes",
    [{}, {"to": None, "desired_at": None, "send_by": None, "dedupe_key": None, "category": None}],
    ids=["every field", "optional fields empty"],
)
def test_a_planned_message_is_the_message_its_fields_validate_to(changes: dict[str, Any]) -> None:
    # Given the fields the planner sets on a message
    fields = _fields(**changes)
    # When it makes the message, and when the same fields are validated
    planned = OutboundMessage.planned(**fields)
    validated = OutboundMessage(**fields)
    # Then they are the same message, stored the same, with the same fields set and the same defaults
    assert planned == validated
    assert planned.model_dump_json() == validated.model_dump_json()
    assert planned.model_fields_set == validated.model_fields_set
    assert planned.status is MessageStatus.PENDING and planned.attempts == 0 and planned.lease_until is None
    # And it reads back from its record as itself, and changes as any message does
    assert OutboundMessage.model_validate_json(planned.model_dump_json()) == planned
    sent = planned.model_copy(update={"status": MessageStatus.SENT})
    assert sent.status is MessageStatus.SENT and planned.status is MessageStatus.PENDING


def test_planned_messages_do_not_share_their_defaults() -> None:
    # Given two messages the planner made
    first, second = OutboundMessage.planned(**_fields()), OutboundMessage.planned(**_fields(message_id="2"))
    # When one of them is marked as being sent
    first.attempt_id = "attempt-1"
    # Then the other is not
    assert second.attempt_id is None
