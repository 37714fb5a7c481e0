"""The stories righttime was built for, as journeys run through `righttime simulate` (the real pipeline on
a virtual clock), asserted on its output."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from righttime_dev.journeys import JourneyError
from righttime_dev.simulate import simulate
from tests.conftest import EVENTS, ROOT, TEMPLATE

JOURNEYS = EVENTS / "journeys"


def _run(name: str) -> list[dict[str, Any]]:
    return simulate(
        JOURNEYS / name, template=TEMPLATE, campaigns=ROOT / "campaigns", templates=ROOT / "templates"
    ).lines


def _decisions(lines: list[dict[str, Any]], campaign: str) -> list[tuple[str, list[str]]]:
    return [
        (d["outcome"], [r["code"] for r in d["reasons"]])
        for d in lines
        if d["type"] == "decision" and d["campaign"] == campaign
    ]


def _sent(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["type"] == "sent"]


def test_the_suit_buyer_is_not_upsold_a_minute_later_but_gets_a_cross_sell_days_later():
    # Given a man who buys a suit at 10:00 in New York and looks at shoes a minute later
    lines = _run("suit-buyer.jsonl")
    # Then the shoe nudge never goes out: the purchase cooldown holds it past its send-by deadline
    assert _decisions(lines, "browse_abandonment") == [("expired", ["purchase_cooldown", "send_by_passed"])]
    # And only the order confirmation (transactional) goes out on the day of the purchase; the post-purchase
    # series follows with its cross-sell and its review request, and, with no order for 180 days, the win-back
    # program's two messages (a Tuesday 10:00 his time, then two weeks later)
    sent = _sent(lines)
    assert [(s["campaign"], s["at"][:10]) for s in sent] == [
        ("order_confirmation", "2026-11-17"),
        ("post_purchase_series--v1--cross_sell", "2026-11-20"),
        ("post_purchase_series--v1--review", "2026-11-27"),
        ("win_back--v1--we_miss_you", "2027-05-18"),
        ("win_back--v1--last_chance", "2027-06-01"),
    ]
    # And the cross-sell comes three days later at 10:00 his time, suggesting shoes, not another suit
    cross_sell = sent[1]
    assert cross_sell["at"] == "2026-11-20T15:00:00+00:00"
    assert cross_sell["subject"] == "Shoes to go with your order"


def test_the_light_fixture_buyer_gets_the_cross_sell_variant_not_the_same_promotion():
    # Given a woman who bought a light fixture in the store, then browses lamps online a week later
    lines = _run("light-fixture.jsonl")
    # Then the browse nudge is turned into its cross-sell variant, and says why (then SES delivers it)
    (scheduled, sent, delivered) = [
        d for d in lines if d["type"] == "decision" and d["campaign"] == "browse_abandonment"
    ]
    variant = next(r for r in scheduled["reasons"] if r["code"] == "cross_sell_variant")
    assert variant["category"] == "lighting" and variant["template"] == "browse_cross_sell"
    assert (sent["outcome"], delivered["outcome"]) == ("sent", "delivered")
    assert [s["subject"] for s in _sent(lines) if s["campaign"] == "browse_abandonment"] == [
        "Made to go with your lighting"
    ]
    # And an in-store purchase gets no e-mailed order confirmation
    assert not [s for s in _sent(lines) if s["campaign"] == "order_confirmation"]


def test_an_in_store_purchase_cancels_the_web_cart_reminder():
    lines = _run("in-store-purchase.jsonl")
    assert _decisions(lines, "cart_abandonment") == [
        ("scheduled", ["triggered"]),
        ("cancelled", ["converted"]),
    ]
    assert not [s for s in _sent(lines) if s["campaign"] == "cart_abandonment"]


def test_the_late_night_cart_abandoner_is_reminded_when_the_window_opens_in_her_zone():
    # Given a cart left at 23:40 in Los Angeles (07:40 UTC)
    lines = _run("late-night-cart.jsonl")
    (scheduled,) = [d for d in lines if d["type"] == "decision" and d["outcome"] == "scheduled"]
    # Then the reminder is planned for 08:00 Los Angeles time (16:00 UTC), with the zone and the rule, at her
    # own offset within the policy's 5-minute release spread (the zone's 08:00 reminders go over 5 minutes)
    assert scheduled["timezone"] == "America/Los_Angeles"
    window = next(r for r in scheduled["reasons"] if r["code"] == "outside_window")
    assert window["timezone"] == "America/Los_Angeles" and window["until"] == "2026-11-19T16:00:00+00:00"
    spread = next(r for r in scheduled["reasons"] if r["code"] == "release_spread")
    assert spread["spread"] == "5m" and 0 <= spread["offset_seconds"] < 300
    opening = datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    send_at = (opening + timedelta(seconds=spread["offset_seconds"])).isoformat()
    assert scheduled["send_at"] == send_at
    # And it is sent then, not at 00:40 her time
    assert [s["at"] for s in _sent(lines)] == [send_at]


def test_under_a_daily_cap_priority_decides_not_arrival_order():
    lines = _run("daily-cap-priority.jsonl")
    # The cart reminder (50) goes today; browse (20) tomorrow, outranked by the cart
    assert [(s["campaign"], s["at"][:10]) for s in _sent(lines)] == [
        ("cart_abandonment", "2026-11-18"),
        ("browse_abandonment", "2026-11-19"),
    ]
    # Search (10) was triggered before browse, yet browse took tomorrow; search is suppressed as outranked
    search = _decisions(lines, "search_abandonment")
    assert search[0] == ("scheduled", ["triggered", "outranked"])
    assert search[-1] == ("suppressed", ["outranked", "send_by_passed"])
    last = [d for d in lines if d["type"] == "decision" and d["campaign"] == "search_abandonment"][-1]
    assert last["reasons"][0]["by"] == ["browse_abandonment", "cart_abandonment"]


def test_simulate_prints_json_lines_and_is_deterministic():
    # Given the CLI, run twice on the same journey
    command = [
        sys.executable,
        "-m",
        "righttime_dev.cli",
        "simulate",
        str(JOURNEYS / "cart-abandonment.jsonl"),
        "--template",
        str(TEMPLATE),
        "--campaigns",
        str(ROOT / "campaigns"),
        "--templates",
        str(ROOT / "templates"),
    ]
    runs = [
        subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout for _ in range(2)
    ]
    # Then both print the same lines, each a JSON object of a documented type, ending with a summary of
    # each campaign and then of the run
    assert runs[0] == runs[1]
    lines = [json.loads(line) for line in runs[0].splitlines()]
    assert {line["type"] for line in lines} == {"decision", "sent", "campaign", "summary"}
    assert [line["campaign"] for line in lines if line["type"] == "campaign"] == ["cart_abandonment"]
    assert lines[-1] == {
        "type": "summary",
        "events": 3,
        "decisions": 4,
        "sent": 1,
        "outcomes": {"delivered": 1, "scheduled": 2, "sent": 1},
    }
    decision = lines[0]
    assert set(decision) >= {"type", "at", "user_id", "campaign", "outcome", "send_at", "reasons"}
    sent = next(line for line in lines if line["type"] == "sent")
    assert set(sent) == {"type", "at", "user_id", "campaign", "to", "subject"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"type": "track", "userId": "u", "event": "X"}', "line 1: timestamp: required"),
        ('{"type": "track", "userId": "u", "timestamp": "2026-01-01T00:00:00Z"}', "2: event: Field required"),
        ('{"type": "track", "userId": "u"', "1: not valid JSON"),
        ('{"type": "track", "userId": "u", "timestamp": "yesterday", "event": "A"}', "1: timestamp: "),
    ],
)
def test_a_bad_journey_line_fails_with_its_line_number_and_the_problem(
    tmp_path: Path, content: str, expected: str
):
    journey = tmp_path / "bad.jsonl"
    if expected.startswith("2: event"):
        content = '{"type": "identify", "userId": "u", "timestamp": "2026-01-01T00:00:00Z"}\n' + content
    journey.write_text(content)
    with pytest.raises(JourneyError) as failure:
        simulate(journey, template=TEMPLATE, campaigns=ROOT / "campaigns", templates=ROOT / "templates")
    assert expected.replace("line ", "") in str(failure.value).replace(f"{journey}:", "")
