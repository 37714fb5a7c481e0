"""What each decision adds to the report, how the report adds up, and when it can say the messages made a
difference (docs/reporting.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from righttime.core.decisions import Decision, Outcome, Reason
from righttime.core.report import build_report, currency_of, days, lift, ticks
from righttime.stages import report
from righttime.stages.ports import CounterRow, CountersUnavailable

AT = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)


def _decision(outcome: Outcome, *reasons: Reason, campaign: str = "cart", at: datetime = AT) -> Decision:
    return Decision.made(outcome, list(reasons), customer_id="c", campaign_id=campaign, at=at, zone=None)


def _counted(decision: Decision) -> dict[str, object]:
    return {tick.name: tick.amount for tick in ticks(decision)}


def test_a_trigger_counts_once_and_a_repeated_trigger_is_a_reschedule_not_a_new_message():
    from datetime import timedelta

    first = _decision(Outcome.SCHEDULED, Reason.triggered("Product Added", timedelta(hours=1)))
    again = _decision(Outcome.SCHEDULED, Reason.trigger_repeated("Product Added", AT))
    assert _counted(first) == {"triggered": 1, "scheduled": 1}
    assert _counted(again) == {"rescheduled": 1}


def test_a_suppression_counts_by_its_reasons_but_not_by_what_triggered_it():
    from datetime import timedelta

    decision = _decision(
        Outcome.SUPPRESSED, Reason.triggered("Product Added", timedelta(hours=1)), Reason.unsubscribed()
    )
    assert _counted(decision) == {"triggered": 1, "suppressed": 1, "suppressed:unsubscribed": 1}


def test_an_order_credited_and_refunded_moves_conversions_and_revenue_in_its_currency():
    credited = _decision(
        Outcome.ATTRIBUTED, Reason.order_credited("o-1", Decimal("49.90"), "eur", "sent", AT, "m")
    )
    refunded = _decision(Outcome.ATTRIBUTED, Reason.credit_refunded("o-1", Decimal("-49.90"), "EUR", False))
    held_out = _decision(
        Outcome.ATTRIBUTED, Reason.order_credited("o-2", Decimal(10), None, "held_out", AT, None)
    )
    assert _counted(credited) == {"converted": 1, "revenue:EUR": Decimal("49.90")}
    assert _counted(refunded) == {"refunded": 1, "revenue:EUR": Decimal("-49.90")}
    assert _counted(held_out) == {"held_out_converted": 1, "held_out_revenue:XXX": Decimal(10)}


def test_a_decision_counts_on_its_utc_day():
    late = _decision(
        Outcome.SENT, Reason.delivered_to_ses("ses-1"), at=datetime(2026, 11, 28, 23, 59, tzinfo=UTC)
    )
    (tick,) = ticks(late)
    assert (tick.day, tick.name) == ("2026-11-28", "sent")


@pytest.mark.parametrize(
    ("given", "kept"), [("usd", "USD"), (" EUR ", "EUR"), (None, "XXX"), ("euros", "XXX"), ("€", "XXX")]
)
def test_a_currency_is_three_letters_or_none(given: object, kept: str):
    assert currency_of(given) == kept


def test_the_report_lists_steps_under_their_program_and_adds_them_up():
    rows: list[tuple[str, str, CounterRow]] = [
        ("2026-11-01", "win_back", {"entered": 3, "held_out": 1}),
        (
            "2026-11-01",
            "win_back--v1--we_miss_you",
            {"sent": 3, "converted": 1, "revenue:USD": Decimal("20")},
        ),
        ("2026-11-02", "win_back--v2--we_miss_you", {"sent": 2}),
        ("2026-11-02", "cart", {"sent": 5, "suppressed": 2, "suppressed:frequency_cap": 2}),
        ("2026-12-01", "cart", {"sent": 100}),  # outside the period
    ]
    found = build_report(rows, date(2026, 11, 1), date(2026, 11, 30), AT)
    assert [line.id for line in found.campaigns] == ["cart", "win_back"]
    cart, program = found.campaigns
    assert (cart.kind, cart.counts["sent"], cart.suppressed_by_reason) == (
        "campaign",
        5,
        {"frequency_cap": 2},
    )
    assert program.kind == "program" and [s.id for s in program.steps] == [
        "win_back--v1--we_miss_you",
        "win_back--v2--we_miss_you",
    ]
    assert (program.counts["entered"], program.counts["sent"], program.revenue) == (3, 5, {"USD": "20.00"})
    assert found.totals.counts["sent"] == 10
    assert found.document()["from"] == "2026-11-01"


def test_a_deployed_program_with_only_a_holdout_is_still_a_program():
    found = build_report(
        [("2026-11-01", "birthday", {"held_out": 1})], date(2026, 11, 1), date(2026, 11, 1), AT, {"birthday"}
    )
    assert found.campaigns[0].kind == "program"


@pytest.mark.parametrize(
    ("figures", "conclusion"),
    [
        ((100, 10, 0, 0), "no_holdout"),
        ((100, 10, 20, 1), "too_small"),  # a holdout with one conversion says nothing yet
        ((29, 10, 100, 10), "too_small"),
        ((2000, 300, 2000, 150), "higher"),
        ((2000, 150, 2000, 300), "lower"),
        ((2000, 200, 2000, 190), "no_difference"),
    ],
)
def test_lift_says_plainly_what_the_sample_can_and_cannot_show(
    figures: tuple[int, int, int, int], conclusion: str
):
    found = lift(*figures)
    assert found.conclusion == conclusion
    if conclusion == "too_small":
        assert found.summary.startswith("Sample too small to conclude") and found.ci95 is None
    if conclusion in ("higher", "lower", "no_difference"):
        assert found.ci95 is not None and found.difference is not None
        low, high = found.ci95
        assert low < found.difference < high
        assert (low > 0) == (conclusion == "higher") and (high < 0) == (conclusion == "lower")


def test_the_interval_is_the_textbook_one():
    # 15 % of 2,000 against 7.5 % of 2,000: a difference of 7.5 points, with a standard error of
    # sqrt(.15 * .85 / 2000 + .075 * .925 / 2000) = 0.00992
    found = lift(2000, 300, 2000, 150)
    assert found.ci95 is not None
    assert found.ci95[0] == pytest.approx(0.075 - 1.959964 * 0.0099216, abs=1e-5)
    assert found.ci95[1] == pytest.approx(0.075 + 1.959964 * 0.0099216, abs=1e-5)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [(date(2026, 11, 2), date(2026, 11, 1), "before"), (date(2025, 1, 1), date(2026, 11, 1), "at most 400")],
)
def test_a_period_the_report_cannot_cover_is_refused_with_the_reason(first: date, last: date, message: str):
    with pytest.raises(ValueError, match=message):
        days(first, last)


# -- counting a stream batch, exactly once -------------------------------------------------------------------


class MemoryCounters:
    """The Counters port in memory, failing the adds it is told to."""

    def __init__(self, fail_from: int | None = None) -> None:
        self.rows_: dict[tuple[str, str], CounterRow] = {}
        self.markers: dict[str, str] = {}
        self.adds = 0
        self.fail_from = fail_from

    def add(self, batch: str, through: str, rows: dict[tuple[str, str], CounterRow], now: datetime) -> bool:
        self.adds += 1
        if self.fail_from is not None and self.adds >= self.fail_from:
            raise CountersUnavailable("throttled")
        if batch in self.markers:
            return False
        self.markers[batch] = through
        for key, row in rows.items():
            into = self.rows_.setdefault(key, {})
            for name, amount in row.items():
                into[name] = into.get(name, 0) + amount
        return True

    def added_through(self, batch: str) -> str | None:
        return self.markers.get(batch)

    def rows(self, day: str) -> Iterator[tuple[str, CounterRow]]:
        return iter([(campaign, row) for (d, campaign), row in self.rows_.items() if d == day])


def _records(campaigns_per_record: list[int]) -> list[report.StreamRecord]:
    found, n = [], 0
    for sequence, count in enumerate(campaigns_per_record, start=100):
        decisions = []
        for _ in range(count):
            decisions.append(_decision(Outcome.SENT, Reason.delivered_to_ses("ses-1"), campaign=f"c{n}"))
            n += 1
        found.append(report.StreamRecord(str(sequence), decisions))
    return found


def test_a_record_with_more_campaigns_than_a_transaction_holds_is_added_in_parts_once():
    # Given one decisions item about 250 campaigns (more than one transaction's 99 rows)
    records = _records([250])
    counters = MemoryCounters()
    # When it is counted, and handed over again
    report.count(records, counters, AT)
    again = report.count(records, counters, AT)
    # Then each campaign is counted once, in three parts
    assert len(counters.rows_) == 250 and all(row == {"sent": 1} for row in counters.rows_.values())
    assert again.added == {} and len(counters.markers) == 3


def test_a_failed_group_is_handed_back_from_its_first_record_and_nothing_is_counted_twice():
    # Given records in three groups of 99 rows at most, and counters that fail from the second add on
    records = _records([60, 30, 50, 40, 70])
    counters = MemoryCounters(fail_from=2)
    # When the batch is counted
    counted = report.count(records, counters, AT)
    # Then the first group is added and the batch is handed back from the first record of the next
    assert counted.failed_at == "102" and counted.error == "throttled"
    # And when the whole batch comes back (a crash before the response), then its rest: all counted once
    counters.fail_from = None
    report.count(records, counters, AT)
    report.count(records[2:], counters, AT)
    assert len(counters.rows_) == 250 and all(row == {"sent": 1} for row in counters.rows_.values())
