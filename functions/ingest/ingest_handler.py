"""Ingest: the Segment-compatible HTTP API. Authenticates, validates and queues events for evaluation."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import ForbiddenError, NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from righttime.core import cors
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
    _check_origin()
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


# The single-message calls besides identify and track: their type comes from the path, as in Segment's API.
@app.post("/v1/page")
def page() -> dict[str, Any]:
    return _accept("page")


@app.post("/v1/screen")
def screen() -> dict[str, Any]:
    return _accept("screen")


@app.post("/v1/group")
def group() -> dict[str, Any]:
    return _accept("group")


@app.post("/v1/alias")
def alias() -> dict[str, Any]:
    return _accept("alias")


def _short_route(endpoint: ingest.Endpoint) -> None:
    """Segment's one-letter path for `endpoint`, where analytics.js posts (/v1/t for a track call)."""

    def accept_short() -> dict[str, Any]:
        return _accept(endpoint)

    app.post(
        f"/v1/{endpoint[0]}",
        summary=f"The {endpoint} endpoint under its short path, where analytics.js sends it",
        tags=["ingest"],
        operation_id=f"{endpoint}_short",
    )(accept_short)


for _endpoint in ("identify", "track", "page", "screen", "group", "alias", "batch"):
    _short_route(_endpoint)


def _check_origin() -> str | None:
    """The request's Origin when a browser sent one from an allowed page (None from a server); 403 for any
    other page, so that not even a request a browser sends without asking first (a `text/plain` POST without
    Authorization) is queued."""
    origin = app.current_event.headers.get("origin")
    if origin and not cors.origin_allowed(origin, root().allowed_origins):
        logger.info("origin refused", extra={"origin": origin[:200]})
        raise ForbiddenError("this page's origin may not send events here: see RIGHTTIME_ALLOWED_ORIGINS")
    return origin


@app.route("/v1/<name>", method="OPTIONS", include_in_schema=False)
def preflight(name: str) -> Response[Any]:
    """A browser asks whether a page may post events here (CORS preflight): yes for an allowed origin."""
    if name not in ingest.ENDPOINT_PATHS:
        raise NotFoundError(f"no ingestion endpoint /v1/{name}"[:200])
    origin = _check_origin()
    return Response(status_code=204, headers=cors.preflight_headers(origin, root().allowed_origins))


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
    response = app.resolve(event, context)
    # Every answer to an allowed page carries the CORS headers, errors included, so that analytics.js can
    # read a 400 or a 503 (and retry). Not Powertools' CORSConfig: it is fixed when this module is imported,
    # and the allowed origins are a setting of the composition root.
    origin = (event.get("headers") or {}).get("origin")
    if origin:
        try:
            allowed = root().allowed_origins
        except ConfigurationError:
            return response  # answered 500 already (_misconfigured): the setting is wrong
        response["headers"] = {**(response.get("headers") or {}), **cors.cors_headers(origin, allowed)}
    return response
