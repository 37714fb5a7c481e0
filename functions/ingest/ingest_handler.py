"""Ingest: the Segment-compatible HTTP API. Authenticates, validates and queues events for evaluation."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import ForbiddenError, NotFoundError, ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from righttime.core import cors
from righttime.core.errors import (
    ConfigurationError,
    FieldError,
    InvalidRequestError,
    QueueUnavailableError,
    UnauthorizedError,
)
from righttime.core.events import (
    AliasMessage,
    BatchRequest,
    GroupMessage,
    IdentifyMessage,
    PageMessage,
    TrackMessage,
)
from righttime.stages import ingest
from righttime.wiring.api_docs import ACCEPTED, WRITE_KEY, request_body
from righttime.wiring.http_errors import error, error_responses, misconfigured, service_error
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


#: what every ingestion route may answer besides 200
INGEST_ERRORS = error_responses(400, 401, 403, 413, 415, 500, 503)


@app.post(
    "/v1/identify",
    summary="Identify a customer",
    description="Who the customer is and their traits (address, time zone, consent), as Segment's identify.",
    tags=["ingest"],
    operation_id="identify",
    security=WRITE_KEY,
    responses={200: ACCEPTED, **INGEST_ERRORS},
    openapi_extensions=request_body(IdentifyMessage, "One identify message (gzip allowed)."),
)
def identify() -> dict[str, Any]:
    return _accept("identify")


@app.post(
    "/v1/track",
    summary="Track an event",
    description="Record what the customer did (Product Added, Order Completed, ...), as Segment's track.",
    tags=["ingest"],
    operation_id="track",
    security=WRITE_KEY,
    responses={200: ACCEPTED, **INGEST_ERRORS},
    openapi_extensions=request_body(TrackMessage, "One track message (gzip allowed)."),
)
def track() -> dict[str, Any]:
    return _accept("track")


@app.post(
    "/v1/batch",
    summary="Send a batch of messages",
    description="Up to 500 KB of messages of any type, as Segment's batch; all are accepted or none is.",
    tags=["ingest"],
    operation_id="batch",
    security=WRITE_KEY,
    responses={200: ACCEPTED, **INGEST_ERRORS},
    openapi_extensions=request_body(BatchRequest, "A batch of messages (gzip allowed)."),
)
def batch() -> dict[str, Any]:
    return _accept("batch")


# The single-message calls besides identify and track: their type comes from the path, as in Segment's API.
@app.post(
    "/v1/page",
    summary="Record a page view",
    description="The customer viewed a page, as Segment's page: activity, nothing more is kept.",
    tags=["ingest"],
    operation_id="page",
    security=WRITE_KEY,
    responses={200: ACCEPTED, **INGEST_ERRORS},
    openapi_extensions=request_body(PageMessage, "One page message; its type is the path's."),
)
def page() -> dict[str, Any]:
    return _accept("page")


@app.post(
    "/v1/screen",
    summary="Record a screen view",
    description="The customer viewed an app screen, as Segment's screen: activity, nothing more is kept.",
    tags=["ingest"],
    operation_id="screen",
    security=WRITE_KEY,
    responses={200: ACCEPTED, **INGEST_ERRORS},
    openapi_extensions=request_body(PageMessage, "One screen message; its type is the path's."),
)
def screen() -> dict[str, Any]:
    return _accept("screen")


@app.post(
    "/v1/group",
    summary="Associate a customer with a group",
    description="As Segment's group: accepted as activity.",
    tags=["ingest"],
    operation_id="group",
    security=WRITE_KEY,
    responses={200: ACCEPTED, **INGEST_ERRORS},
    openapi_extensions=request_body(GroupMessage, "One group message."),
)
def group() -> dict[str, Any]:
    return _accept("group")


@app.post(
    "/v1/alias",
    summary="Merge an anonymous visitor into a customer",
    description="As Segment's alias: `previousId` (an anonymous visitor) is merged into `userId`.",
    tags=["ingest"],
    operation_id="alias",
    security=WRITE_KEY,
    responses={200: ACCEPTED, **INGEST_ERRORS},
    openapi_extensions=request_body(AliasMessage, "One alias message."),
)
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
        security=WRITE_KEY,
        responses={200: ACCEPTED, **INGEST_ERRORS},
        openapi_extensions=request_body(SHORT_PATH_BODIES[endpoint], f"As for /v1/{endpoint}."),
    )(accept_short)


#: the model of each endpoint's body, for the short paths' descriptions
SHORT_PATH_BODIES: dict[str, type[BaseModel]] = {
    "identify": IdentifyMessage,
    "track": TrackMessage,
    "page": PageMessage,
    "screen": PageMessage,
    "group": GroupMessage,
    "alias": AliasMessage,
    "batch": BatchRequest,
}


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
    return error(exc.status, exc.message, exc.errors, success=False)


@app.exception_handler(UnauthorizedError)
def _unauthorized(exc: UnauthorizedError) -> Response[Any]:
    return error(401, str(exc), headers={"WWW-Authenticate": 'Basic realm="righttime"'}, success=False)


@app.exception_handler(QueueUnavailableError)
def _unavailable(exc: QueueUnavailableError) -> Response[Any]:
    logger.error("events not queued", extra={"reason": str(exc)})
    message = "temporarily unable to accept events; retry"
    return error(503, message, headers={"Retry-After": "5"}, success=False)


@app.exception_handler(ConfigurationError)
def _misconfigured(exc: ConfigurationError) -> Response[Any]:
    return misconfigured(exc, success=False)


@app.exception_handler(ServiceError)
def _refused(exc: ServiceError) -> Response[Any]:
    """Powertools' own answers (no route for this method and path) in the same shape as ours."""
    return service_error(exc, success=False)


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
