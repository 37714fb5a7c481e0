"""Optimal send time is the same righttime on both engines: on the generated engagement history, the
in-memory engine (its population hours kept in memory) and the moto engine (kept in the reports table by the
reports function) decide and send the same."""

from __future__ import annotations

from typing import Any

from righttime_dev.simulate import simulate
from tests.conftest import EVENTS, ROOT, TEMPLATE
from tests.contract.test_engines_agree import _first_difference

BEST_HOUR = EVENTS / "journeys" / "best-hour"


def _run(engine: str) -> list[dict[str, Any]]:
    return simulate(
        BEST_HOUR / "journey.jsonl",
        template=TEMPLATE,
        campaigns=BEST_HOUR,
        templates=ROOT / "templates",
        engine_name=engine,
        until="2026-11-20T00:00:00Z",
    ).lines


def test_both_engines_choose_the_same_hours_on_an_engagement_history(isolated_env: None) -> None:
    # Given sixty readers' opens, then an offer with send_time: optimal for each
    # When the journey is simulated in memory and on moto
    memory, moto = _run("memory"), _run("moto")
    # Then every decision, with its send_time_optimised reason, and every send are the same
    assert memory == moto, _first_difference(memory, moto)
    fallbacks = {
        reason["fallback"]
        for line in memory
        if line["type"] == "decision"
        for reason in line["reasons"]
        if reason["code"] == "send_time_optimised"
    }
    assert fallbacks == {"customer", "population"}
