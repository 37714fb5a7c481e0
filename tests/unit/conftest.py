"""Unit-test builders: Segment messages as an app would send them, wrapped as ingest queues them.

Every instant is injected; nothing here reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter

from righttime.core.events import Message, QueuedEvent

_messages: TypeAdapter[Message] = TypeAdapter(Message)

MakeEvent = Callable[..., QueuedEvent]  # the type of the `make_event` fixture


@pytest.fixture
def t0() -> datetime:
    """A fixed instant tests count from."""
    return datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def make_event() -> MakeEvent:
    """Build a QueuedEvent from Segment fields: `make_event("track", at, event="Product Added", ...)`."""

    def build(type_: str, at: datetime, *, received_at: datetime | None = None, **fields: Any) -> QueuedEvent:
        fields.setdefault("userId", "cust-1")
        fields.setdefault("messageId", f"msg-{type_}-{at.isoformat()}")
        message = _messages.validate_python({"type": type_, **fields})
        return QueuedEvent(message=message, received_at=received_at or at, occurred_at=at)

    return build
