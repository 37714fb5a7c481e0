"""The report's counters under faults: Lambda hands a stream batch over again after a crash, a timeout or a
reported failure, and DynamoDB may apply a transaction whose answer is lost. Each decision must still be
counted exactly once: the report a marketer reads equals the decisions made, never more, never less."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest

from righttime.adapters.dynamodb import decisions_from_item
from righttime.core.clock import VirtualClock
from righttime.core.report import Amount, add_up, ticks
from righttime.stages import report
from righttime.wiring.root import root
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.faults.conftest import Crash, Fault, Faults
from tests.functional.conftest import post

COUNTER_WRITE = "TransactWriteItems"


@pytest.fixture
def batches(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The stream batches the pipeline would hand the reports function, kept instead of delivered."""
    kept: list[dict[str, Any]] = []
    invoke = pipeline._invoke

    def capture(logical_id: str, event: dict[str, Any]) -> Any:
        if logical_id == "ReportsFunction":
            kept.append(event)
            return {"batchItemFailures": []}
        return invoke(logical_id, event)

    monkeypatch.setattr(pipeline, "_invoke", capture)
    # Small groups, so that one batch is added in several transactions
    monkeypatch.setattr(report, "ROWS_PER_GROUP", 2)
    return kept


def _decisions_for_many_campaigns(
    pipeline: Pipeline, clock: VirtualClock, batches: list[dict[str, Any]]
) -> dict[str, Any]:
    """Customers whose carts, orders and receipts decide several campaigns: one batch of their decisions."""
    for n in range(3):
        user = f"rep-{n}"
        post(pipeline, "/v1/identify", {"userId": user, "traits": {"email": f"{user}@example.com"}})
        post(
            pipeline,
            "/v1/track",
            {"userId": user, "event": "Product Added", "properties": {"product_id": "p"}},
        )
    pipeline.run_until_idle()
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()
    post(
        pipeline,
        "/v1/track",
        {"userId": "rep-0", "event": "Order Completed", "properties": {"order_id": "o", "revenue": 12.5}},
    )
    pipeline.run_until_idle()
    records = [record for batch in batches for record in batch["Records"]]
    assert len(records) >= 6
    return {"Records": records}


def _expected(batch: dict[str, Any]) -> dict[tuple[str, str], dict[str, Amount]]:
    decisions = [d for r in batch["Records"] for d in decisions_from_item(r["dynamodb"]["NewImage"])]
    return add_up(tick for decision in decisions for tick in ticks(decision))


def _counted(days: set[str]) -> dict[tuple[str, str], dict[str, Amount]]:
    counters = root().counters
    return {(day, campaign): row for day in days for campaign, row in counters.rows(day)}


def _after(calls: int) -> Callable[[AWSPreparedRequest], bool]:
    """Matches every request after the first `calls` ones."""
    seen = [0]

    def check(_request: AWSPreparedRequest) -> bool:
        seen[0] += 1
        return seen[0] > calls

    return check


def _invoke(pipeline: Pipeline, batch: dict[str, Any]) -> dict[str, Any]:
    handler = pipeline.handlers["ReportsFunction"]
    return handler(batch, LambdaContext(function_name="ReportsFunction", aws_request_id="r"))  # type: ignore[no-any-return]


def _from(batch: dict[str, Any], sequence: str) -> dict[str, Any]:
    """The batch Lambda hands over after a reported failure: from that record on."""
    records = batch["Records"]
    start = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == sequence)
    return {"Records": records[start:]}


def test_a_batch_handed_over_again_after_a_crash_is_not_counted_twice(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults, batches: list[dict[str, Any]]
):
    # Given a batch of decisions about several campaigns
    batch = _decisions_for_many_campaigns(pipeline, clock, batches)
    expected = _expected(batch)
    # When the function dies after its second group was added (a timeout), and Lambda hands the whole batch
    # over again
    faults.arm(Fault("dynamodb", COUNTER_WRITE, "crash-after", when=_after(1)))
    with pytest.raises(Crash):
        _invoke(pipeline, batch)
    assert _invoke(pipeline, batch) == {"batchItemFailures": []}
    # Then every counter equals the decisions made, once
    assert _counted({day for day, _ in expected}) == expected


def test_a_lost_answer_to_a_counter_write_is_not_counted_twice(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults, batches: list[dict[str, Any]]
):
    # Given a batch of decisions
    batch = _decisions_for_many_campaigns(pipeline, clock, batches)
    expected = _expected(batch)
    # When DynamoDB applies the first group's transaction but its answer is lost, and botocore retries it
    faults.arm(Fault("dynamodb", COUNTER_WRITE, "lose-response"))
    result = _invoke(pipeline, batch)
    # Then the retry finds the group added, and nothing is counted twice
    assert result == {"batchItemFailures": []}
    assert _counted({day for day, _ in expected}) == expected


def test_throttled_counters_hand_the_rest_of_the_batch_back_and_lose_nothing(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults, batches: list[dict[str, Any]]
):
    # Given a batch of decisions, and the reports table throttling from the second group on
    batch = _decisions_for_many_campaigns(pipeline, clock, batches)
    expected = _expected(batch)
    throttled = Fault(
        "dynamodb",
        COUNTER_WRITE,
        "error",
        code="ProvisionedThroughputExceededException",
        status=400,
        times=100,
        when=_after(1),
    )
    faults.arm(throttled)
    # When the function runs: the first group is added, the rest reported as failed from its first record
    first = _invoke(pipeline, batch)
    (failure,) = first["batchItemFailures"]
    # And Lambda hands the batch over again from that record, once the throttling is over
    throttled.times = throttled.fired
    second = _invoke(pipeline, _from(batch, failure["itemIdentifier"]))
    # Then everything is counted, once
    assert second == {"batchItemFailures": []}
    assert _counted({day for day, _ in expected}) == expected
