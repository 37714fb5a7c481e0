"""The OpenAPI 3.1 document of righttime's HTTP APIs, generated from the code: Powertools describes each
function's resolver (the routes, and what their decorators declare), and this joins the functions the
template routes HTTP requests to into one document (docs/openapi.json; docs/api.md says more).

    python -m righttime_dev.openapi            write docs/openapi.json
    python -m righttime_dev.openapi --check    exit 1 if docs/openapi.json is not what the code says
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import OpenAPI, Server, ServerVariable
from pydantic.json_schema import models_json_schema

from righttime.wiring.api_docs import BODY_MODELS, SECURITY_SCHEMES
from righttime_dev.local.pipeline import load_handler
from righttime_dev.local.provision import Function, describe

DOCUMENT = Path("docs/openapi.json")
REGENERATE = "python -m righttime_dev.openapi"
_REFERENCE = "#/components/schemas/"
SERVERS = [
    Server(url="http://127.0.0.1:3000/", description="Local mode (`make local`)"),
    Server(
        url="https://{api}.execute-api.{region}.amazonaws.com/live",
        description="A deployed stack (the ApiUrl output of `sam deploy`)",
        variables={
            "api": ServerVariable(default="abcdef1234", description="The HTTP API's id"),
            "region": ServerVariable(default="us-east-1", description="The stack's region"),
        },
    ),
]
DESCRIPTION = (
    "Segment-compatible ingestion (a write key), the read API and reports (an admin key), and the "
    "unsubscribe pages (the signed token of the e-mail's link). Every JSON error answer is an `Error`."
)
TAGS = [
    {"name": "ingest", "description": "Segment's HTTP Tracking API: what apps and SDKs send."},
    {"name": "read", "description": "Decisions, reports and privacy requests, with an admin key."},
    {"name": "unsubscribe", "description": "The pages an e-mail's unsubscribe link leads to."},
]


def http_functions(template: Path) -> Iterator[Function]:
    """The template's functions that answer API Gateway routes."""
    for function in describe(template, {}).functions.values():
        if function.routes:
            yield function


def resolver(function: Function) -> ApiGatewayResolver:
    """The function's event handler resolver, imported as local mode imports it."""
    handler = load_handler(function.code_dir, function.handler, function.logical_id)
    found = [v for v in vars(sys.modules[handler.__module__]).values() if isinstance(v, ApiGatewayResolver)]
    if len(found) != 1:
        raise LookupError(
            f"{function.logical_id}: expected one resolver in {function.handler}, not {len(found)}"
        )
    return found[0]


def document(template: Path) -> dict[str, Any]:
    """The document, as a dictionary: every route of every HTTP function of `template`."""
    merged = OpenAPIMerge(
        title="righttime",
        version=version("righttime"),
        description=DESCRIPTION,
        servers=SERVERS,
        security_schemes=SECURITY_SCHEMES,
        on_conflict="error",
    )
    for function in http_functions(template):
        merged.add_schema(_schema(resolver(function)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # OpenAPIMerge warns that it discovered no files: none were asked for
        result = merged.get_openapi_schema()
    result["tags"] = TAGS
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_body_schemas())
    _drop_unreferenced(result)
    # Through Powertools' own model of an OpenAPI document: a malformed part fails here, not in a client.
    checked = OpenAPI.model_validate(result).model_dump(mode="json", by_alias=True, exclude_none=True)
    return checked


def _schema(app: ApiGatewayResolver) -> dict[str, Any]:
    """One resolver's document, with the query parameters its decorators declare beside the path's."""
    schema = app.get_openapi_schema(security_schemes=SECURITY_SCHEMES).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    # Powertools puts a route's own `parameters` first, then replaces them with the signature's (the path's);
    # the resolvers run without validation, so the query parameters they read are declared, and joined here.
    for route in app._static_routes + app._dynamic_routes:
        declared = (route.openapi_extensions or {}).get("parameters", [])
        operation = schema["paths"].get(route.openapi_path, {}).get(route.method.lower())
        if declared and operation is not None:
            path = [p for p in operation.get("parameters", []) if p["in"] == "path"]
            operation["parameters"] = path + [p for p in declared if p["in"] != "path"]
    return schema


def _body_schemas() -> dict[str, Any]:
    """The schemas of the request bodies the routes name (`api_docs.request_body`), and of what they use."""
    models = [(model, "validation") for _, model in sorted(BODY_MODELS.items())]
    _, found = models_json_schema(models, ref_template=_REFERENCE + "{model}")  # type: ignore[arg-type]
    return dict(found.get("$defs", {}))


def _drop_unreferenced(result: dict[str, Any]) -> None:
    """Powertools always adds its validation error schemas; righttime's handlers do not validate with it."""
    schemas = result["components"]["schemas"]
    while True:
        text = json.dumps({k: v for k, v in result.items() if k != "components"}) + json.dumps(schemas)
        unused = [name for name in schemas if f'"{_REFERENCE}{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


@functools.cache
def document_json(template: Path) -> bytes:
    """The document as served (local mode's `GET /openapi.json`), made once per template."""
    return render(document(template)).encode()


def template_routes(template: Path) -> set[tuple[str, str]]:
    """(METHOD, path with its parameters unnamed) of every route the template deploys."""
    return {(method, _unnamed(path)) for f in http_functions(template) for method, path in f.routes}


def document_routes(schema: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path with its parameters unnamed) of every operation of a document."""
    return {(method.upper(), _unnamed(path)) for path, item in schema["paths"].items() for method in item}


def _unnamed(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m righttime_dev.openapi", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--output", type=Path, default=DOCUMENT)
    parser.add_argument(
        "--check", action="store_true", help="fail if the file differs from what the code says"
    )
    args = parser.parse_args(argv)
    text = render(document(args.template))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is not what the code says; regenerate it: {REGENERATE}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
