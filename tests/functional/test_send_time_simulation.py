"""Optimal send time in `righttime simulate`, on a generated engagement history (journeys.best_hour_journey):
sixty customers in zones from UTC-12 to UTC+14 open receipts mostly at a favourite hour, then unlock an offer
with `send_time: optimal`. Each offer goes at the hour an independent count of the journey's opens says, and
never in quiet hours or outside the window."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from righttime.core import calendar
from righttime.core.calendar import QuietHours, Window
from righttime.core.report import hours_row, recent_months
from righttime.core.send_time import (
    CUSTOMER_PERIOD,
    MIN_CUSTOMER_EVIDENCE,
    MIN_POPULATION_EVIDENCE,
    HourCounts,
)
from righttime_dev.journeys import OFFER_EVENT, JourneyError, best_hour_journey, write_journey
from righttime_dev.simulate import simulate
from tests.conftest import EVENTS, ROOT, TEMPLATE
from tests.unit.test_send_time_properties import _expected

CAMPAIGNS = EVENTS / "journeys" / "best-hour"
WINDOW = Window(start=time(9), end=time(20))
QUIET = QuietHours(start=time(21), end=time(8))


def _oracle(journey: list[tuple[datetime, dict[str, Any]]]) -> dict[str, tuple[datetime, str]]:
    """Where each customer's offer should go, and the fallback, counted from the journey file alone."""
    zones: dict[str, ZoneInfo] = {}
    opens: dict[str, list[datetime]] = defaultdict(list)
    offers: dict[str, datetime] = {}
    for at, line in journey:
        user = line["userId"]
        if line["type"] == "identify":
            zones[user] = ZoneInfo(line["traits"]["timezone"])
        elif line["type"] == "ses":
            opens[user].append(at)
        elif line.get("event") == OFFER_EVENT:
            offers[user] = at
    expected: dict[str, tuple[datetime, str]] = {}
    for user, offered in offers.items():
        tz = zones[user]
        own = [at for at in opens[user] if offered - CUSTOMER_PERIOD <= at <= offered]
        months = set(recent_months(offered))
        everyone = [
            at.astimezone(zones[other])
            for other, instants in opens.items()
            for at in instants
            if at <= offered and hours_row(at.date()) in months
        ]
        if len(own) >= MIN_CUSTOMER_EVIDENCE:
            hours, fallback = HourCounts.of(own, tz), "customer"
        elif len(everyone) >= MIN_POPULATION_EVIDENCE:
            counts = [0] * 24
            for local in everyone:
                counts[local.hour] += 1
            hours, fallback = HourCounts(tuple(counts)), "population"
        else:
            expected[user] = (offered, "none")
            continue
        expected[user] = (
            _expected(offered, offered + timedelta(hours=24), tz, WINDOW, QUIET, hours),
            fallback,
        )
    return expected


@pytest.mark.parametrize(("customers", "seed"), [(60, 7), (40, 11), (25, 23)])
def test_each_offer_goes_at_the_hour_the_generated_history_says(
    tmp_path: Path, customers: int, seed: int
) -> None:
    # Given a generated engagement history (60 customers, seed 7: events/journeys/best-hour/journey.jsonl);
    # with fewer, the population has too few opens (fewer than 240) and thin customers keep their time
    journey = best_hour_journey(customers, seed)
    path = write_journey(tmp_path / "best-hour.jsonl", journey)
    if (customers, seed) == (60, 7):
        assert path.read_text() == (CAMPAIGNS / "journey.jsonl").read_text()
    expected = _oracle(journey)
    assert "customer" in {fallback for _, fallback in expected.values()}

    # When it is simulated with the journey's campaigns
    lines = simulate(
        path,
        template=TEMPLATE,
        campaigns=CAMPAIGNS,
        templates=ROOT / "templates",
        until="2026-11-20T00:00:00Z",
    ).lines

    # Then every receipt was opened, and every offer went once, where the count of the journey's opens says
    assert sum(1 for d in lines if d["type"] == "decision" and d["outcome"] == "opened") == sum(
        1 for _, line in journey if line["type"] == "ses"
    )
    offers = [
        d
        for d in lines
        if d["type"] == "decision" and d["campaign"] == "evening_offer" and d["outcome"] == "scheduled"
    ]
    chosen: dict[str, datetime] = {}
    scheduled: dict[str, datetime] = {}
    for decision in offers:
        user, tz = decision["user_id"], ZoneInfo(decision["timezone"])
        (reason,) = [r for r in decision["reasons"] if r["code"] == "send_time_optimised"]
        chosen[user], scheduled[user] = (
            datetime.fromisoformat(reason["until"]),
            datetime.fromisoformat(decision["send_at"]),
        )
        at, fallback = expected[user]
        # And the decision says so: the hour on the customer's clock and the evidence it came from
        assert (reason["hour"], reason["fallback"]) == (at.astimezone(tz).hour, fallback)
        # And it goes then, or at its own offset within the release spread (5m) in the same hour
        assert timedelta(0) <= scheduled[user] - at < timedelta(minutes=5)
        assert scheduled[user].astimezone(tz).hour == at.astimezone(tz).hour
        # And no offer goes in quiet hours or outside its window
        assert calendar.allowed(scheduled[user], tz, WINDOW, QUIET)
    assert chosen == {user: at for user, (at, _) in expected.items()}
    # And each is sent then, or the minute after when it was due at once, as EventBridge Scheduler fires
    sent = [
        (s["user_id"], s["at"]) for s in lines if s["type"] == "sent" and s["campaign"] == "evening_offer"
    ]
    assert len(sent) == len(expected)
    for user, at in sent:
        assert timedelta(0) <= datetime.fromisoformat(at) - scheduled[user] <= timedelta(minutes=1)


def test_a_bad_ses_line_is_refused_naming_its_field(tmp_path: Path) -> None:
    # Given a journey whose SES line reports a fate that is not an open or a click
    line = json.dumps(
        {
            "type": "ses",
            "fate": "bounce",
            "userId": "a",
            "address": "a@example.com",
            "timestamp": "2026-11-01T10:00Z",
        }
    )
    (tmp_path / "bad.jsonl").write_text(line + "\n", encoding="utf-8")
    # Then simulate refuses it, naming the line and the field
    with pytest.raises(JourneyError, match=r"bad.jsonl:1: fate: 'bounce' is not one of"):
        simulate(tmp_path / "bad.jsonl", template=TEMPLATE, campaigns=CAMPAIGNS, templates=ROOT / "templates")
