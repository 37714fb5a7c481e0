"""Evaluate: for each queued event, update the profile and decide every campaign (SQS FIFO batches)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from righttime.core.catalog import CatalogError, is_catalog_event
from righttime.core.events import QueuedEvent
from righttime.core.send_time import HourCounts
from righttime.stages.catalog import update_product
from righttime.stages.evaluate import evaluate
from righttime.stages.ports import TooManyWrites
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import Root, root, warm

# One failing customer must not hold back the others in the batch; its own later events wait behind it.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# Built during INIT in Lambda, not in the first call: the clients and content every invocation uses.
warm("store", "content.campaigns", "content.programs", "content.policy", "max_receive_count")


def record_handler(record: SQSRecord) -> None:
    try:
        event = QueuedEvent.model_validate_json(record.body)
    except ValidationError as exc:
        # A body that cannot be read never will be: dead-letter it now.
        _dead_letter(record, f"unreadable event: {_describe(exc)}", "ValidationError")
        return
    parts = root()
    if is_catalog_event(event):
        _update_product(record, event)
        return
    try:
        content = parts.content
        result = evaluate(
            event,
            parts.store,
            content.campaigns,
            content.policy,
            parts.clock.now(),
            content.programs,
            parts.catalog,
            population=lambda: _population(parts),
            watch=content.listens_to_catalog,
        )
    except TooManyWrites as exc:
        # The same event would fail the same way each time: dead-letter it now, with its reason.
        _dead_letter(record, _describe(exc), type(exc).__name__)
        return
    except Exception as exc:
        _retry_or_dead_letter(record, exc, "evaluation failed; SQS will deliver the event again")
        return
    if result.duplicate:
        logger.info("duplicate messageId ignored", extra={"message_id": event.message_id})
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
    if result.attempts > 1:
        logger.info("profile changed while evaluating; planned again", extra={"attempts": result.attempts})
    if not result.duplicate:
        metrics.add_metric(name="ProfileBytes", unit=MetricUnit.Bytes, value=result.profile_bytes)
    if result.dropped_traits:
        # Names only, never values: the profile's dropped_traits says which, for the read API and support.
        logger.warning(
            "traits dropped: the profile is at its bounds", extra={"dropped": result.dropped_traits}
        )
        metrics.add_metric(name="TraitsDropped", unit=MetricUnit.Count, value=result.dropped_traits)
    for decision in result.decisions:
        metrics.add_metric(name=f"Decision_{decision.outcome.value}", unit=MetricUnit.Count, value=1)
        logger.info(
            "decision",
            extra={
                "campaign": decision.campaign_id,
                "outcome": decision.outcome.value,
                "reasons": decision.reason_codes,
                "message_id": decision.message_id,
            },
        )


def _update_product(record: SQSRecord, event: QueuedEvent) -> None:
    """A catalog feed's `Product Updated`: the product's item, and the customers to tell of its changes."""
    parts = root()
    try:
        result = update_product(event, parts.catalog, parts.queue, parts.content.policy.catalog)
    except CatalogError as exc:
        _dead_letter(record, str(exc), type(exc).__name__)
        return
    except Exception as exc:
        _retry_or_dead_letter(record, exc, "product update failed; SQS will deliver it again")
        return
    metrics.add_metric(name=f"ProductUpdate_{result.status}", unit=MetricUnit.Count, value=1)
    for kind, count in result.notified.items():
        metrics.add_metric(name=f"Notified_{kind}", unit=MetricUnit.Count, value=count)
    if result.truncated:
        # Past the bound, the least recently interested customers are not told: docs/content.md.
        logger.warning(
            "more interested customers than catalog.max_notified; the most recent were told",
            extra={"product_id": result.product_id, "changes": result.truncated},
        )
        metrics.add_metric(name="NotifiedTruncated", unit=MetricUnit.Count, value=len(result.truncated))
    logger.info(
        "product updated",
        extra={"product_id": result.product_id, "status": result.status, "notified": result.notified},
    )


def _population(parts: Root) -> HourCounts | None:
    """Every customer's engagement hours, read at most once per 15 minutes, for `send_time: optimal` when a
    customer's own are too few. A failed read leaves planning to the customer's own hours, or none (the
    decision says which), and is logged here."""
    hours = parts.population_hours
    found = hours()
    if hours.error is not None:
        logger.warning("engagement hours unavailable; read again soon", extra={"error": hours.error})
        metrics.add_metric(name="EngagementHoursUnavailable", unit=MetricUnit.Count, value=1)
    return found


def _retry_or_dead_letter(record: SQSRecord, exc: Exception, message: str) -> None:
    """Raise again, so that SQS delivers the event again, until the queue's last receive; then the event
    waits in the DLQ with its reason."""
    if int(record.attributes.approximate_receive_count) < root().max_receive_count:
        logger.warning(
            message,
            extra={
                "sqs_message_id": record.message_id,
                "reason": _describe(exc),
                "receive_count": record.attributes.approximate_receive_count,
            },
        )
        raise exc
    _dead_letter(record, _describe(exc), type(exc).__name__)


def _describe(exc: Exception) -> str:
    """The reason kept with a dead letter: where validation failed, never the values (personal data)."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{exc.title}.{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
    return f"{type(exc).__name__}: {exc}"


def _dead_letter(record: SQSRecord, reason: str, error_type: str) -> None:
    logger.error("event dead-lettered", extra={"sqs_message_id": record.message_id, "error_type": error_type})
    root().dead_letters.send(
        record.body,
        group=record.attributes.message_group_id or "unknown",
        dedupe=record.message_id,
        reason=reason,
        error_type=error_type,
    )
    metrics.add_metric(name="EventsDeadLettered", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
