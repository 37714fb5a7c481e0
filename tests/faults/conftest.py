"""Fault injection under the real handlers: faults are injected at botocore's HTTP layer (`before-send`), so
every line of righttime above it (adapters, use cases, handlers) meets them as it would on AWS.

A fault can fail a request before it leaves, apply it and then lose the answer (what a dropped connection or
a 500 after the write does), or crash the invocation (an exception no code catches, as a Lambda timeout or an
out-of-memory kill would end it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

from righttime.core.clock import VirtualClock
from righttime.wiring.root import root
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.functional.conftest import moto_endpoint, pipeline, post  # noqa: F401 - fixtures for this tier

CUSTOMER = "fault-cust"
ADDRESS = "fault.cust@example.com"


class Crash(BaseException):
    """The invocation dies here (a timeout, an out-of-memory kill): nothing in righttime may catch it."""


@dataclass
class Fault:
    service: str
    operation: str
    #: what to do: "crash-before", "crash-after" (applied, then the invocation dies), "lose-response"
    #: (applied, then a timeout), "error" (refused with `code`/`status`, not applied), "call" (run `action`)
    kind: str
    times: int = 1
    when: Callable[[AWSPreparedRequest], bool] = lambda request: True
    code: str = "InternalServerError"
    status: int = 500
    action: Callable[[], None] | None = None
    #: more fields of the error's JSON body (e.g. a transaction's CancellationReasons)
    extra: dict[str, Any] = field(default_factory=dict)
    fired: int = 0


@dataclass
class Faults:
    """Faults armed on the clients of the installed composition root."""

    faults: list[Fault] = field(default_factory=list)
    _http: URLLib3Session = field(default_factory=URLLib3Session)

    def arm(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def install(self) -> None:
        parts = root()
        for client in (parts.store.client, parts.mailer.client):  # type: ignore[attr-defined]
            client.meta.events.register_first("before-send.*.*", self._before_send)

    def _before_send(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        for fault in self.faults:
            if fault.fired >= fault.times or not _matches(fault, request, target):
                continue
            fault.fired += 1
            match fault.kind:
                case "crash-before":
                    raise Crash(f"{fault.operation}: invocation died before the call")
                case "error":
                    return _error(fault)
                case "call":
                    assert fault.action is not None
                    fault.action()
                    return None
            response = self._http.send(request)  # the call takes effect...
            if fault.kind == "crash-after":
                raise Crash(
                    f"{fault.operation}: invocation died after the call (status {response.status_code})"
                )
            raise ReadTimeoutError(endpoint_url=request.url)  # ...and its answer is lost
        return None


def _matches(fault: Fault, request: AWSPreparedRequest, target: str) -> bool:
    if fault.service == "dynamodb":
        return target.endswith("." + fault.operation) and fault.when(request)
    return fault.operation in request.url and fault.when(request)


def _error(fault: Fault) -> AWSResponse:
    body = json.dumps({"__type": fault.code, "message": f"injected {fault.code}", **fault.extra}).encode()
    headers = {"x-amzn-ErrorType": fault.code, "Content-Type": "application/x-amz-json-1.0"}
    raw = _Raw(body)
    return AWSResponse("https://injected", fault.status, headers, raw)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


def body_has(text: str) -> Callable[[AWSPreparedRequest], bool]:
    """A request whose body mentions `text` (a table, an attribute, a condition)."""

    def check(request: AWSPreparedRequest) -> bool:
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        return text.encode() in body

    return check


@pytest.fixture
def faults(pipeline: Pipeline) -> Faults:  # noqa: F811 - the functional tier's fixture
    injector = Faults()
    injector.install()
    return injector


def reminder_due(pipeline: Pipeline, clock: VirtualClock) -> dict[str, Any]:  # noqa: F811
    """A known customer with a cart reminder due now; the sender's input for it."""
    assert post(pipeline, "/v1/identify", {"userId": CUSTOMER, "traits": {"email": ADDRESS}})[0] == 200
    added = {
        "userId": CUSTOMER,
        "event": "Product Added",
        "properties": {"product_id": "lamp", "name": "Lamp"},
    }
    assert post(pipeline, "/v1/track", added)[0] == 200
    pipeline.run_until_idle()
    clock.advance(timedelta(hours=1, minutes=2))
    ((_, _, payload),) = pipeline.due_schedules()
    return dict(json.loads(payload))


def send(pipeline: Pipeline, payload: dict[str, Any], millis_left: int = 30_000) -> dict[str, Any]:  # noqa: F811
    """One sender invocation, as EventBridge Scheduler makes it."""

    class Context(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return millis_left

    result = pipeline.handlers["SenderFunction"](payload, Context(function_name="SenderFunction"))
    return dict(result)


def emails(pipeline: Pipeline) -> int:  # noqa: F811
    pipeline.collect_sent()
    return len(pipeline.sent)
