"""The population's engagement hours: every first open and first click is counted once by local hour in its
UTC month's row of the reports table, and evaluate reads them back at most once per 15 minutes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tests.unit.test_report import MemoryCounters

from righttime.core.clock import VirtualClock
from righttime.core.decisions import Decision, Outcome, Reason
from righttime.core.report import POPULATION, Tick, engagement_hour_ticks, hour_counts, recent_months
from righttime.core.send_time import HourCounts
from righttime.stages import report
from righttime.stages.feedback import PlannedZone
from righttime.stages.ports import CountersUnavailable
from righttime.stages.send_time import REFRESH, RETRY, PopulationHours

# 17:30 UTC is 18:30 in Paris in March
OPENED_AT = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)


def feedback(outcome: Outcome, zone: str | None, at: datetime = OPENED_AT) -> Decision:
    reason = Reason.opened() if outcome is Outcome.OPENED else Reason.clicked("https://shop.example/p")
    return Decision.made(
        outcome,
        [reason],
        customer_id="c1",
        campaign_id="browse",
        at=at,
        zone=PlannedZone(zone) if zone else None,
        message_id="m1",
    )


def test_an_open_counts_in_its_local_hour_of_its_utc_month() -> None:
    # Given an open at 18:30 on the clock of a customer whose message was planned in Paris
    decision = feedback(Outcome.OPENED, "Europe/Paris")
    # Then it adds one to h18 of March's population row
    assert decision.timezone == "Europe/Paris"
    assert decision.timezone_source == "planned"
    assert engagement_hour_ticks(decision) == [Tick("hours#2026-03", POPULATION, "h18")]


def test_only_opens_and_clicks_in_a_known_zone_count() -> None:
    assert engagement_hour_ticks(feedback(Outcome.CLICKED, "America/New_York")) == [
        Tick("hours#2026-03", POPULATION, "h12")
    ]
    assert engagement_hour_ticks(feedback(Outcome.OPENED, None)) == []  # planned before messages kept zones
    assert engagement_hour_ticks(feedback(Outcome.OPENED, "Mars/Olympus")) == []
    sent = Decision.made(
        Outcome.SENT,
        [Reason.delivered_to_ses("s")],
        customer_id="c",
        campaign_id="x",
        at=OPENED_AT,
        zone=None,
    )
    assert engagement_hour_ticks(sent) == []


def test_the_reports_stage_adds_the_hours_with_the_campaign_counters_exactly_once() -> None:
    # Given a stream batch with two opens and a click, in two zones
    records = [
        report.StreamRecord("100", [feedback(Outcome.OPENED, "Europe/Paris")]),
        report.StreamRecord("101", [feedback(Outcome.CLICKED, "Europe/Paris")]),
        report.StreamRecord("102", [feedback(Outcome.OPENED, "Asia/Tokyo")]),
    ]
    counters = MemoryCounters()
    # When it is counted, then handed over again
    report.count(records, counters, OPENED_AT)
    report.count(records, counters, OPENED_AT)
    # Then the month's population row holds each once, by local hour, beside the campaign's own counters
    row = counters.rows_[("hours#2026-03", POPULATION)]
    assert row == {"h18": 2, "h02": 1}
    assert counters.rows_[("2026-03-02", "browse")] == {"opened": 2, "clicked": 1}
    hours = hour_counts([row])
    assert hours.counts[18] == 2 and hours.counts[2] == 1 and hours.total == 3


def test_the_months_read_are_this_one_and_the_two_before() -> None:
    assert recent_months(datetime(2026, 2, 10, tzinfo=UTC)) == [
        "hours#2026-02",
        "hours#2026-01",
        "hours#2025-12",
    ]


class Source:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.failing = False

    def population_hours(self, months: Sequence[str]) -> HourCounts:
        self.asked.append(list(months))
        if self.failing:
            raise CountersUnavailable("throttled")
        counts = [0] * 24
        counts[len(self.asked) % 24] = 100
        return HourCounts(tuple(counts))


def test_the_hours_are_read_at_most_once_per_refresh() -> None:
    # Given the cache on a virtual clock
    clock = VirtualClock(OPENED_AT)
    source = Source()
    hours = PopulationHours(source, clock)
    # When asked many times within 15 minutes
    first = hours()
    for _ in range(100):
        clock.advance(timedelta(seconds=5))
        assert hours() == first
    # Then the reports table was read once, for the last three months
    assert source.asked == [["hours#2026-03", "hours#2026-02", "hours#2026-01"]]
    # And once the 15 minutes are up, it is read again
    clock.set(OPENED_AT + REFRESH)
    assert hours() != first
    assert len(source.asked) == 2


def test_a_failed_read_keeps_the_hours_read_before_and_tries_again_a_minute_later() -> None:
    clock = VirtualClock(OPENED_AT)
    source = Source()
    hours = PopulationHours(source, clock)
    first = hours()
    # Given the table throttles when the hours are due again
    source.failing = True
    clock.advance(REFRESH)
    # When asked, the hours read before are used, and the error is kept for the handler to log
    assert hours() == first
    assert hours.error == "throttled"
    assert hours() == first and len(source.asked) == 2  # not again before RETRY
    # Then a minute later it reads again, and recovers
    source.failing = False
    clock.advance(RETRY)
    assert hours() is not None and hours.error is None
    assert len(source.asked) == 3
