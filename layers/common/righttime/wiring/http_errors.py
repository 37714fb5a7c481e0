"""JSON error responses shared by the HTTP handlers (ingest and the read API)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from righttime.core.errors import ConfigurationError
from righttime.wiring.observability import logger


def json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, headers=headers, body=body
    )


def misconfigured(exc: ConfigurationError, **body: Any) -> Response[Any]:
    """500 without the details, which go to the logs for the operator."""
    logger.error("configuration error", extra={"reason": str(exc)})
    return json_error(500, {**body, "message": "righttime is misconfigured; see the function's logs"})
