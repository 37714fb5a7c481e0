"""A back-test as `make bench` runs it, at a size CI can afford: the realistic generated journey (out of
order, late arrivals, households) through `righttime simulate` on one process and on two, same output.
The full million-event run, and its time, are in `make bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.journey_generator import write

from tests.conftest import ROOT, TEMPLATE

EVENTS = 20_000


def _simulate(journey: Path, jobs: int) -> str:
    command = [
        sys.executable,
        "-m",
        "righttime_dev.cli",
        "simulate",
        str(journey),
        "--template",
        str(TEMPLATE),
        "--campaigns",
        str(ROOT / "campaigns"),
        "--templates",
        str(ROOT / "templates"),
        "--jobs",
        str(jobs),
    ]
    return subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout


def test_a_generated_twenty_thousand_event_history_gives_the_same_output_on_one_process_and_on_two(
    tmp_path: Path,
):
    # Given 20,000 events of the benchmark's journey: many customers and zones, a purchase mix, some lines
    # out of order and some arriving late
    journey = write(tmp_path / "journey.jsonl", EVENTS)
    lines = journey.read_text().splitlines()
    stamps = [json.loads(line)["timestamp"] for line in lines]
    assert stamps != sorted(stamps) and any('"receivedAt"' in line for line in lines)
    # When it is simulated on one process and on two
    one, two = _simulate(journey, 1), _simulate(journey, 2)
    # Then the output is the same, line for line, and it is a real run: every event in, messages sent
    assert two == one
    summary = json.loads(one.splitlines()[-1])
    assert summary["type"] == "summary" and summary["events"] == EVENTS
    assert summary["sent"] > 100 and {"scheduled", "sent", "cancelled"} <= set(summary["outcomes"])
