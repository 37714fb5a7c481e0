"""`make fuzz`: a property-based fuzz of the HTTP APIs, against local mode over real HTTP, in two parts.

Hostile requests: Hypothesis generates Segment messages full of hostile values (non-finite and huge numbers,
lone surrogates, deep nesting, absurd timestamps, address lists and line separators, javascript: links),
random bytes, gzip that is not, and broken HTTP (bad Content-Length, chunked bodies, unknown methods and
paths). Every request must get an answer, in JSON, below 500.

The OpenAPI document: schemathesis reads local mode's `GET /openapi.json` and generates, for every
operation, requests that follow the document and requests that break it, with the keys the operation asks
for. Every answer must be below 500, with a status, content type and body the document declares.

Afterwards the pipeline must have raised nothing and dead-lettered nothing it accepted. Failures are counted
by category, with one example each; the exit status is 1 if there are any.

    python -m righttime_dev.fuzz --cases 10000 --examples 100
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import http.client
import json
import socket
import sys
import tempfile
import time
import urllib.parse
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from righttime_dev.local.pipeline import OPENAPI_PATH
from righttime_dev.local.server import LocalOptions, LocalRighttime

WRITE_KEY = "fuzz-write-key"
ADMIN_KEY = "fuzz-admin-key"
ANSWER_TIMEOUT_SECONDS = 15.0
#: JSON text spliced in where a generated document holds the placeholder: what json.dumps can't write
RAW_LITERALS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    "-1e400",
    "9" * 5000,
    "1" * 39,
    "1e-131",
    "1E+126",
    "9.9999999999999999999999999999999999999E+125",
    "[" * 40 + "]" * 40,
    "[" * 600 + "]" * 600,
    "[" * 5000 + "]" * 5000,
    '{"a":' * 50 + "1" + "}" * 50,
    '"\\ud800"',
    '"x\\udfff"',
    '"\\uffff"',
    '{"\\ud800": 1}',
)
HOSTILE_STRINGS = (
    "a@x.com, evil@example.com",
    "Jane <jane@example.com>",
    "jane@example.com\r\nBcc: evil@example.com",
    "jane@exa\u2028mple.com",
    "jane@example.com\x85",
    "jäne@example.com",
    "jane@münchen.de",
    "jane@[192.0.2.1]",
    "javascript:alert(1)",
    " java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "https://shop.example/p?a=1",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "10000-01-01T00:00:00Z",
    "2026-03-02T10:00:00+99:00",
    "2026-03-02T10:00:00Z",
    "Europe/Paris",
    "Not/AZone",
    "{{ 7*7 }}",
    "\x00",
    "x" * 3000,
)
EVENT_NAMES = ("Product Added", "Product Removed", "Order Completed", "Product Viewed", "Cart Viewed", "x")
#: what every answer to a request schemathesis generated from the document is checked for
SCHEMA_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PATHS = ("/v1/track", "/v1/identify", "/v1/batch", "/v1/profiles/u1/decisions", "/health", "/v1/t", "/")


@dataclass
class Report:
    """What the fuzz saw: answers by status, and failures by category with the first example of each."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    #: requests sent and seconds taken, by part of the fuzz
    parts: dict[str, tuple[int, float]] = field(default_factory=dict)

    def fail(self, category: str, request: bytes) -> None:
        self.failures[category] += 1
        self.examples.setdefault(category, request[:2000].decode("latin-1"))


# --- what is generated ---------------------------------------------------------------------------------

_placeholder = st.integers(0, len(RAW_LITERALS) - 1).map(lambda i: f"\x00RAW{i}\x00")
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(HOSTILE_STRINGS),
    _placeholder,
)
_json = st.recursive(
    _leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_id = st.one_of(st.text(min_size=1, max_size=12), st.integers(), st.none(), st.sampled_from(HOSTILE_STRINGS))
_time = st.one_of(st.none(), st.sampled_from(HOSTILE_STRINGS), st.integers(), st.text(max_size=30))
_cart_line = st.fixed_dictionaries(
    {"product_id": _id},
    optional={
        "name": _json,
        "url": st.sampled_from(HOSTILE_STRINGS) | _json,
        "image_url": st.sampled_from(HOSTILE_STRINGS),
        "category": st.text(max_size=20) | st.just("c" * 1100),
        "price": _json,
        "quantity": _json,
    },
)


_overrides = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(("track", "identify", "page", "alias", "group")) | st.text(max_size=8),
        "userId": _id,
        "anonymousId": _id,
        "messageId": _id,
        "event": st.sampled_from(EVENT_NAMES) | _json,
        "timestamp": _time,
        "sentAt": _time,
        "properties": _cart_line | st.dictionaries(st.text(max_size=8), _json, max_size=5) | _json,
        "traits": st.fixed_dictionaries({}, optional={"email": _id | _json, "firstName": _json})
        | st.dictionaries(st.text(max_size=8), _json, max_size=5),
        "context": st.dictionaries(st.sampled_from(("timezone", "locale", "ip")), _json, max_size=3),
    },
)


@st.composite
def _message(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed message of a few customers (so events reach evaluate and the sender), with a few of
    its fields replaced by hostile ones."""
    kind = draw(st.sampled_from(("track", "identify")))
    customer = f"fuzz-{draw(st.integers(0, 20))}"
    message: dict[str, Any] = {"type": kind, "userId": customer}
    if kind == "track":
        message |= {"event": draw(st.sampled_from(EVENT_NAMES)), "properties": draw(_cart_line)}
    else:
        message["traits"] = {"email": f"{customer}@example.com", "firstName": draw(st.text(max_size=10))}
    overrides: dict[str, Any] = draw(_overrides)
    return message | overrides


def _document(message: dict[str, Any], path: str, batch: list[dict[str, Any]]) -> Any:
    if path.endswith(("batch", "/b")):
        return {"batch": batch, "sentAt": message.get("sentAt")}
    return message


def _encode(document: Any) -> bytes:
    text = json.dumps(document, allow_nan=True)
    for index, literal in enumerate(RAW_LITERALS):
        text = text.replace(json.dumps(f"\x00RAW{index}\x00"), literal)
    return text.encode()


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    framing: str

    def request(self) -> bytes:
        """The raw HTTP/1.1 request: headers as drawn, the body framed as drawn (one connection per case)."""
        lines = [f"{self.method} {self.path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        body = self.body
        match self.framing:
            case "exact":
                lines.append(f"Content-Length: {len(body)}")
            case "chunked":
                lines.append("Transfer-Encoding: chunked")
                body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
            case "none":
                body = b""
            case other:  # a hostile Content-Length; the body is sent anyway
                lines.append(f"Content-Length: {other}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


@st.composite
def cases(draw: st.DrawFn) -> Case:
    path = draw(
        st.sampled_from(("/v1/track", "/v1/identify", "/v1/batch") * 5 + PATHS)
        | st.sampled_from(("/v1/track", "/v1/identify", "/v1/batch"))
        | st.text(max_size=20).map(lambda t: "/" + urllib.parse.quote(t))
    )
    method = draw(st.sampled_from(("POST",) * 12 + ("GET", "PUT", "DELETE", "OPTIONS", "HEAD", "BREW")))
    message = draw(_message())
    kind = draw(st.sampled_from(("document",) * 6 + ("bytes", "gzip", "not gzip", "empty")))
    body: bytes
    if kind == "bytes":
        body = draw(st.binary(max_size=200))
    elif kind == "empty":
        body = b""
    else:
        body = _encode(_document(message, path, draw(st.lists(_message(), max_size=8))))
    key = draw(st.sampled_from((WRITE_KEY,) * 6 + ("wrong", "", ADMIN_KEY, "x" * 5000)))
    headers = [("Content-Type", draw(st.sampled_from(("application/json", "text/plain", "x/y"))))]
    auth = draw(st.sampled_from(("basic",) * 5 + ("bearer", "garbage", "none")))
    if auth == "basic":
        headers.append(("Authorization", "Basic " + base64.b64encode(f"{key}:".encode()).decode()))
    elif auth == "bearer":
        headers.append(("Authorization", f"Bearer {key}"))
    elif auth == "garbage":
        headers.append(("Authorization", "Basic !!!" + key[:20]))
    if kind == "gzip":
        body = gzip.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    elif kind == "not gzip":
        headers.append(("Content-Encoding", draw(st.sampled_from(("gzip", "GZIP", "br", "x")))))
    framing = draw(st.sampled_from(("exact",) * 12 + ("chunked", "none", "-1", "abc", "", "99999999999")))
    return Case(method, path, tuple(headers), body, framing)


# --- sending and judging -------------------------------------------------------------------------------


def exchange(url: str, case: Case, report: Report) -> None:
    """Send one case on a fresh connection and record what came back."""
    address = urllib.parse.urlsplit(url)
    request = case.request()
    report.cases += 1
    try:
        with socket.create_connection(
            (address.hostname, address.port), timeout=ANSWER_TIMEOUT_SECONDS
        ) as sock:
            # The server may answer (413) and close before reading everything: its answer is still read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(request)
            response = http.client.HTTPResponse(sock, method=case.method)
            response.begin()
            payload = response.read()
    except TimeoutError:
        report.fail(f"no answer within {ANSWER_TIMEOUT_SECONDS:.0f} s", request)
        return
    except (http.client.RemoteDisconnected, ConnectionResetError, http.client.IncompleteRead) as exc:
        report.fail(f"connection dropped without an answer ({type(exc).__name__})", request)
        return
    except http.client.HTTPException as exc:
        report.fail(f"malformed answer ({type(exc).__name__})", request)
        return
    report.statuses[response.status] += 1
    try:
        # No body: an answer to HEAD, or a 204 No Content (a CORS preflight's answer)
        empty = case.method == "HEAD" or (response.status == 204 and not payload)
        answer = {} if empty else json.loads(payload)
    except ValueError:
        report.fail(f"answer is not JSON (HTTP {response.status})", request)
        return
    if response.status >= 500:
        message = str(answer.get("message", "")) if isinstance(answer, dict) else ""
        report.fail(f"HTTP {response.status}: {message[:80]}", request)


def _keys(security: list[dict[str, list[str]]]) -> dict[str, str]:
    """The Authorization header an operation's `security` asks for (docs/openapi.json's schemes)."""
    schemes = {name for requirement in security for name in requirement}
    if "writeKey" in schemes:
        return {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
    if "adminKey" in schemes:
        return {"Authorization": f"Bearer {ADMIN_KEY}"}
    return {}


def schema_fuzz(
    url: str, examples: int, report: Report, random_seed: int | None = None, *, distinct: bool = False
) -> None:
    """Requests generated from the OpenAPI document local mode serves: `examples` that follow it and as many
    that break it, per operation, each checked against `SCHEMA_CHECKS`. `distinct`: an operation the same
    as one already sent to under another path (a short path, /v1/t for /v1/track) is skipped."""
    schema = schemathesis.openapi.from_url(url + OPENAPI_PATH)
    session = requests.Session()
    seen: set[str] = set()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            report.fail(f"operation schemathesis cannot load: {result.err()}"[:120], b"")
            continue
        operation = result.ok()
        raw = operation.definition.raw
        definition = {k: v for k, v in raw.items() if k not in ("operationId", "summary")}
        same = json.dumps([operation.method, definition], sort_keys=True)
        if distinct and same in seen:
            continue
        seen.add(same)
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            _fuzz_operation(operation, mode, url, session, examples, report, random_seed)


def _fuzz_operation(
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    mode: schemathesis.GenerationMode,
    url: str,
    session: requests.Session,
    examples: int,
    report: Report,
    random_seed: int | None,
) -> None:
    headers = _keys(operation.definition.raw.get("security", []))

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=random_seed is None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case[Any]) -> None:
        _exchange_case(case, url, headers, session, report)

    (fuzz if random_seed is None else seed(random_seed)(fuzz))()


def _exchange_case(
    case: schemathesis.Case[Any], url: str, headers: dict[str, str], session: requests.Session, report: Report
) -> None:
    label = case.operation.label
    try:
        response = case.call(base_url=url, headers=headers, session=session, timeout=ANSWER_TIMEOUT_SECONDS)
    except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError):
        return  # a request the client library will not send (a header with a newline): nothing was sent
    except requests.exceptions.RequestException as exc:
        report.cases += 1
        report.fail(f"{label}: no answer ({type(exc).__name__})", case.as_curl_command(headers).encode())
        return
    report.cases += 1
    report.statuses[response.status_code] += 1
    try:
        case.validate_response(response, checks=SCHEMA_CHECKS, headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            _fail(report, label, failure, case.as_curl_command(headers))
    except Failure as failure:
        _fail(report, label, failure, case.as_curl_command(headers))
    if report.cases % 1000 == 0:
        print(f"  {report.cases} cases", file=sys.stderr)


def _fail(report: Report, label: str, failure: Failure, curl: str) -> None:
    report.fail(f"{label}: {failure.title}", f"{curl}\n{failure.message}".encode())


def run(cases_wanted: int, template: Path, random_seed: int | None, examples: int = 0) -> Report:
    report = Report()
    # Local mode's own threads (the pumps, moto) use `random` while Hypothesis generates; that is not ours.
    warnings.filterwarnings("ignore", category=HypothesisDeprecationWarning)
    with tempfile.TemporaryDirectory() as outbox:
        options = LocalOptions(
            template=template,
            write_key=WRITE_KEY,
            admin_key=ADMIN_KEY,
            port=0,
            speed=3600,
            outbox=Path(outbox),
            campaigns=template.parent / "campaigns",
            templates=template.parent / "templates",
            log_level="CRITICAL",
        )
        with LocalRighttime(options) as local:
            for part, wanted, fuzz in (
                ("hostile requests", cases_wanted, hostile_fuzz),
                ("requests from the OpenAPI document", examples, schema_fuzz),
            ):
                if wanted > 0:
                    before, started = report.cases, time.monotonic()
                    fuzz(local.url, wanted, report, random_seed)
                    report.parts[part] = (report.cases - before, time.monotonic() - started)
            _settle(local, report)
    return report


def hostile_fuzz(url: str, cases_wanted: int, report: Report, random_seed: int | None = None) -> None:
    """`cases_wanted` hostile requests (`cases()`), each on a fresh connection."""

    @settings(
        max_examples=cases_wanted,
        deadline=None,
        database=None,
        derandomize=random_seed is None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases())
    def fuzz(case: Case) -> None:
        exchange(url, case, report)
        if report.cases % 1000 == 0:
            print(f"  {report.cases} cases", file=sys.stderr)

    (fuzz if random_seed is None else seed(random_seed)(fuzz))()


def _settle(local: LocalRighttime, report: Report, timeout: float = 120.0) -> None:
    """Let the pipeline evaluate what was accepted; anything it raised or dead-lettered is a failure."""
    queue = local.pipeline.stack.physical["EventsQueue"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = local.pipeline.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        if (
            counts["ApproximateNumberOfMessages"] == "0"
            and counts["ApproximateNumberOfMessagesNotVisible"] == "0"
        ):
            break
        time.sleep(0.5)
    else:
        report.fail("accepted events still queued after the fuzz", b"")
    for error in local.errors:
        report.fail(f"pipeline step raised {type(error).__name__}: {str(error)[:80]}", b"")
    dead = local.pipeline.stack.physical["EventsDLQ"]
    attributes = local.pipeline.sqs.get_queue_attributes(
        QueueUrl=dead, AttributeNames=["ApproximateNumberOfMessages"]
    )
    for _ in range(int(attributes["Attributes"]["ApproximateNumberOfMessages"])):
        report.fail("accepted (200), then dead-lettered at evaluate", b"")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="righttime fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="hostile requests")
    parser.add_argument(
        "--examples",
        type=int,
        default=100,
        help="requests from the OpenAPI document per operation that follow it (as many break it; 0: none)",
    )
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--seed", type=int, default=None, help="a random run instead of the repeatable one")
    args = parser.parse_args(argv)
    started = time.monotonic()
    report = run(args.cases, args.template, args.seed, args.examples)
    elapsed = time.monotonic() - started
    print(
        f"{report.cases} requests in {elapsed:.0f} s; answers: "
        + ", ".join(f"{status}: {count}" for status, count in sorted(report.statuses.items()))
    )
    for part, (sent, seconds) in report.parts.items():
        print(f"  {part}: {sent} in {seconds:.0f} s")
    if not report.failures:
        print(
            "no server errors, no dropped connections, no answer that was not JSON, "
            "and every answer to the document's requests as it declares"
        )
        return 0
    print(f"{sum(report.failures.values())} failures:")
    for category, count in report.failures.most_common():
        print(f"  {count:6d}  {category}")
        if report.examples[category]:
            print(f"          e.g. {report.examples[category][:600]!r}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
