"""The date index (pure): where a profile's `due_at` is kept so the due sweep can find it without a Scan.

A profile with something time-based due (`Profile.due_at`) carries two top-level attributes besides its
body, which a sparse global secondary index is built on (docs/data-model.md): `due_shard`, a fixed shard of
the customer id, and `due_at`, the instant as a fixed-width UTC string (`due_at_value`), so that strings
sort as the instants they name. A profile with nothing due carries neither and is not in the index.

Every few minutes the due sweep reads, shard by shard, the entries due by then, queues a `due_event` for
each customer, and moves the entry `DUE_RETRY` later: the evaluation of the event writes the profile's next
`due_at` (which replaces the postponed one), and a customer whose event was lost is looked at again a day
later rather than at every run.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from righttime.core.clock import utc

#: shards of the date index: its writes spread over this many partitions, and a sweep queries each one
DUE_SHARDS = 16
#: how long the sweep moves an entry on after queueing its event: the retry period of a lost due event
DUE_RETRY = timedelta(days=1)
#: the stored form of `due_at`: UTC ISO 8601 with microseconds and a trailing Z, always 27 characters, so the
#: index's string order is the order of the instants
DUE_AT_EXAMPLE = "2026-11-28T21:00:00.000000Z"


def due_shard(customer_id: str) -> str:
    """The customer's shard of the date index: stable (sha256, never Python's salted hash), so every write
    of a profile lands in one shard."""
    digest = hashlib.sha256(customer_id.encode("utf-8", "surrogatepass")).hexdigest()
    return str(int(digest[:8], 16) % DUE_SHARDS)


def due_at_value(instant: datetime) -> str:
    """`instant` as the date index stores it (like `DUE_AT_EXAMPLE`; isoformat pads the year to 4 digits)."""
    return utc(instant).isoformat(timespec="microseconds").replace("+00:00", "Z")


def due_at_from_value(value: str) -> datetime:
    """The instant a stored `due_at` names."""
    return datetime.fromisoformat(value).astimezone(UTC)


def sweep_instant(due_at: datetime, every: timedelta) -> datetime:
    """The first run of a sweep that runs every `every`, aligned to the hour (a divisor of an hour), at
    which an entry due at `due_at` is found: `due_at` rounded up to the sweep's grid."""
    step = int(every.total_seconds() * 1_000_000)
    since_epoch = utc(due_at) - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (since_epoch // timedelta(microseconds=1) + step - 1) // step * step
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
