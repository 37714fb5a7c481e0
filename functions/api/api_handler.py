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
from urllib.parse import parse_qs, quote, unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from righttime.core.errors import ConfigurationError, FieldError, InvalidRequestError, UnauthorizedError
from righttime.core.events import MAX_ID_LENGTH
from righttime.core.unsubscribe import InvalidToken, verify
from righttime.stages import explain, privacy, report, unsubscribe
from righttime.stages.ports import CountersUnavailable, InvalidCursor
from righttime.wiring.api_docs import ADMIN_KEY, PAGE_RESPONSES, form_body, query, query_parameters
from righttime.wiring.http_errors import error, error_responses, misconfigured, service_error
from righttime.wiring.observability import logger, metrics
from righttime.wiring.root import root, warm

app = APIGatewayHttpResolver()
#: the period a report covers when `from` is not given: the 30 days ending with `to`
DEFAULT_PERIOD = timedelta(days=29)
#: the first day a report may name (`date.min`)
EARLIEST_DAY = date.min
# Built during INIT in Lambda, not in the first call: the clients and content every invocation uses.
warm("keys", "store")


DAY = {"type": "string", "format": "date"}
TOKEN = query("t", "The signed token of the e-mail's unsubscribe link.", required=True)


@app.get(
    "/v1/profiles/<user_id>/decisions",
    summary="Explain a customer's decisions",
    description="What righttime decided for the customer: what it sent, deferred or suppressed, and why.",
    tags=["read"],
    operation_id="decisions",
    security=ADMIN_KEY,
    responses={
        200: {"description": "One page of the customer's decisions, the newest first."},
        **error_responses(400, 401, 404, 500),
    },
    openapi_extensions=query_parameters(
        query("campaign", "Only the decisions of this campaign."),
        query(
            "limit",
            f"The most decisions on the page (default {explain.DEFAULT_PAGE}).",
            schema={"type": "integer", "minimum": 1, "maximum": explain.MAX_PAGE},
        ),
        query("cursor", "The previous page's `next_cursor`: the page after it."),
    ),
)
def decisions(user_id: str) -> dict[str, Any]:
    event = app.current_event
    explain.authorize(event.headers.get("authorization"), root().keys.is_admin_key)
    campaign = event.get_query_string_value("campaign")
    try:
        limit = explain.page_limit(event.get_query_string_value("limit"))
    except ValueError as exc:
        raise _bad_parameter("limit", str(exc)) from exc
    cursor = event.get_query_string_value("cursor")
    try:
        return explain.decisions_document(root().customer_records, customer(user_id), campaign, limit, cursor)
    except InvalidCursor as exc:
        raise _bad_parameter("cursor", str(exc)) from exc


@app.get(
    "/v1/profiles/<user_id>",
    summary="Export a customer",
    description="Everything righttime holds about the customer (a privacy request): profile, consent "
    "history, messages, the newest decisions, suppression and interest entries (docs/privacy.md).",
    tags=["privacy"],
    operation_id="export_profile",
    security=ADMIN_KEY,
    responses={200: {"description": "The export."}, **error_responses(400, 401, 404, 500)},
)
def export_profile(user_id: str) -> Response[Any]:
    explain.authorize(app.current_event.headers.get("authorization"), root().keys.is_admin_key)
    parts = root()
    document = privacy.export_document(
        parts.store, parts.customer_records, customer(user_id), parts.clock.now()
    )
    if not document["found"]:
        return error(404, "righttime holds nothing about this customer")
    metrics.add_metric(name="ProfilesExported", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)


@app.delete(
    "/v1/profiles/<user_id>",
    summary="Erase a customer",
    description="Erase the customer (a privacy request): cancel its pending messages, delete its profile, "
    "messages, decisions and interest entries, and keep hashed suppression entries so it is never sent to "
    "again. Repeating it is harmless (docs/privacy.md).",
    tags=["privacy"],
    operation_id="erase_profile",
    security=ADMIN_KEY,
    responses={200: {"description": "What was erased."}, **error_responses(400, 401, 500)},
)
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
    `?`, `"` or non-ASCII arrives percent-encoded (`%2F`): decoded here, exactly once. An id longer than
    ingest accepts names no customer, and is refused before it reaches a table's key limit."""
    customer_id = unquote(path_segment)
    if len(customer_id) > MAX_ID_LENGTH:
        problem = f"a customer id has at most {MAX_ID_LENGTH} characters, as ingest accepts"
        raise InvalidRequestError(problem, [FieldError("userId", problem)])
    return customer_id


@app.get(
    "/v1/reports/campaigns",
    summary="Report per campaign",
    description="Sends, opens, clicks, conversions and revenue per campaign over a period of UTC days.",
    tags=["read"],
    operation_id="campaign_report",
    security=ADMIN_KEY,
    responses={200: {"description": "The report."}, **error_responses(400, 401, 500, 503)},
    openapi_extensions=query_parameters(
        query("from", "First UTC day (default: 29 days before `to`).", schema=DAY),
        query("to", "Last UTC day (default: today).", schema=DAY),
    ),
)
def campaign_report() -> dict[str, Any]:
    event = app.current_event
    explain.authorize(event.headers.get("authorization"), root().keys.is_admin_key)
    parts = root()
    now = parts.clock.now()
    last = _day(event.get_query_string_value("to"), "to", now.astimezone(UTC).date())
    # The default period starts 29 days before `to`: a `to` in year 1 has no such day.
    default_first = last - DEFAULT_PERIOD if last >= EARLIEST_DAY + DEFAULT_PERIOD else EARLIEST_DAY
    first = _day(event.get_query_string_value("from"), "from", default_first)
    programs = {program.id for program in parts.content.programs}
    try:
        found = report.campaign_report(parts.counters, first, last, now, programs)
    except ValueError as exc:  # a backwards or too long period: both days are at fault
        raise InvalidRequestError(
            str(exc), [FieldError("from", str(exc)), FieldError("to", str(exc))]
        ) from exc
    return found.document()


def _day(text: str | None, name: str, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _bad_parameter(name, f"'{name}' must be a UTC day as YYYY-MM-DD, not {text[:40]!r}") from None


def _bad_parameter(name: str, problem: str) -> InvalidRequestError:
    """A 400 whose `errors` name the query parameter at fault."""
    return InvalidRequestError(problem, [FieldError(name, problem)])


@app.get(
    "/v1/unsubscribe",
    summary="Preference page",
    description="The page an unsubscribe link opens: a checkbox per topic, a button to unsubscribe from all.",
    tags=["unsubscribe"],
    operation_id="preference_page",
    responses=PAGE_RESPONSES,
    openapi_extensions=query_parameters(TOKEN),
)
def preference_page() -> Response[str]:
    token = app.current_event.get_query_string_value("t") or ""
    parts = root()
    claims = verify(token, list(parts.unsubscribe_keys()), parts.clock.now())  # a bad link says so first
    profile = parts.store.get_profile(claims.customer_id)
    return _html(200, unsubscribe.preference_page(token, profile, parts.content.policy.topics))


@app.post(
    "/v1/preferences",
    summary="Save preferences",
    description="Keep the topics checked on the preference page, and no others.",
    tags=["unsubscribe"],
    operation_id="save_preferences",
    responses=PAGE_RESPONSES,
    openapi_extensions=query_parameters(TOKEN)
    | form_body("The preference page's form.", {"topic": "A topic to keep; repeated for each."}),
)
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


@app.post(
    "/v1/unsubscribe",
    summary="Unsubscribe in one click",
    description="RFC 8058 one-click unsubscribe, as mail clients send it; or the preference page's button.",
    tags=["unsubscribe"],
    operation_id="unsubscribe",
    responses=PAGE_RESPONSES,
    openapi_extensions=query_parameters(TOKEN)
    | form_body(
        "RFC 8058's form, or the preference page's.",
        {"List-Unsubscribe": "One-Click, from a mail client.", "source": "page, from the preference page."},
    ),
)
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
    return error(401, str(exc), headers={"WWW-Authenticate": 'Bearer realm="righttime-admin"'})


@app.exception_handler(CountersUnavailable)
def _counters_unavailable(exc: CountersUnavailable) -> Response[Any]:
    logger.warning("report counters unavailable", extra={"error": str(exc)})
    return error(503, "the report counters cannot be read just now; try again", headers={"Retry-After": "5"})


@app.exception_handler(ConfigurationError)
def _misconfigured(exc: ConfigurationError) -> Response[Any]:
    return misconfigured(exc)


@app.exception_handler(InvalidRequestError)
def _invalid(exc: InvalidRequestError) -> Response[Any]:
    return error(exc.status, exc.message, exc.errors)


@app.exception_handler(ServiceError)
def _refused(exc: ServiceError) -> Response[Any]:
    """Powertools' own answers (BadRequestError, no route for this method and path) in the same shape."""
    return service_error(exc)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(routed_path(event), context)


def routed_path(event: dict[str, Any]) -> dict[str, Any]:
    """The event with `rawPath` rebuilt from the route API Gateway matched and its path parameters, each
    percent-encoded as one segment. HTTP APIs are reported to deliver `rawPath` decoded (an id's `%2F`
    as `/`, a `?` cut off), while `pathParameters` hold each value as routed: rebuilt, the path routes here
    as it did at API Gateway, and `customer()` decodes the id exactly once, wherever it came from."""
    params = event.get("pathParameters") or {}
    method_and_path = str(event.get("routeKey", "")).split(" ", 1)
    if not params or len(method_and_path) != 2 or "{" not in method_and_path[1]:
        return event
    path = method_and_path[1]
    for name, value in params.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    stage = (event.get("requestContext") or {}).get("stage", "$default")
    return {**event, "rawPath": path if stage == "$default" else f"/{stage}{path}"}
