"""The in-memory engine and the moto engine are the same righttime: every journey gives identical decisions
and sends on both. This keeps the fast engine (the default for `righttime simulate`) honest."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from righttime.core.clock import VirtualClock
from righttime.core.profiles import Profile
from righttime.stages.due import sweep_due
from righttime.wiring.root import root
from righttime_dev.journeys import journey_of_size, write_journey
from righttime_dev.simulate import _fire_until, engine, simulate
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


def _due_runs(engine_name: str) -> tuple[list[tuple[datetime, int]], dict[str, Profile]]:
    """Two customers due in the early morning of 1 March, followed to midnight on the named engine: each run
    of the due sweep (when, how many it queued), and the profiles it leaves."""
    clock = VirtualClock(start=datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    due = {"ada": datetime(2026, 3, 1, 8, 5, tzinfo=UTC), "grace": datetime(2026, 3, 1, 8, 20, tzinfo=UTC)}
    with engine(engine_name, TEMPLATE, ROOT / "campaigns", ROOT / "templates", clock) as (pipeline, _):
        for customer, at in due.items():
            root().store.apply_to_profile(customer, lambda p, at=at: setattr(p, "due_at", at) or True)
        runs: list[tuple[datetime, int]] = []
        sweep = pipeline.handlers["DueFunction"]

        def counted(event: dict[str, Any], context: Any) -> Any:
            result = sweep(event, context)
            runs.append((clock.now(), result["queued"]))
            return result

        pipeline.handlers["DueFunction"] = counted
        _fire_until(pipeline, clock, datetime(2026, 3, 2, tzinfo=UTC))
        return runs, {c: root().store.get_profile(c) for c in due}


def test_both_engines_run_the_due_sweep_at_the_same_instants_on_its_grid(isolated_env: None):
    # Given customers due at 08:05 and 08:20 UTC, and a due sweep every 15 minutes (the template's default)
    # When a day is simulated in memory and on moto
    memory, moto = _due_runs("memory"), _due_runs("moto")
    # Then both engines run the sweep at the same instants and queue the same events
    assert memory[0] == moto[0]
    # And the clock jumped straight to the runs that find someone due, on the grid: 08:15 finds Ada, 08:30
    # finds Grace; the runs that would find nobody were never visited
    runs = [(at.strftime("%H:%M"), queued) for at, queued in memory[0]]
    assert runs[:2] == [("08:15", 1), ("08:30", runs[1][1])] and runs[1][1] >= 1
    assert len(runs) < 10, "the simulation visited runs that found nobody due"
    # And each customer's due event was evaluated, on both engines
    for customer, at in (("ada", "2026-03-01T08:05:00+00:00"), ("grace", "2026-03-01T08:20:00+00:00")):
        for profiles in (memory[1], moto[1]):
            assert profiles[customer].has_processed(f"righttime-due-{at}")


def _burst(engine_name: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[datetime, int]]:
    """40 customers due at once, and runs of the due sweep bounded to 16: the runs each engine makes."""
    clock = VirtualClock(start=datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    with engine(engine_name, TEMPLATE, ROOT / "campaigns", ROOT / "templates", clock) as (pipeline, _):
        for n in range(40):
            root().store.apply_to_profile(f"c{n}", lambda p: setattr(p, "due_at", clock.now()) or True)
        handler_module = sys.modules["righttime_fn_DueFunction"]
        monkeypatch.setattr(handler_module, "sweep_due", partial(sweep_due, limit=16))
        runs: list[tuple[datetime, int]] = []
        sweep = pipeline.handlers["DueFunction"]

        def counted(event: dict[str, Any], context: Any) -> Any:
            result = sweep(event, context)
            runs.append((clock.now(), result["queued"]))
            return result

        pipeline.handlers["DueFunction"] = counted
        _fire_until(pipeline, clock, datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
        return runs


def test_a_burst_larger_than_a_runs_bound_is_queued_at_its_mark_on_both_engines(
    isolated_env: None, monkeypatch: pytest.MonkeyPatch
):
    # Given 40 customers due at midnight and a due sweep that queues at most 16 a run
    # When the hour is simulated in memory and on moto
    memory, moto = _burst("memory", monkeypatch), _burst("moto", monkeypatch)
    # Then the bound is made up at the same mark (as an operator would), so a simulation's output never
    # depends on how its customers are sharded: all 40 are queued at midnight, on both engines alike
    assert memory == moto
    assert {at for at, _ in memory} == {datetime(2026, 3, 1, 0, 0, tzinfo=UTC)}
    assert sum(queued for _, queued in memory) == 40 and len(memory) >= 3
