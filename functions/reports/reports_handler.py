"""Reports: follows the messages table's stream and adds every new decision to its campaign's counters for
the day, exactly once (docs/reporting.md). Publishes the funnel per campaign as CloudWatch metrics with a
`Campaign` dimension, for the dashboard, unless the stack's CampaignMetrics parameter is `false`.

Not Powertools' BatchProcessor: that counts record by record, and a transaction here adds a whole group of
records; a group that could not be added is reported as the batch's failure, from its first record on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from righttime.adapters.dynamodb import decisions_from_item
from righttime.stages import report
from righttime.stages.ports import CounterRow
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

# Built during INIT in Lambda, not in the first call: the client every invocation uses.
warm("counters")

#: the counters published per campaign, and their metric names
CAMPAIGN_METRICS = {
    "triggered": "Triggered",
    "sent": "Sent",
    "delivered": "Delivered",
    "opened": "Opened",
    "clicked": "Clicked",
    "converted": "Converted",
    "unsubscribed": "Unsubscribed",
    "complained": "Complained",
}


def stream_records(event: dict[str, Any]) -> list[report.StreamRecord]:
    """The decisions items of the batch (the event source's filter passes only their INSERTs)."""
    found = []
    for record in DynamoDBStreamEvent(event).records:
        change = record.dynamodb
        if change is None or change.sequence_number is None:
            continue
        image = record.raw_event["dynamodb"].get("NewImage")
        if record.event_name is None or record.event_name.name != "INSERT" or not image:
            continue
        if not image.get("sk", {}).get("S", "").startswith("DEC#"):
            continue
        found.append(report.StreamRecord(change.sequence_number, decisions_from_item(image)))
    return found


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parts = root()
    records = stream_records(event)
    counted = report.count(records, parts.counters, parts.clock.now())
    metrics.add_metric(name="ReportRowsAdded", unit=MetricUnit.Count, value=len(counted.added))
    if parts.campaign_metrics:
        publish(counted.added)
    if counted.failed_at is not None:
        logger.warning(
            "report counters unavailable; the batch is handed over again from this record",
            extra={"sequence_number": counted.failed_at, "error": counted.error},
        )
        return {"batchItemFailures": [{"itemIdentifier": counted.failed_at}]}
    return {"batchItemFailures": []}


def publish(added: dict[tuple[str, str], CounterRow]) -> None:
    """One EMF record per campaign: its counters' additions, with the `Campaign` dimension."""
    per_campaign: dict[str, dict[str, float]] = {}
    for (_day, campaign), row in added.items():
        figures = per_campaign.setdefault(campaign, {})
        for counter, name in CAMPAIGN_METRICS.items():
            if row.get(counter):
                figures[name] = figures.get(name, 0) + float(row[counter])
    for campaign, figures in sorted(per_campaign.items()):
        if not figures:
            continue
        emitter = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
        emitter.add_dimension(name="Campaign", value=campaign)
        for name, value in figures.items():
            emitter.add_metric(name=name, unit=MetricUnit.Count, value=value)
        emitter.flush_metrics()
