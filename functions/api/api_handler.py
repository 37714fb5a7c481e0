"""Read API, with an admin key: explains decisions, `GET /v1/profiles/{userId}/decisions[?campaign=ID]`, a
page at a time (`limit`, `cursor`); exports and erases a customer (privacy requests, docs/privacy.md),
`GET` and `DELETE /v1/profiles/{userId}`; and reports per campaign,
`GET /v1/reports/campaigns[?from=YYYY-MM-DD&to=YYYY-MM-DD]` (docs/reporting.md).

And one-click unsubscribe (RFC 8058), with the signed token a promotional e-mail's `List-Unsubscribe` URL
carries: `POST /v1/unsubscribe?t=TOKEN` unsubscribes at once; `GET` shows the preference page (a checkbox per
topic, saved by `POST /v1/preferences?t=TOKEN`, and a button to unsubscribe from everything)."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from righttime.core.errors import ConfigurationError, UnauthorizedError
from righttime.core.unsubscribe import InvalidToken, verify
from righttime.stages import explain, privacy, report, unsubscribe
from righttime.stages.ports import CountersUnavailable
from righttime.wiring.http_errors import json_error, misconfigured
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

app = APIGatewayHttpResolver()
#: the period a report covers when `from` is not given: the 30 days ending with `to`
DEFAULT_PERIOD = timedelta(days=29)
# Built during INIT in Lambda, not in the first call: the clients and content every invocation uses.
warm("keys", "store")


@app.get("/v1/profiles/<user_id>/decisions")
def decisions(user_id: str) -> dict[str, Any]:
    event = app.current_event
    explain.authorize(event.headers.get("authorization"), root().keys.is_admin_key)
    campaign = event.get_query_string_value("campaign")
    try:
        limit = explain.page_limit(event.get_query_string_value("limit"))
        cursor = event.get_query_string_value("cursor")
        return explain.decisions_document(root().customer_records, customer(user_id), campaign, limit, cursor)
    except ValueError as exc:  # a bad limit, or InvalidCursor: the message names the parameter
        raise BadRequestError(str(exc)) from exc


@app.get("/v1/profiles/<user_id>")
def export_profile(user_id: str) -> Response[Any]:
    explain.authorize(app.current_event.headers.get("authorization"), root().keys.is_admin_key)
    parts = root()
    document = privacy.export_document(
        parts.store, parts.customer_records, customer(user_id), parts.clock.now()
    )
    if not document["found"]:
        return json_error(404, {"message": "righttime holds nothing about this customer"})
    metrics.add_metric(name="ProfilesExported", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)


@app.delete("/v1/profiles/<user_id>")
def erase_profile(user_id: str) -> dict[str, Any]:
    explain.authorize(app.current_event.headers.get("authorization"), root().keys.is_admin_key)
    parts = root()
    erasure = privacy.erase(
        parts.store, parts.customer_records, parts.schedules, customer(user_id), parts.clock.now()
    )
    # No customer id in the log (it was erased): the counts are what an operator needs.
    logger.info("customer erased", extra={"found": erasure.found, "complete": erasure.complete})
    metrics.add_metric(name="ProfilesErased", unit=MetricUnit.Count, value=1)
    return erasure.document()


def customer(path_segment: str) -> str:
    """The customer id a path segment names. API Gateway routes on the raw path, so an id holding `/`, `#`,
    `?`, `"` or non-ASCII arrives percent-encoded (`%2F`): decoded here, exactly once."""
    return unquote(path_segment)


@app.get("/v1/reports/campaigns")
def campaign_report() -> dict[str, Any]:
    event = app.current_event
    explain.authorize(event.headers.get("authorization"), root().keys.is_admin_key)
    parts = root()
    now = parts.clock.now()
    last = _day(event.get_query_string_value("to"), "to", now.astimezone(UTC).date())
    first = _day(event.get_query_string_value("from"), "from", last - DEFAULT_PERIOD)
    programs = {program.id for program in parts.content.programs}
    try:
        found = report.campaign_report(parts.counters, first, last, now, programs)
    except ValueError as exc:
        raise BadRequestError(str(exc)) from exc
    return found.document()


def _day(text: str | None, name: str, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequestError(f"'{name}' must be a UTC day as YYYY-MM-DD, not {text[:40]!r}") from None


@app.get("/v1/unsubscribe")
def preference_page() -> Response[str]:
    token = app.current_event.get_query_string_value("t") or ""
    parts = root()
    claims = verify(token, list(parts.unsubscribe_keys()), parts.clock.now())  # a bad link says so first
    profile = parts.store.get_profile(claims.customer_id)
    return _html(200, unsubscribe.preference_page(token, profile, parts.content.policy.topics))


@app.post("/v1/preferences")
def save_preferences() -> Response[str]:
    event = app.current_event
    token = event.get_query_string_value("t") or ""
    kept = set(parse_qs(event.decoded_body or "").get("topic", []))
    parts = root()
    topics = parts.content.policy.topics
    unsubscribe.save_preferences(
        token, parts.unsubscribe_keys(), parts.store, parts.clock.now(), kept, topics
    )
    metrics.add_metric(name="PreferencesSaved", unit=MetricUnit.Count, value=1)
    return _html(200, unsubscribe.saved_page())


@app.post("/v1/unsubscribe")
def one_click_unsubscribe() -> Response[str]:
    event = app.current_event
    token = event.get_query_string_value("t") or ""
    # A mail client POSTs `List-Unsubscribe=One-Click` (RFC 8058); the pages' buttons say they are the page.
    from_page = parse_qs(event.decoded_body or "").get("source") == ["page"]
    how = "preference_page" if from_page else "one_click"
    parts = root()
    claims = unsubscribe.unsubscribe(token, parts.unsubscribe_keys(), parts.store, parts.clock.now(), how)
    logger.info("unsubscribed by one-click link", extra={"message_id": claims.message_id})
    metrics.add_metric(name="OneClickUnsubscribes", unit=MetricUnit.Count, value=1)
    return _html(200, unsubscribe.done_page())


@app.exception_handler(InvalidToken)
def _invalid_token(exc: InvalidToken) -> Response[str]:
    logger.warning("unsubscribe link refused", extra={"reason": exc.reason})
    return _html(400, unsubscribe.refused_page(str(exc)))


def _html(status: int, page: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=page,
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )


@app.exception_handler(UnauthorizedError)
def _unauthorized(exc: UnauthorizedError) -> Response[Any]:
    return json_error(401, {"message": str(exc)}, {"WWW-Authenticate": 'Bearer realm="righttime-admin"'})


@app.exception_handler(CountersUnavailable)
def _counters_unavailable(exc: CountersUnavailable) -> Response[Any]:
    logger.warning("report counters unavailable", extra={"error": str(exc)})
    return json_error(503, {"message": "the report counters cannot be read just now; try again"})


@app.exception_handler(ConfigurationError)
def _misconfigured(exc: ConfigurationError) -> Response[Any]:
    return misconfigured(exc)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
