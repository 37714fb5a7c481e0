"""`righttime local` answers every request with JSON, as API Gateway does: malformed HTTP, a function that
raises, hostile bodies, and a batch at the advertised limit while the pipeline is busy."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import urllib.parse
from typing import Any

import pytest

from righttime_dev.local.server import LocalRighttime
from tests.conftest import WRITE_KEY

pytestmark = pytest.mark.e2e

AUTH = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
#: API Gateway's integration timeout: an answer later than this is no answer on AWS
API_GATEWAY_TIMEOUT_SECONDS = 29.0


def raw_exchange(
    local: LocalRighttime, request: bytes, *, shut_write: bool = False
) -> tuple[int, dict[str, Any]]:
    """Send `request` as raw bytes; return the status and JSON body. Fails if no answer comes in 10 s."""
    address = urllib.parse.urlsplit(local.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())


def post(local: LocalRighttime, path: str, body: bytes, **headers: str) -> tuple[int, dict[str, Any]]:
    address = urllib.parse.urlsplit(local.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=120)
    connection.request(
        "POST", path, body, {"Authorization": AUTH, "Content-Type": "application/json", **headers}
    )
    response = connection.getresponse()
    assert response.getheader("Content-Type") == "application/json"
    result = response.status, json.loads(response.read())
    connection.close()
    return result


def request_head(length: str, path: str = "/v1/track") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5", " ", "9" * 5000])
def test_a_bad_content_length_is_answered_at_once_never_a_hang(local: LocalRighttime, length: str) -> None:
    # Given a request whose Content-Length is negative, not a number, or absurd
    started = time.monotonic()
    status, body = raw_exchange(local, request_head(length))
    # Then it is answered with JSON (400, or 413 for a length over the limit) without waiting for a body
    assert status == (413 if length.isdigit() else 400)
    assert body["success"] is False
    assert time.monotonic() - started < 5


def test_two_different_content_lengths_are_a_400(local: LocalRighttime) -> None:
    request = request_head("2").replace(b"\r\n\r\n", b"\r\nContent-Length: 3\r\n\r\n") + b"{}"
    assert raw_exchange(local, request)[0] == 400


def test_a_body_over_the_limit_is_a_413_without_reading_it(local: LocalRighttime) -> None:
    assert raw_exchange(local, request_head(str(11 * 1024 * 1024)))[0] == 413


def test_a_body_shorter_than_announced_is_answered(local: LocalRighttime) -> None:
    # Given a client that announces 100 bytes, sends 2 and stops sending
    status, body = raw_exchange(local, request_head("100") + b"{}", shut_write=True)
    # Then it still gets an answer
    assert status == 400 and "ended" in body["message"]


def test_a_chunked_body_is_read(local: LocalRighttime) -> None:
    payload = json.dumps({"userId": "chunky", "event": "Viewed"}).encode()
    head = request_head("0").replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    assert raw_exchange(local, head + chunks) == (200, {"success": True})


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        pytest.param(b"GARBAGE\r\n\r\n", 400, id="a malformed request line"),
        pytest.param(b"GET /v1/track HTTP/9.9\r\nHost: x\r\n\r\n", 505, id="an unknown HTTP version"),
        pytest.param(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, id="a request line too long"),
    ],
)
def test_http_the_server_cannot_parse_is_answered_with_json(
    local: LocalRighttime, request_bytes: bytes, expected: int
) -> None:
    # Given bytes http.server refuses before any function is involved
    # Then the refusal is still a JSON answer (it was an HTML page, or no status line at all)
    status, body = raw_exchange(local, request_bytes)
    assert (status, body["success"]) == (expected, False)


def test_a_method_no_route_has_gets_the_http_apis_404(local: LocalRighttime) -> None:
    request = b"BREW /v1/track HTTP/1.1\r\nHost: x\r\n\r\n"
    assert raw_exchange(local, request) == (404, {"message": "Not Found", "errors": []})


def test_a_function_that_raises_is_a_500_with_json_and_the_connection_stays_usable(
    local: LocalRighttime,
) -> None:
    # Given an ingest function that raises (as a bug would)
    def broken(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("bug")

    working = local.pipeline.handlers["IngestFunction"]
    local.pipeline.handlers["IngestFunction"] = broken
    address = urllib.parse.urlsplit(local.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        # When a request reaches it
        connection.request("POST", "/v1/track", b'{"userId": "u", "event": "e"}', {"Authorization": AUTH})
        response = connection.getresponse()
        # Then the answer is the HTTP API's: 500 with a JSON body
        assert response.status == 500
        assert json.loads(response.read()) == {"message": "Internal Server Error"}
        # And the same connection serves the next request
        local.pipeline.handlers["IngestFunction"] = working
        connection.request("POST", "/v1/track", b'{"userId": "u", "event": "e"}', {"Authorization": AUTH})
        assert connection.getresponse().status == 200
    finally:
        local.pipeline.handlers["IngestFunction"] = working
        connection.close()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"userId": "u", "event": "e", "properties": {"x": NaN}}', "properties.x"),
        (b'{"userId": "u", "event": "e", "properties": {"x": ' + b"1" * 5000 + b"}}", "properties.x"),
        (b'{"userId": "u", "event": "e", "properties": {"x": "\\ud800"}}', "properties.x"),
        (b'{"userId": "u", "event": "e", "properties": ' + b"[" * 5000 + b"]" * 5000 + b"}", "body"),
        (b'{"userId": "u", "event": "e", "timestamp": "0001-01-01T00:00:00+14:00"}', "timestamp"),
    ],
)
def test_hostile_json_over_http_is_a_400_naming_the_field(
    local: LocalRighttime, body: bytes, field: str
) -> None:
    status, answer = post(local, "/v1/track", body)
    assert status == 400
    assert field in [e["field"] for e in answer["errors"]]


def test_a_list_of_addresses_is_refused_over_http(local: LocalRighttime) -> None:
    body = json.dumps({"userId": "u", "traits": {"email": "a@x.com, evil@example.com"}}).encode()
    status, answer = post(local, "/v1/identify", body)
    assert status == 400 and answer["errors"][0]["field"] == "traits.email"


def test_a_batch_at_the_advertised_limit_is_accepted_in_seconds_while_the_pipeline_works(
    local: LocalRighttime,
) -> None:
    # Given 10,000 small messages of 500 customers in one body under 500 KB
    batch = [{"type": "track", "userId": f"c{i % 500}", "event": "E"} for i in range(10_000)]
    body = json.dumps({"batch": batch}, separators=(",", ":")).encode()
    assert len(body) <= 500 * 1024
    # When it is posted over HTTP
    started = time.monotonic()
    status, answer = post(local, "/v1/batch", body)
    elapsed = time.monotonic() - started
    # Then it is accepted well within API Gateway's 29 s (it took over 25 minutes before)
    assert (status, answer) == (200, {"success": True})
    assert elapsed < API_GATEWAY_TIMEOUT_SECONDS, f"{elapsed:.1f} s"
    # And while the pipeline evaluates those events, another request is answered promptly
    started = time.monotonic()
    assert post(local, "/v1/track", b'{"userId": "late", "event": "E"}')[0] == 200
    assert time.monotonic() - started < 5
