"""What local mode refuses itself, as API Gateway would before any function runs, is in the `Error` shape too,
on the ingestion and on the read API's paths alike."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from typing import Any

import pytest

from righttime.wiring.http_errors import Error
from righttime_dev.local.server import LocalRighttime

pytestmark = pytest.mark.e2e


def exchange(local: LocalRighttime, head: str) -> tuple[int, dict[str, Any]]:
    address = urllib.parse.urlsplit(local.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head.encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/reports/campaigns"])
@pytest.mark.parametrize(
    ("status", "header"),
    [(413, "Content-Length: 11534336"), (400, "Content-Length: -1")],
    ids=["a body over 10 MB", "a bad Content-Length"],
)
def test_local_modes_own_refusals_are_errors_on_both_apis(
    local: LocalRighttime, path: str, status: int, header: str
) -> None:
    answered, body = exchange(local, f"POST {path} HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n")
    assert answered == status
    assert Error.model_validate(body).errors == [] and body["message"]


def test_a_path_no_route_has_is_a_404_error(local: LocalRighttime) -> None:
    assert exchange(local, "GET /v1/nothing/here HTTP/1.1\r\nHost: x\r\n\r\n") == (
        404,
        {"message": "Not Found", "errors": []},
    )
