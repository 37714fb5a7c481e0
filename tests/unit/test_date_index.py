"""The date index (core/due.py, and the in-memory store's copy of the Due GSI): stored instants sort as the
instants they name, shards are stable, the sweep's grid is the hour's, and the index follows every write."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from righttime.adapters.dynamodb import profile_item
from righttime.core.clock import VirtualClock
from righttime.core.due import DUE_SHARDS, due_at_from_value, due_at_value, due_shard, sweep_instant
from righttime.core.profiles import Profile
from righttime.stages.due import sweep_due
from righttime_dev.memory import MemoryQueue, MemoryStore

NOW = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
instants = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=14))]),
)


@given(instants, instants)
def test_stored_instants_sort_as_the_instants_they_name(a: datetime, b: datetime):
    # Given two instants in any zone, any year
    stored_a, stored_b = due_at_value(a), due_at_value(b)
    # Then their stored strings are of one width, compare as the instants do, and read back exactly
    assert len(stored_a) == len(stored_b) == 27 and stored_a.endswith("Z")
    assert (stored_a < stored_b) == (a < b) and (stored_a == stored_b) == (a == b)
    assert due_at_from_value(stored_a) == a


def test_a_customer_always_lands_in_the_same_shard_of_sixteen():
    shards = {due_shard(f"cust-{n}") for n in range(2_000)}
    assert shards == {str(n) for n in range(DUE_SHARDS)}
    assert due_shard("cust-42") == due_shard("cust-42") == "7"  # sha256, not Python's salted hash()


def test_the_first_run_that_finds_an_entry_is_its_instant_rounded_up_to_the_hours_grid():
    quarter = timedelta(minutes=15)
    assert sweep_instant(datetime(2026, 3, 1, 8, 5, tzinfo=UTC), quarter) == datetime(
        2026, 3, 1, 8, 15, tzinfo=UTC
    )
    assert sweep_instant(datetime(2026, 3, 1, 8, 15, tzinfo=UTC), quarter) == datetime(
        2026, 3, 1, 8, 15, tzinfo=UTC
    )
    paris = datetime(2026, 3, 1, 9, 50, 0, 1, tzinfo=timezone(timedelta(hours=1)))
    assert sweep_instant(paris, timedelta(minutes=20)) == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _stored(store: MemoryStore, customer: str, due_at: datetime | None) -> None:
    store.apply_to_profile(customer, lambda p: setattr(p, "due_at", due_at) or True)


def test_the_memory_index_follows_every_write_as_the_sparse_gsi_does():
    # Given customers whose due instants are set, moved, moved back, and cleared
    store = MemoryStore()
    shard = int(due_shard("ada"))
    _stored(store, "ada", NOW - timedelta(hours=2))
    _stored(store, "ada", NOW - timedelta(hours=1))
    _stored(store, "ada", NOW - timedelta(hours=2))
    _stored(store, "gone", NOW - timedelta(hours=3))
    _stored(store, "gone", None)
    # Then the shard lists each customer once, at its latest instant, and not one whose instant was cleared
    assert store.due_customers(shard, NOW, 10) == [("ada", NOW - timedelta(hours=2))]
    assert all(store.due_customers(s, NOW, 10) == [] for s in range(DUE_SHARDS) if s != shard)
    assert "due_shard" not in store.profiles["gone"]
    # And reading the index leaves it as it was
    assert store.due_customers(shard, NOW, 10) == [("ada", NOW - timedelta(hours=2))]


def test_the_memory_index_reads_the_earliest_first_up_to_the_limit_and_stops_at_now():
    store = MemoryStore()
    same_shard = [c for c in (f"c{n}" for n in range(200)) if due_shard(c) == "3"][:4]
    for hours, customer in enumerate(same_shard):
        _stored(store, customer, NOW - timedelta(hours=hours))  # c... due now, 1 h ago, 2 h ago, 3 h ago
    _stored(store, "later", NOW + timedelta(minutes=1))
    assert [c for c, _ in store.due_customers(3, NOW, 3)] == same_shard[::-1][:3]
    assert len(store.due_customers(3, NOW - timedelta(hours=1), 10)) == 3


def test_a_postponement_moves_only_the_entry_and_only_if_it_is_as_read():
    # Given a customer due an hour ago, as the sweep read it
    store = MemoryStore()
    due_at = NOW - timedelta(hours=1)
    _stored(store, "ada", due_at)
    before = store.profiles["ada"]
    # When the sweep postpones it a day, and a stale sweep tries again with what it read before
    assert store.postpone_due("ada", due_at, NOW + timedelta(days=1))
    assert not store.postpone_due("ada", due_at, NOW + timedelta(days=2))
    # Then only the entry moved: body and version are as written, so no writer's version check notices
    after = store.profiles["ada"]
    assert after["due_at"] == {"S": due_at_value(NOW + timedelta(days=1))}
    assert {k: v for k, v in after.items() if k != "due_at"} == {
        k: v for k, v in before.items() if k != "due_at"
    }
    assert store.due_customers(int(due_shard("ada")), NOW, 10) == []
    # And the next profile write puts the entry back to what the body says
    store.apply_to_profile("ada", lambda p: setattr(p, "email", "ada@example.com") or True)
    assert store.profiles["ada"]["due_at"] == {"S": due_at_value(due_at)}


def test_a_profile_with_nothing_due_is_stored_without_the_index_attributes():
    item = profile_item(Profile(customer_id="ada"))
    assert set(item) == {"customer_id", "version", "body"}
    due = profile_item(Profile(customer_id="ada", due_at=NOW))
    assert due["due_shard"] == {"S": due_shard("ada")} and due["due_at"] == {
        "S": "2026-11-28T21:00:00.000000Z"
    }


def test_a_run_stopped_at_its_bound_is_continued_by_the_next_without_queueing_anyone_twice():
    # Given 40 customers due, and runs bounded to 16 customers (one per shard)
    store, queue = MemoryStore(), MemoryQueue(VirtualClock(start=NOW))
    for n in range(40):
        _stored(store, f"c{n}", NOW - timedelta(minutes=n))
    # When runs follow one another at the same instant until one is complete
    reports = [sweep_due(store=store, queue=queue, now=NOW, limit=16)]
    while reports[-1].incomplete:
        reports.append(sweep_due(store=store, queue=queue, now=NOW, limit=16))
    # Then every customer got exactly one due event, and each was moved a day on
    customers = [json.loads(r.body)["message"]["userId"] for r in queue.waiting]
    assert sorted(customers) == sorted(f"c{n}" for n in range(40))
    assert sum(r.queued for r in reports) == sum(r.postponed for r in reports) == 40
    assert reports[0].incomplete and reports[0].queued <= 16
    assert all(store.due_customers(s, NOW + timedelta(hours=23), 100) == [] for s in range(DUE_SHARDS))
