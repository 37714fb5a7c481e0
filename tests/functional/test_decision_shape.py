"""`righttime simulate` and the read API describe a decision the same way: a marketer reads one, an
integration parses the other, and neither should have to learn two shapes."""

from __future__ import annotations

import json
from typing import Any

from righttime.wiring.root import from_environment, install
from righttime_dev.local.pipeline import Pipeline
from righttime_dev.simulate import simulate
from tests.conftest import EVENTS, ROOT, TEMPLATE
from tests.functional.conftest import post

#: identifiers differ from run to run, so a simulation leaves them out; everything else is the same
IDS = {"message_id"}
TRIGGER_IDS = {"message_id"}


def _shape(decision: dict[str, Any]) -> dict[str, Any]:
    """The keys of a decision and of its trigger, ids set aside."""
    return {
        "keys": sorted(set(decision) - IDS),
        "trigger": sorted(set(decision["trigger"]) - TRIGGER_IDS),
    }


def test_simulate_prints_decisions_in_the_read_apis_shape_minus_ids(pipeline: Pipeline):
    # Given the cart journey decided through the deployed pipeline and read back through the read API
    install(from_environment({**pipeline.environment, "RIGHTTIME_ADMIN_KEYS": "k"}, clock=pipeline.clock))
    journey = EVENTS / "journeys" / "cart-abandonment.jsonl"
    for line in journey.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            status, _ = post(pipeline, "/v1/batch", {"batch": [json.loads(line)]})
            assert status == 200
            pipeline.run_until_idle()
    user = json.loads(journey.read_text().splitlines()[0])["userId"]
    status, _, body = pipeline.http(
        "GET", f"/v1/profiles/{user}/decisions", {"authorization": "Bearer k"}, b""
    )
    assert status == 200
    from_api = json.loads(body)["decisions"]

    # When the same journey is simulated
    simulated = [
        line
        for line in simulate(
            journey, template=TEMPLATE, campaigns=ROOT / "campaigns", templates=ROOT / "templates"
        ).lines
        if line["type"] == "decision"
    ]

    # Then every simulated decision has the read API's fields (trigger, time zone and its source
    # included), less the ids, plus the line type
    assert from_api and simulated
    api_shape = _shape(from_api[0])
    for line in simulated:
        assert _shape({k: v for k, v in line.items() if k != "type"}) == api_shape
    assert {"timezone_source", "trigger"} <= set(simulated[0])
    assert simulated[0]["trigger"] == {"event": from_api[0]["trigger"]["event"]}
