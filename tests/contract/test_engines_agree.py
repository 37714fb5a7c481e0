"""The in-memory engine and the moto engine are the same righttime: every journey gives identical decisions
and sends on both. This keeps the fast engine (the default for `righttime simulate`) honest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from righttime_dev.journeys import journey_of_size, write_journey
from righttime_dev.simulate import simulate
from tests.conftest import EVENTS, ROOT, TEMPLATE

JOURNEYS = sorted((EVENTS / "journeys").glob("*.jsonl"))


def _run(journey: Path, engine: str) -> list[dict[str, Any]]:
    return simulate(
        journey,
        template=TEMPLATE,
        campaigns=ROOT / "campaigns",
        templates=ROOT / "templates",
        engine_name=engine,
    ).lines


def _first_difference(memory: list[dict[str, Any]], moto: list[dict[str, Any]]) -> str:
    for index, (a, b) in enumerate(zip(memory, moto, strict=False)):
        if a != b:
            return f"line {index}:\n  memory: {a}\n  moto:   {b}"
    return f"memory has {len(memory)} lines, moto {len(moto)}"


@pytest.mark.parametrize("journey", JOURNEYS, ids=[j.stem for j in JOURNEYS])
def test_both_engines_decide_and_send_the_same_for_every_journey(isolated_env: None, journey: Path):
    # Given a journey from events/journeys
    # When it is simulated in memory and on moto
    memory, moto = _run(journey, "memory"), _run(journey, "moto")
    # Then every decision line, every sent line and the summary are the same
    assert memory == moto, _first_difference(memory, moto)
    assert any(line["type"] == "decision" for line in memory)


def test_both_engines_agree_on_a_generated_two_thousand_event_journey(isolated_env: None, tmp_path: Path):
    # Given 2,000 events of generated shopping sessions (identify, browse, search, add to cart, buy)
    journey = write_journey(tmp_path / "generated.jsonl", journey_of_size(2_000))
    # When it is simulated in memory and on moto
    memory, moto = _run(journey, "memory"), _run(journey, "moto")
    # Then both engines produce the same decisions and sends, and there is something to compare
    assert memory == moto, _first_difference(memory, moto)
    summary = memory[-1]
    assert summary["events"] == 2_000
    assert summary["sent"] > 0 and len(summary["outcomes"]) >= 3
