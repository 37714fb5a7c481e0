"""Ingest: the Segment-compatible HTTP API. Authenticates, validates and queues events for evaluation."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from righttime.core.errors import (
    ConfigurationError,
    FieldError,
    InvalidRequestError,
    QueueUnavailableError,
    UnauthorizedError,
)
from righttime.stages import ingest
from righttime.wiring.http_errors import json_error, misconfigured
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

app = APIGatewayHttpResolver()
# Built during INIT in Lambda, not in the first call: the clients and content every invocation uses.
warm("keys", "queue")


def _accept(endpoint: ingest.Endpoint) -> dict[str, Any]:
    event = app.current_event
    raw = event.body or ""
    try:
        # surrogatepass: a body API Gateway passed as text may hold lone surrogates; parsing names them
        body = (
            base64.b64decode(raw, validate=True)
            if event.is_base64_encoded
            else raw.encode("utf-8", "surrogatepass")
        )
    except binascii.Error as exc:
        raise InvalidRequestError("body is not valid base64", [FieldError("body", str(exc))]) from exc
    accepted = ingest.accept(
        endpoint,
        body,
        content_encoding=event.headers.get("content-encoding"),
        authorization=event.headers.get("authorization"),
        received_at=root().clock.now(),
        is_valid_key=root().keys.is_write_key,
        enqueue=root().queue.send,
    )
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=accepted)
    return {"success": True}


@app.post("/v1/identify")
def identify() -> dict[str, Any]:
    return _accept("identify")


@app.post("/v1/track")
def track() -> dict[str, Any]:
    return _accept("track")


@app.post("/v1/batch")
def batch() -> dict[str, Any]:
    return _accept("batch")


@app.exception_handler(InvalidRequestError)
def _invalid(exc: InvalidRequestError) -> Response[Any]:
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    logger.info("request rejected", extra={"reason": exc.message, "fields": [e.field for e in exc.errors]})
    return json_error(
        exc.status, {"success": False, "message": exc.message, "errors": [e.as_dict() for e in exc.errors]}
    )


@app.exception_handler(UnauthorizedError)
def _unauthorized(exc: UnauthorizedError) -> Response[Any]:
    return json_error(
        401, {"success": False, "message": str(exc)}, {"WWW-Authenticate": 'Basic realm="righttime"'}
    )


@app.exception_handler(QueueUnavailableError)
def _unavailable(exc: QueueUnavailableError) -> Response[Any]:
    logger.error("events not queued", extra={"reason": str(exc)})
    return json_error(
        503, {"success": False, "message": "temporarily unable to accept events; retry"}, {"Retry-After": "5"}
    )


@app.exception_handler(ConfigurationError)
def _misconfigured(exc: ConfigurationError) -> Response[Any]:
    return misconfigured(exc, success=False)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
