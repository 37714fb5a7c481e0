"""Feedback: SES's events (through EventBridge) settle unknown sends, suppress bounced and complaining
addresses, and keep the engagement history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from righttime.core.feedback import SesEvent
from righttime.stages.feedback import handle_ses_event
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

# Built during INIT in Lambda, not in the first call: the clients and content every invocation uses.
warm("store", "feedback")


class SesEventBridgeEvent(BaseModel):
    """An SES event as EventBridge delivers it: `detail` is SES's event-publishing record.

    The envelope's fields as Powertools' EventBridgeModel has them, written out: importing Powertools' parser
    models costs a cold start ~60 ms for one envelope."""

    model_config = ConfigDict(populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: SesEvent
    replay_name: str | None = Field(default=None, alias="replay-name")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = SesEventBridgeEvent.model_validate(payload)
    logger.append_keys(ses_message_id=event.detail.mail.message_id, event_type=event.detail.event_type.value)
    parts = root()
    result = handle_ses_event(
        event.detail,
        store=parts.store,
        rules=parts.feedback,
        keep_sends=lambda: parts.content.policy.longest_cap,
        now=parts.clock.now(),
    )
    metrics.add_metric(name=f"Feedback_{result.status}", unit=MetricUnit.Count, value=1)
    if result.suppressed:
        metrics.add_metric(name="AddressesSuppressed", unit=MetricUnit.Count, value=1)
    # Ids and outcomes only: the addresses in the event are never logged.
    logger.info(
        "feedback",
        extra={
            "status": result.status,
            "message_id": next((d.message_id for d in result.decisions), None),
            "outcomes": [d.outcome.value for d in result.decisions],
            "reasons": [code for d in result.decisions for code in d.reason_codes],
            "settled": result.settled,
            "suppressed": result.suppressed,
        },
    )
    return {
        "status": result.status,
        "event": result.event,
        "outcomes": [d.outcome.value for d in result.decisions],
    }
