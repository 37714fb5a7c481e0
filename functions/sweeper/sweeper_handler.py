"""Sweeper: invoked every few minutes by an EventBridge Scheduler schedule; recovers messages stuck in flight
and publishes the StuckMessages metric."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from righttime.stages.sweep import sweep_in_flight
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

# Built during INIT in Lambda, not in the first call: the clients and content every invocation uses.
warm("store", "content.campaigns_by_id", "content.policy", "recovery")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parts = root()
    report = sweep_in_flight(
        store=parts.store,
        campaign_of=parts.content.campaigns_by_id,
        policy=parts.content.policy,
        now=parts.clock.now(),
        timings=parts.recovery,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    # Published on every run, zeros included, so the alarm sees a steady series.
    metrics.add_metric(name="StuckMessages", unit=MetricUnit.Count, value=report.stuck)
    for action, count in sorted(report.actions.items()):
        metrics.add_metric(name=f"Sweep_{action}", unit=MetricUnit.Count, value=count)
    for decision in report.decisions:
        logger.info(
            "recovered",
            extra={
                "message_id": decision.message_id,
                "outcome": decision.outcome.value,
                "reasons": decision.reason_codes,
            },
        )
    summary = {
        "looked_at": report.looked_at,
        "stuck": report.stuck,
        "actions": dict(sorted(report.actions.items())),
        "incomplete": report.incomplete,
    }
    logger.info("sweep", extra=summary)
    return summary
