"""docs/openapi.json is what the code says (regenerated here, compared), documents every route the template
deploys and no other, is valid OpenAPI 3.1, and tells a client what each operation is and how it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis.core.result import Ok

from righttime_dev.openapi import DOCUMENT, REGENERATE, document, document_routes, render, template_routes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return document(TEMPLATE)


def operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_the_checked_in_document_is_what_the_code_says(generated: dict[str, Any]) -> None:
    checked_in = (ROOT / DOCUMENT).read_text(encoding="utf-8")
    assert checked_in == render(generated), (
        f"{DOCUMENT} is stale: run `{REGENERATE}` (with the dev venv's python) and commit it"
    )


def test_every_route_the_template_deploys_is_documented_and_no_other(generated: dict[str, Any]) -> None:
    # (A CORS preflight is the browser asking, not an operation of the API: it is not documented.)
    deployed = {(method, path) for method, path in template_routes(TEMPLATE) if method != "OPTIONS"}
    documented = document_routes(generated)
    assert deployed - documented == set(), "routes API Gateway sends to a function that has no such route"
    assert documented - deployed == set(), "routes a function has that API Gateway never sends to it"


def test_the_document_is_valid_openapi_3_1_and_every_operation_loads(generated: dict[str, Any]) -> None:
    validate(generated)  # raises naming the first violation
    assert generated["openapi"].startswith("3.1")
    loaded = list(schemathesis.openapi.from_dict(generated).get_all_operations())
    assert loaded and all(isinstance(result, Ok) for result in loaded)


def test_every_operation_says_what_it_is_who_may_call_and_how_it_fails(generated: dict[str, Any]) -> None:
    for name, operation in operations(generated):
        method, path = name.split(" ", 1)
        # Powertools' default summary is the method and path: a route without its own says nothing more
        assert operation["summary"] != f"{method} {path}", f"{name}: no summary= in its decorator"
        assert operation.get("tags"), f"{name}: no tags= in its decorator"
        if "unsubscribe" not in operation["tags"]:
            assert operation.get("security"), f"{name}: no security= in its decorator"
            assert {"401", "500"} <= set(operation["responses"]), f"{name}: errors not declared"


def test_every_json_error_answer_has_the_one_error_schema(generated: dict[str, Any]) -> None:
    for name, operation in operations(generated):
        for status, response in operation["responses"].items():
            json_body = response.get("content", {}).get("application/json")
            if int(status) >= 400 and json_body is not None:
                assert json_body["schema"] == ERROR, f"{name} {status}"
    error = generated["components"]["schemas"]["Error"]
    assert (
        set(error["required"]) == {"message", "errors"} and error["properties"]["errors"]["type"] == "array"
    )
