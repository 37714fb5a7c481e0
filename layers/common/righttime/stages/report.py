"""The report's use cases: counting the decisions the messages table's stream brings, exactly once, and
reading the report of a period back from the counters (docs/reporting.md).

Counting exactly once. A stream batch is counted in groups: consecutive records whose counter rows fit one
DynamoDB transaction. A group's rows are added in the same transaction as a marker named after the group's
first record, which holds the position of its last. Lambda hands a shard's records over in order and, after a
failure, again from a group's first record: the batch's start (a crash, a timeout) or the group reported as
failed. Grouping from the same record gives the same groups, so a group added before finds its marker, and
its records up to the marker's last are skipped. A record whose rows alone exceed a transaction is added in
parts, one marker each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from righttime.core.decisions import Decision
from righttime.core.report import Report, add_up, build_report, days, engagement_hour_ticks, ticks
from righttime.stages.ports import CounterRow, Counters, CountersUnavailable

#: rows one transaction adds: DynamoDB's 100 actions, less the marker
ROWS_PER_GROUP = 99


@dataclass(frozen=True)
class StreamRecord:
    """A decisions item the stream brought: its position in the shard (the sequence number) and its
    decisions."""

    sequence: str
    decisions: Sequence[Decision]


@dataclass
class Counted:
    """What counting a batch did: the rows it added (not those added before), and where it stopped."""

    added: dict[tuple[str, str], CounterRow] = field(default_factory=dict)
    #: the sequence number of the first record not counted, to be handed over again; None when all were
    failed_at: str | None = None
    error: str | None = None


def count(records: Sequence[StreamRecord], counters: Counters, now: datetime) -> Counted:
    """Add the decisions of `records` (one shard's, in order) to the counters, each exactly once."""
    counted = Counted()
    start = 0
    while start < len(records):
        end, rows = _group(records, start)
        try:
            if end == start + 1 and len(rows) > ROWS_PER_GROUP:
                _add_in_parts(records[start], rows, counters, now, counted)
                start = end
                continue
            first, last = records[start].sequence, records[end - 1].sequence
            if counters.add(first, last, rows, now):
                _merge(counted.added, rows)
                start = end
            else:
                start = _after(records, start, counters.added_through(first))
        except CountersUnavailable as exc:
            counted.failed_at, counted.error = records[start].sequence, str(exc)
            return counted
    return counted


def _group(records: Sequence[StreamRecord], start: int) -> tuple[int, dict[tuple[str, str], CounterRow]]:
    """The end of the group starting at `start`, and its rows: as many records as fit one transaction, and
    at least one."""
    rows: dict[tuple[str, str], CounterRow] = {}
    end = start
    while end < len(records):
        own = _rows_of(records[end].decisions)
        if end > start and len(rows.keys() | own.keys()) > ROWS_PER_GROUP:
            break
        _merge(rows, own)
        end += 1
        if len(rows) > ROWS_PER_GROUP:
            break
    return end, rows


def _add_in_parts(
    record: StreamRecord,
    rows: dict[tuple[str, str], CounterRow],
    counters: Counters,
    now: datetime,
    counted: Counted,
) -> None:
    keys = sorted(rows)
    for part, at in enumerate(range(0, len(keys), ROWS_PER_GROUP)):
        chunk = {key: rows[key] for key in keys[at : at + ROWS_PER_GROUP]}
        if counters.add(f"{record.sequence}.{part}", record.sequence, chunk, now):
            _merge(counted.added, chunk)


def _after(records: Sequence[StreamRecord], start: int, through: str | None) -> int:
    """The first record after the marker's last, counting from `start` (whose group the marker is)."""
    if through is None:  # the marker was there a moment ago: it cannot be gone before it expires
        raise CountersUnavailable(f"the marker of batch {records[start].sequence} could not be read back")
    end = start + 1
    while end < len(records) and int(records[end].sequence) <= int(through):
        end += 1
    return end


def _rows_of(decisions: Iterable[Decision]) -> dict[tuple[str, str], CounterRow]:
    return add_up(
        tick for decision in decisions for tick in [*ticks(decision), *engagement_hour_ticks(decision)]
    )


def _merge(into: dict[tuple[str, str], CounterRow], rows: dict[tuple[str, str], CounterRow]) -> None:
    for key, counters in rows.items():
        row = into.setdefault(key, {})
        for name, amount in counters.items():
            row[name] = row.get(name, 0) + amount


def campaign_report(
    counters: Counters, first: date, last: date, now: datetime, programs: Iterable[str] = ()
) -> Report:
    """The report of [first, last] (UTC days), from one read of each day's counters. Raises ValueError for a
    period the report refuses, CountersUnavailable when the counters can't be read."""
    period = days(first, last)
    rows = [(day, campaign, counters_) for day in period for campaign, counters_ in counters.rows(day)]
    return build_report(rows, first, last, now, programs)
