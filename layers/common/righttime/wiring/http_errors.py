"""JSON error responses shared by the HTTP handlers (ingest and the read API): one shape, `Error`, for every
refusal either function makes, and the responses the route decorators declare in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

from righttime.core.errors import ConfigurationError, FieldError
from righttime.wiring.observability import logger


class ErrorField(BaseModel):
    """One field at fault: where (a JSON path such as `batch.3.userId`, a header or a parameter) and why."""

    field: str
    message: str


class Error(BaseModel):
    """The body of every JSON error answer, from either API."""

    message: str = Field(description="What went wrong, for a person to read.")
    errors: list[ErrorField] = Field(description="Each field at fault, when fields are at fault; else empty.")
    success: Literal[False] = Field(
        default=False,
        description="Sent by the ingestion endpoints only, always false: Segment's SDKs look at it.",
    )


#: why each status is answered, for the responses of the OpenAPI document
_REASONS = {
    400: "The request is malformed or a field is invalid; `errors` names each field.",
    401: "The key is missing or wrong.",
    403: "A browser page whose origin is not allowed (RIGHTTIME_ALLOWED_ORIGINS) sent it.",
    404: "Nothing is found at this path.",
    413: "The body is over the size limit.",
    415: "The Content-Encoding is not supported.",
    500: "righttime is misconfigured (the details are in the function's logs).",
    503: "A dependency is unavailable for now; retry after `Retry-After` seconds when given.",
}


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """A route's error answers (`responses=` of its decorator), all with the one `Error` body."""
    return {
        status: {
            "description": _REASONS.get(status, HTTPStatus(status).phrase),
            "content": {content_types.APPLICATION_JSON: {"model": Error}},
        }
        for status in statuses
    }


def json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    """An error answer in the `Error` shape: `body` holds the message (and ingest's `success`); the field
    errors default to none."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        headers=headers,
        body={**body, "errors": list(body.get("errors", []))},
    )


def error(
    status: int,
    message: str,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[Any]:
    """An `Error` answer from its parts; `extra` is ingest's `success=False`."""
    body = {**extra, "message": message, "errors": [e.as_dict() for e in errors]}
    return json_error(status, body, headers)


def service_error(exc: ServiceError, **extra: Any) -> Response[Any]:
    """Powertools' own refusals (a route that does not exist, `BadRequestError`) in the `Error` shape, rather
    than Powertools' `{statusCode, message}`."""
    status = int(exc.status_code)
    message = exc.msg if isinstance(exc.msg, str) else str(exc.msg.get("message", HTTPStatus(status).phrase))
    return error(status, message, **extra)


def misconfigured(exc: ConfigurationError, **body: Any) -> Response[Any]:
    """500 without the details, which go to the logs for the operator."""
    logger.error("configuration error", extra={"reason": str(exc)})
    return json_error(500, {**body, "message": "righttime is misconfigured; see the function's logs"})
