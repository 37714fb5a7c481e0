"""What the route decorators tell the OpenAPI document (docs/api.md) beyond what Powertools reads from the
handler's signature: who may call, the request body, the query parameters.

Ingest parses its bodies itself (gzip, base64, text/plain from browsers), so its routes take no `Body()`
parameter for Powertools to describe; `request_body` names the pydantic model the body is validated against
instead, and the generator (`python -m righttime_dev.openapi`) adds that model's schema to the components.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBase, HTTPBearer, SecurityScheme
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from righttime.wiring.http_errors import error_responses

#: the schemes the routes' `security=` refer to
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "writeKey": HTTPBase(
        scheme="basic",
        description=(
            "A write key as the user name and an empty password, as Segment's API takes it. Browsers "
            "(analytics.js) may send it as `writeKey` in a `text/plain` body instead."
        ),
    ),
    "adminKey": HTTPBearer(description="An admin key (the AdminKeys parameter of the stack)."),
}
#: ingest's routes: a write key, in the Authorization header or (the empty requirement) in the body
WRITE_KEY: list[dict[str, list[str]]] = [{"writeKey": []}, {}]
#: the read API's routes: an admin key
ADMIN_KEY: list[dict[str, list[str]]] = [{"adminKey": []}]
#: what ingest answers when it has queued every message of the request
ACCEPTED: OpenAPIResponse = {
    "description": "Accepted: every message is queued.",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"success": {"const": True}}, "required": ["success"]}
        }
    },
}
_PAGE: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}
#: what the unsubscribe routes answer: pages for a person, a bad link's fault on a page too
PAGE_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "The page.", "content": _PAGE},
    400: {"description": "The link is invalid or expired; the page says so.", "content": _PAGE},
    **error_responses(500),
}
#: the models `request_body` referred to, by component name, for the generator
BODY_MODELS: dict[str, type[BaseModel]] = {}


def request_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    """`openapi_extensions=` of an ingestion route whose JSON body `model` validates (the route parses it
    itself). Browsers send the same JSON as `text/plain`, which needs no CORS preflight, with `writeKey`."""
    BODY_MODELS[model.__name__] = model
    reference = {"$ref": f"#/components/schemas/{model.__name__}"}
    as_text = {
        "type": "string",
        "description": "The same JSON document, with the write key in `writeKey` (analytics.js sends this).",
        "contentMediaType": "application/json",
        "contentSchema": reference,
    }
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": reference}, "text/plain": {"schema": as_text}},
        }
    }


def query(
    name: str, description: str, *, schema: dict[str, Any] | None = None, required: bool = False
) -> dict[str, Any]:
    """A query parameter, for `openapi_extensions=query_parameters(...)`."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def query_parameters(*parameters: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extensions=` of a route that reads these query parameters from the event (not its signature:
    the resolvers run without Powertools' validation). The generator joins them to the path parameters."""
    return {"parameters": list(parameters)}


def form_body(description: str, fields: dict[str, str]) -> dict[str, Any]:
    """`openapi_extensions=` of a route that reads an HTML form's fields (`fields`: name -> what it is)."""
    properties = {name: {"type": "string", "description": about} for name, about in fields.items()}
    schema = {"type": "object", "properties": properties}
    return {
        "requestBody": {
            "required": False,
            "description": description,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }
