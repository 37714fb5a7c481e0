"""Scheduler: follows the messages table's stream and keeps one EventBridge Scheduler schedule per
pending message (create, move, delete)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from righttime.adapters.items import plain
from righttime.core.decisions import OutboundMessage
from righttime.stages import schedule
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
# Built during INIT in Lambda, not in the first call: the clients and content every invocation uses.
warm("schedules")


def _message(image: dict[str, Any] | None) -> OutboundMessage | None:
    return OutboundMessage.model_validate(plain(image)) if image else None


def record_handler(record: DynamoDBRecord) -> None:
    change = record.dynamodb
    if change is None:
        return
    old, new = _message(change.old_image), _message(change.new_image)
    parts = root()
    for action, message in schedule.sync(old, new, parts.schedules, parts.clock.now()):
        logger.info(
            "schedule",
            extra={
                "action": action.value,
                "message_id": message.message_id,
                "generation": message.generation,
            },
        )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
