"""Keeping one EventBridge Scheduler schedule per pending message: what each message change calls for,
and the names, expressions and payloads the schedules carry (pure helpers, no AWS)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from righttime.adapters.schedules import at_expression, schedule_name, target_input
from righttime.core.campaigns import Kind
from righttime.core.decisions import MessageStatus, OutboundMessage, message_id_for
from righttime.stages.schedule import ScheduleChange, actions_for, sync

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NAME_RULE = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")


def message(
    status: MessageStatus = MessageStatus.PENDING, send_at: datetime = T0, **changes: Any
) -> OutboundMessage:
    fields: dict[str, Any] = {
        "message_id": "0123456789abcdef0123456789abcdef",
        "customer_id": "cust-1",
        "campaign_id": "cart_abandonment",
        "kind": Kind.PROMOTIONAL,
        "template": "cart_abandonment",
        "status": status,
        "send_at": send_at,
        "created_at": T0 - timedelta(hours=1),
        "updated_at": T0 - timedelta(hours=1),
        "trigger_event": "Product Added",
        "trigger_message_id": "m-add",
        "trigger_at": T0 - timedelta(hours=1),
        "to": "Jane.Doe@Example.com",
    }
    fields.update(changes)
    return OutboundMessage(**fields)


PENDING = message()
MOVED = message(send_at=T0 + timedelta(minutes=20))
#: a repeated trigger moves the message to a new generation, with a schedule of its own
NEXT_GENERATION = message(send_at=T0 + timedelta(minutes=20), generation=1)


def summary(actions: list[tuple[ScheduleChange, OutboundMessage]]) -> list[tuple[str, int]]:
    return [(action.value, message.generation) for action, message in actions]


# --- actions_for ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(None, PENDING, [("upsert", 0)], id="new pending message gets a schedule"),
        pytest.param(PENDING, MOVED, [("upsert", 0)], id="send_at moved: its schedule moves"),
        pytest.param(
            PENDING,
            NEXT_GENERATION,
            [("upsert", 1), ("delete", 0)],
            id="new generation: new schedule first, then the old one goes",
        ),
        pytest.param(PENDING, PENDING.model_copy(update={"updated_at": T0}), [], id="same send_at"),
        pytest.param(PENDING, message(MessageStatus.CANCELLED), [("delete", 0)], id="pending to cancelled"),
        pytest.param(PENDING, message(MessageStatus.SUPPRESSED), [("delete", 0)], id="pending to suppressed"),
        pytest.param(PENDING, message(MessageStatus.EXPIRED), [("delete", 0)], id="pending to expired"),
        pytest.param(PENDING, None, [("delete", 0)], id="pending message removed"),
        pytest.param(PENDING, message(MessageStatus.SENDING), [], id="pending to sending: it fired"),
        pytest.param(PENDING, message(MessageStatus.SENT), [], id="pending to sent: it fired"),
        pytest.param(message(MessageStatus.SENDING), message(MessageStatus.SENT), [], id="sending to sent"),
        pytest.param(message(MessageStatus.SENT), None, [], id="sent message removed"),
        pytest.param(None, message(MessageStatus.CANCELLED), [], id="written already closed"),
        pytest.param(message(MessageStatus.SENDING), PENDING, [("upsert", 0)], id="released back to pending"),
        pytest.param(None, None, [], id="nothing at all"),
    ],
)
def test_each_message_change_calls_for_the_right_schedule_actions(
    old: OutboundMessage | None, new: OutboundMessage | None, expected: list[tuple[str, int]]
) -> None:
    # Given a message change seen on the table's stream (old image, new image)
    # When the scheduler decides what it means
    # Then schedules are created or moved, deleted, or left alone, in a safe order
    assert summary(actions_for(old, new)) == expected


class FakeBackend:
    """Stands in for EventBridge Scheduler, recording calls in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def upsert(self, message: OutboundMessage, now: datetime) -> None:
        self.calls.append(("upsert", (message.message_id, message.generation, message.send_at, now)))

    def delete(self, message_id: str, generation: int) -> bool:
        self.calls.append(("delete", (message_id, generation)))
        return True


def test_sync_creates_the_schedule_of_a_new_pending_message() -> None:
    # Given a backend standing in for EventBridge Scheduler
    backend = FakeBackend()
    # When a new pending message appears
    sync(None, PENDING, backend, now=T0)
    # Then its schedule is upserted with its send time and the current instant
    assert backend.calls == [("upsert", (PENDING.message_id, 0, T0, T0))]


def test_sync_replaces_the_schedule_of_a_moved_message_create_first() -> None:
    backend = FakeBackend()
    # When a repeated trigger moves the message to its next generation
    sync(PENDING, NEXT_GENERATION, backend, now=T0)
    # Then the new generation's schedule exists before the old one is deleted:
    # a schedule firing meanwhile can never leave the message without one
    assert backend.calls == [
        ("upsert", (PENDING.message_id, 1, NEXT_GENERATION.send_at, T0)),
        ("delete", (PENDING.message_id, 0)),
    ]


@pytest.mark.parametrize("new", [message(MessageStatus.CANCELLED), None])
def test_sync_deletes_the_schedule_of_a_cancelled_or_removed_message(new: OutboundMessage | None) -> None:
    backend = FakeBackend()
    # When a pending message is cancelled (a purchase) or removed
    sync(PENDING, new, backend, now=T0)
    # Then its schedule is deleted, so it never fires
    assert backend.calls == [("delete", (PENDING.message_id, 0))]


@pytest.mark.parametrize(
    ("old", "new"), [(PENDING, PENDING), (PENDING, message(MessageStatus.SENT)), (None, None)]
)
def test_sync_leaves_the_scheduler_alone_when_nothing_changed(
    old: OutboundMessage | None, new: OutboundMessage | None
) -> None:
    backend = FakeBackend()
    # When the change does not affect the schedule, Then no call is made
    assert sync(old, new, backend, now=T0) == []
    assert backend.calls == []


# --- schedule_name ----------------------------------------------------------------------------------


def test_each_generation_of_a_message_has_its_own_schedule_name() -> None:
    # Given the id of a message
    message_id = message_id_for("cust-1", "cart_abandonment", "m-add")
    # When its first and second generations are named
    first, second = schedule_name(message_id), schedule_name(message_id, 1)
    # Then the names are deterministic, distinct and valid for AWS
    assert first == f"rt-{message_id}-0" == schedule_name(message_id, 0)
    assert second == f"rt-{message_id}-1"
    assert NAME_RULE.match(first)
    assert NAME_RULE.match(second)


def test_the_longest_accepted_id_makes_a_64_character_name() -> None:
    # Given a 59-character id, Then its generation-0 name is exactly AWS's 64-character limit
    assert len(schedule_name("x" * 59)) == 64


@pytest.mark.parametrize("bad", ["a/b", "a b", "caf\u00e9", "x" * 60, "id:1", "\uff11"])
def test_an_id_that_cannot_make_a_valid_name_is_refused(bad: str) -> None:
    # Given a message id with characters AWS refuses, or too long
    # When its schedule is named, Then it fails loudly instead of at the AWS call
    with pytest.raises(ValueError, match="does not make a valid schedule name"):
        schedule_name(bad)


@given(
    customer=st.text(max_size=300),
    campaign=st.text(max_size=60),
    trigger=st.text(max_size=300),
    generation=st.integers(min_value=0, max_value=10**12),
)
def test_every_generated_message_id_makes_a_valid_schedule_name(
    customer: str, campaign: str, trigger: str, generation: int
) -> None:
    # Given any customer, campaign and trigger message ids (Segment allows up to 256 characters),
    # and any number of moves
    # When righttime derives the message id and names its schedule
    name = schedule_name(message_id_for(customer, campaign, trigger), generation)
    # Then the name always satisfies AWS: at most 64 characters of [0-9a-zA-Z-_.]
    assert NAME_RULE.match(name)


@given(message_id=st.text(max_size=80), generation=st.integers(min_value=0, max_value=10**6))
def test_schedule_name_never_returns_an_invalid_name(message_id: str, generation: int) -> None:
    # Given any message id at all
    try:
        name = schedule_name(message_id, generation)
    except ValueError:
        return
    # Then any name returned is valid for AWS
    assert NAME_RULE.match(name)


# --- at_expression ----------------------------------------------------------------------------------


def parse_at(expression: str) -> datetime:
    match = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)", expression)
    assert match, expression
    return datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


def test_the_expression_is_the_send_time_in_utc() -> None:
    # Given a send time an hour ahead, written in Paris time (UTC+1 in March before DST)
    send_at = datetime(2026, 3, 2, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))
    # When the at() expression is built
    # Then it is the same instant in UTC, to the second
    assert at_expression(send_at, now=T0) == "at(2026-03-02T11:00:00)"


def test_a_send_time_already_passed_fires_a_minute_from_now() -> None:
    # Given a message due 10 minutes ago (Scheduler refuses at() in the past)
    # When the expression is built, Then it fires one minute from now
    assert at_expression(T0 - timedelta(minutes=10), now=T0) == "at(2026-03-02T10:01:00)"


def test_fractions_of_a_second_round_up_so_it_never_fires_early() -> None:
    # Given a send time with microseconds
    send_at = T0 + timedelta(hours=1, microseconds=1)
    # Then the schedule fires at the next whole second, not before
    assert at_expression(send_at, now=T0) == "at(2026-03-02T11:00:01)"


def test_a_naive_send_time_is_refused() -> None:
    # Given a send time without zone
    # Then no expression is guessed for it
    with pytest.raises(ValueError, match="naive"):
        at_expression(datetime(2026, 3, 2, 12, 0), now=T0)


zones = st.sampled_from(
    [UTC, ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=zones)


@given(send_at=instants, now=instants)
def test_the_schedule_never_fires_before_send_at_nor_within_a_minute(
    send_at: datetime, now: datetime
) -> None:
    # Given any send time and any current instant, in any zone
    # When the at() expression is built
    fires = parse_at(at_expression(send_at, now))
    # Then it fires no earlier than send_at, no earlier than now + 60s, and less than a second after both
    # (durations are added in UTC: wall-clock arithmetic in a local zone would skip or repeat DST hours)
    earliest = max(send_at.astimezone(UTC), now.astimezone(UTC) + timedelta(seconds=60))
    assert earliest <= fires < earliest + timedelta(seconds=1)


# --- target_input -----------------------------------------------------------------------------------


def test_the_payload_names_customer_and_message_and_hides_the_address() -> None:
    # Given a message to Jane.Doe@Example.com
    # When the schedule's payload is built
    payload = target_input(PENDING)
    # Then it carries the ids and the address's suppression key, but not the address itself
    assert json.loads(payload) == {
        "customer_id": "cust-1",
        "message_id": PENDING.message_id,
        "address_key": hashlib.sha256(b"jane.doe@example.com").hexdigest(),
    }
    assert "@" not in payload
    assert "jane" not in payload.lower()


def test_the_address_key_ignores_case_and_spaces() -> None:
    # Given the same address written two ways
    one = json.loads(target_input(message(to=" JANE.DOE@example.com ")))
    two = json.loads(target_input(message(to="jane.doe@example.com")))
    # Then both map to the same suppression key
    assert one["address_key"] == two["address_key"]


def test_a_message_without_address_has_no_address_key() -> None:
    # Given a message with no recipient yet
    # Then the payload has no key to look up
    assert "address_key" not in json.loads(target_input(message(to=None)))


@given(
    local=st.from_regex(r"[a-z0-9._+-]{1,30}", fullmatch=True), domain=st.sampled_from(["ex.com", "shop.fr"])
)
def test_no_address_ever_appears_in_a_schedule(local: str, domain: str) -> None:
    # Given any address
    address = f"{local}@{domain}"
    # When it is the message's recipient
    payload = target_input(message(to=address))
    # Then the schedule (readable by anyone with Scheduler access) does not contain it
    assert address not in payload
    assert "@" not in payload
