"""Read API: explains decisions. `GET /v1/profiles/{userId}/decisions[?campaign=ID]`, with an admin key."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from righttime.core.errors import ConfigurationError, UnauthorizedError
from righttime.stages import explain
from righttime.wiring.http_errors import json_error, misconfigured
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

app = APIGatewayHttpResolver()
# Built during INIT in Lambda, not in the first call: the clients and content every invocation uses.
warm("keys", "store")


@app.get("/v1/profiles/<user_id>/decisions")
def decisions(user_id: str) -> dict[str, Any]:
    event = app.current_event
    explain.authorize(event.headers.get("authorization"), root().keys.is_admin_key)
    campaign = event.get_query_string_value("campaign")
    return explain.decisions_document(root().store, user_id, campaign)


@app.exception_handler(UnauthorizedError)
def _unauthorized(exc: UnauthorizedError) -> Response[Any]:
    return json_error(401, {"message": str(exc)}, {"WWW-Authenticate": 'Bearer realm="righttime-admin"'})


@app.exception_handler(ConfigurationError)
def _misconfigured(exc: ConfigurationError) -> Response[Any]:
    return misconfigured(exc)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
