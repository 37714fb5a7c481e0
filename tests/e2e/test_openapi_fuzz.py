"""Local mode serves the OpenAPI document of the functions it runs, and requests schemathesis generates from
that document (following it, and breaking it) get no server error and only answers the document declares:
a short, repeatable run of what `make fuzz` does at length."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from righttime_dev.fuzz import Report, schema_fuzz
from righttime_dev.local.server import LocalRighttime
from righttime_dev.openapi import document
from tests.conftest import TEMPLATE

pytestmark = pytest.mark.e2e
#: requests per operation that follow the document, and as many that break it
EXAMPLES = 8


def test_local_mode_serves_the_document_of_the_code_it_runs(local: LocalRighttime) -> None:
    # When a client asks local mode for its API description, over HTTP
    with urllib.request.urlopen(f"{local.url}/openapi.json", timeout=30) as response:
        served = json.loads(response.read())
        content_type = response.headers["Content-Type"]
    # Then it gets the document generated from the handlers it runs, with every route the template deploys
    assert content_type == "application/json"
    assert served == document(TEMPLATE)
    assert {"/v1/track", "/v1/batch", "/v1/reports/campaigns"} <= set(served["paths"])


def test_the_document_route_takes_only_get(local: LocalRighttime) -> None:
    request = urllib.request.Request(f"{local.url}/openapi.json", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 405 and refused.value.headers["Allow"] == "GET, HEAD"
    assert set(json.loads(refused.value.read())) == {"message", "errors"}


def test_requests_generated_from_the_document_get_no_server_error_and_declared_answers(
    local: LocalRighttime,
) -> None:
    # Given the document local mode serves, and a repeatable (derandomized) generation
    report = Report()
    # When schemathesis sends, for every operation, requests that follow it and requests that break it (the
    # short paths are the same operations under other paths: `make fuzz` sends to them too)
    schema_fuzz(local.url, EXAMPLES, report, distinct=True)
    # Then every operation was exercised, and no answer was a 5xx or anything the document does not declare
    assert report.cases >= EXAMPLES * len({"/v1/track", "/v1/batch", "/v1/reports/campaigns"})
    assert not report.failures, "\n".join(
        f"{count} x {category}\n    e.g. {report.examples[category][:600]}"
        for category, count in report.failures.items()
    )
    assert not any(status >= 500 for status in report.statuses)
