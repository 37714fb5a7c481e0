"""Sender: invoked by a message's EventBridge Scheduler schedule; re-checks the context and sends via SES."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from righttime.stages.send import send_due_message
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

# Built during INIT in Lambda, not in the first call: the clients and content every invocation uses.
warm("store", "mailer", "mail", "content.campaigns_by_id", "content.policy", "content.renderer")


class SendRequest(BaseModel):
    """The schedule's input: which message to send (never the address itself)."""

    customer_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1, max_length=64)
    address_key: str | None = Field(default=None, max_length=64)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # pydantic directly: Powertools' event_parser imports every AWS event model it knows (~60 ms of INIT)
    event = SendRequest.model_validate(payload)
    logger.append_keys(message_id=event.message_id)
    parts = root()
    result = send_due_message(
        event.customer_id,
        event.message_id,
        store=parts.store,
        campaign_of=parts.content.campaigns_by_id,
        policy=parts.content.policy,
        renderer=parts.content.renderer,
        mailer=parts.mailer,
        mail=parts.mail,
        now=parts.clock.now(),
        attempt_id=uuid.uuid4().hex,
        address_key=event.address_key,
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
        catalog=parts.catalog,
    )
    metrics.add_metric(name=f"Send_{result.status}", unit=MetricUnit.Count, value=1)
    logger.info(
        "send result",
        extra={"status": result.status, "reasons": result.decision.reason_codes if result.decision else []},
    )
    return {"status": result.status, "message_id": event.message_id, "ses_message_id": result.ses_message_id}
