"""The due sweep on moto: customers whose profile has something due are found through the sparse date index
(a Query per shard, never a Scan), each gets one due event on the events queue, and their entry waits a day
before it is looked at again unless evaluation moves it on first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from righttime.core.clock import VirtualClock
from righttime.core.due import DUE_RETRY, DUE_SHARDS, due_shard
from righttime.core.events import DUE_EVENT
from righttime.core.profiles import Profile
from righttime.wiring.root import root
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.functional.conftest import sample_event

CUSTOMER = "cust-due-7"


def _store_profile(customer_id: str, due_at: datetime | None, zone: str = "Europe/Paris") -> None:
    """The customer's profile as a profile write leaves it (what evaluation will do once programs set it)."""

    def change(profile: Profile) -> bool:
        profile.timezone, profile.due_at = zone, due_at
        return True

    root().store.apply_to_profile(customer_id, change)


def _sweep(pipeline: Pipeline, scheduled_at: datetime | None = None) -> dict[str, Any]:
    """A run of the due sweep, as its schedule fires it for `scheduled_at` (by default: now)."""
    event = sample_event("due-schedule.json")
    event["scheduled_at"] = (scheduled_at or pipeline.clock.now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    result: dict[str, Any] = pipeline.handlers["DueFunction"](event, LambdaContext("DueFunction"))
    return result


def _queued(pipeline: Pipeline) -> list[dict[str, Any]]:
    """The events waiting on the events queue, left there (visible again at once; each look counts as a
    receive, and the fifth sends an event to the DLQ)."""
    sqs, url = pipeline.client("sqs"), pipeline.stack.physical["EventsQueue"]
    response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def _stored_item(pipeline: Pipeline, customer_id: str) -> dict[str, Any]:
    item: dict[str, Any] = pipeline.client("dynamodb").get_item(
        TableName=pipeline.stack.physical["ProfilesTable"], Key={"customer_id": {"S": customer_id}}
    )["Item"]
    return item


def _index_entries(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Every entry of the date index, shard by shard, as the sweep's Query sees them."""
    client, table = pipeline.client("dynamodb"), pipeline.stack.physical["ProfilesTable"]
    return [
        item
        for shard in range(DUE_SHARDS)
        for item in client.query(
            TableName=table,
            IndexName="Due",
            KeyConditionExpression="due_shard = :shard",
            ExpressionAttributeValues={":shard": {"S": str(shard)}},
        )["Items"]
    ]


def test_a_customer_due_yesterday_gets_one_due_event_however_often_the_sweep_runs(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a customer in Paris whose profile was due yesterday evening
    due_at = clock.now() - timedelta(hours=14)
    _store_profile(CUSTOMER, due_at)
    # When the due sweep runs
    first = _sweep(pipeline)
    # Then one due event for the customer is on the events queue, named after the due instant
    assert first == {"queued": 1, "postponed": 1, "moved_on": 0, "incomplete": False}
    (event,) = _queued(pipeline)
    assert event["message"]["event"] == DUE_EVENT and event["message"]["userId"] == CUSTOMER
    assert event["message"]["messageId"] == f"righttime-due-{due_at.isoformat()}"
    assert event["occurred_at"] == clock.now().isoformat().replace("+00:00", "Z")
    # And a second run at the same instant queues nothing new
    assert _sweep(pipeline)["queued"] == 0
    assert len(_queued(pipeline)) == 1
    # And evaluation takes the event without error: the profile remembers it, nothing is dead-lettered
    pipeline.run_until_idle()
    assert root().store.get_profile(CUSTOMER).has_processed(event["message"]["messageId"])
    dlq = pipeline.client("sqs").receive_message(QueueUrl=pipeline.stack.physical["EventsDLQ"])
    assert dlq.get("Messages", []) == []


def test_a_customer_not_yet_due_is_not_read(pipeline: Pipeline, clock: VirtualClock):
    # Given a customer due in an hour, and one due a minute ago
    _store_profile("later", clock.now() + timedelta(hours=1))
    _store_profile("now", clock.now() - timedelta(minutes=1))
    # When the due sweep runs
    result = _sweep(pipeline)
    # Then only the one already due is queued: the Query stops at now
    assert result["queued"] == 1
    assert [e["message"]["userId"] for e in _queued(pipeline)] == ["now"]
    assert root().store.due_customers(int(due_shard("later")), clock.now(), 10) == []


def test_a_lost_due_event_is_tried_again_after_the_retry_period(pipeline: Pipeline, clock: VirtualClock):
    # Given a customer whose due event was queued and then lost (the queue was purged)
    due_at = clock.now() - timedelta(minutes=20)
    _store_profile(CUSTOMER, due_at)
    assert _sweep(pipeline)["queued"] == 1
    pipeline.client("sqs").purge_queue(QueueUrl=pipeline.stack.physical["EventsQueue"])
    swept_at = clock.now()
    # When the sweep runs every quarter of an hour for almost a day
    clock.advance(DUE_RETRY - timedelta(minutes=15))
    # Then the entry is not looked at again before the retry period is over
    assert _sweep(pipeline)["queued"] == 0
    # And once it is, the customer gets a new due event, named after the postponed instant
    clock.advance(timedelta(minutes=15))
    assert _sweep(pipeline)["queued"] == 1
    (event,) = _queued(pipeline)
    assert event["message"]["messageId"] == f"righttime-due-{(swept_at + DUE_RETRY).isoformat()}"


def test_a_profile_write_moves_the_entry_on_and_the_sweep_leaves_it_alone(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a customer found due by the sweep's read of the index
    due_at = clock.now() - timedelta(minutes=5)
    _store_profile(CUSTOMER, due_at)
    ((customer, seen),) = root().store.due_customers(int(due_shard(CUSTOMER)), clock.now(), 10)
    # When evaluation writes the profile's next due instant before the sweep postpones the entry
    _store_profile(CUSTOMER, clock.now() + timedelta(days=3))
    # Then the postponement does nothing, and the entry says what the profile says
    assert not root().store.postpone_due(customer, seen, clock.now() + DUE_RETRY)
    stored = _stored_item(pipeline, CUSTOMER)
    assert stored["due_at"]["S"] == (clock.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_the_index_holds_no_entry_for_a_profile_with_nothing_due(pipeline: Pipeline, clock: VirtualClock):
    # Given a customer with nothing due, and one whose due instant was cleared again
    _store_profile("never", None)
    _store_profile(CUSTOMER, clock.now() - timedelta(days=1))
    _store_profile(CUSTOMER, None)
    # Then neither profile carries the index's attributes, and the index is empty
    for customer in ("never", CUSTOMER):
        assert {"due_shard", "due_at"}.isdisjoint(_stored_item(pipeline, customer))
    assert _index_entries(pipeline) == []
    # And the sweep queues nothing
    assert _sweep(pipeline)["queued"] == 0


def test_every_profile_write_keeps_the_entry_as_the_body_says(pipeline: Pipeline, clock: VirtualClock):
    # Given a customer due now, whose entry the sweep postponed
    due_at = clock.now() - timedelta(minutes=1)
    _store_profile(CUSTOMER, due_at)
    assert _sweep(pipeline)["postponed"] == 1
    # When any writer (here a send being recorded) writes the profile again
    root().store.apply_to_profile(CUSTOMER, lambda p: setattr(p, "email", "ada@example.com") or True)
    # Then the entry is the body's due instant again, in its shard, as a fixed-width UTC string
    (entry,) = _index_entries(pipeline)
    assert entry["due_shard"] == {"S": due_shard(CUSTOMER)}
    assert entry["due_at"]["S"] == due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert root().store.get_profile(CUSTOMER).due_at == due_at


def test_a_run_that_starts_late_works_as_of_the_time_it_was_scheduled_for(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a run scheduled for 09:15 that starts two minutes late, and a customer due at 09:16
    scheduled = clock.now()
    _store_profile(CUSTOMER, scheduled + timedelta(minutes=1))
    clock.advance(timedelta(minutes=2))
    # When it runs
    result = _sweep(pipeline, scheduled_at=scheduled)
    # Then it finds nobody: what was due after 09:15 is the 09:30 run's, whenever this one started
    assert result["queued"] == 0 and _queued(pipeline) == []
    assert _sweep(pipeline)["queued"] == 1
