"""Due sweep: invoked every few minutes by an EventBridge Scheduler schedule; queues a due event for every
customer the date index says is due, and publishes the DueCustomers metric."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from righttime.stages.due import run_instant, sweep_due
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

# Built during INIT in Lambda, not in the first call: the clients every invocation uses.
warm("store", "queue")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parts = root()
    report = sweep_due(
        store=parts.store,
        queue=parts.queue,
        now=run_instant(event.get("scheduled_at"), parts.clock.now()),
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    # Published on every run, zeros included: DueSweepAlarm reads no data as a sweep that stopped running.
    metrics.add_metric(name="DueCustomers", unit=MetricUnit.Count, value=report.queued)
    metrics.add_metric(name="DueSweepIncomplete", unit=MetricUnit.Count, value=int(report.incomplete))
    summary = {
        "queued": report.queued,
        "postponed": report.postponed,
        "moved_on": report.moved_on,
        "incomplete": report.incomplete,
    }
    logger.info("due sweep", extra=summary)
    if report.incomplete:
        logger.warning("due sweep stopped at its bound or its time; the next run goes on", extra=summary)
    return summary
