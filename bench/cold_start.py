"""Cold start as Lambda pays it: import a handler AND invoke it once, in a fresh process, against
`import boto3` + one client + one call, with every AWS call answered the same cheap way for both.

How: moto plays AWS once, behind a recording proxy, while each handler handles a realistic event (ingest an
API Gateway request with Basic auth, evaluate an SQS batch of one queued event, the scheduler a stream record,
the sender the schedule's payload for the message evaluate planned, feedback an SES event). The timed runs
then talk to the same proxy replaying what it recorded, without moto: an HTTP round trip on 127.0.0.1 per
call, the same for the baseline's one call. Each run checks that it answered what the recorded run answered.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "common"
PROBE = Path(__file__).resolve().parent / "cold_start_probe.py"
WRITE_KEY = "test-write-key"  # events/ingest-track.json's Basic credentials
ADMIN_KEY = "test-admin-key"
MARK = "COLD_START_PROBE "
METHOD = (
    "fresh process per run; time = import of the handler module + its first invocation with a realistic "
    "event (perf_counter inside the process, interpreter start-up excluded); AWS answered by a local HTTP "
    "stub replaying responses recorded from moto, one 127.0.0.1 round trip per call; baseline = import "
    "boto3 + one SQS client + one SendMessage through the same stub; medians of interleaved runs"
)


@dataclass(frozen=True)
class Case:
    """One handler's cold start: its code, its Lambda function and the event of its first invocation."""

    folder: str
    module: str
    logical_id: str
    event: str  # a file in events/, or the name of an event the recording builds


CASES: dict[str, Case] = {
    "ingest": Case("functions/ingest", "ingest_handler", "IngestFunction", "ingest-track.json"),
    "evaluate": Case("functions/evaluate", "evaluate_handler", "EvaluateFunction", "evaluate-sqs.json"),
    "scheduler": Case(
        "functions/scheduler", "scheduler_handler", "SchedulerFunction", "scheduler-stream.json"
    ),
    "sender": Case("functions/sender", "sender_handler", "SenderFunction", "sender (pending message)"),
    "api": Case("functions/api", "api_handler", "ApiFunction", "api (GET decisions)"),
    "feedback": Case("functions/feedback", "feedback_handler", "FeedbackFunction", "feedback-delivery.json"),
}


def _operation(handler: BaseHTTPRequestHandler) -> str:
    """service:operation of a signed botocore request (JSON protocols name it, REST ones by method + path)."""
    credential = handler.headers.get("Authorization", "").split("Credential=")[-1].split("/")
    service = credential[3] if len(credential) > 3 else "?"
    target = handler.headers.get("X-Amz-Target")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    if handler.path == "/" and handler.command == "POST":  # query protocol: the action is in the body
        return f"{service}:query"
    segments = [s for s in handler.path.split("?")[0].split("/") if s]
    return f"{service}:{handler.command} /{'/'.join(segments[:3] if service == 'sesv2' else segments[:1])}"


class StubAws:
    """A local HTTP endpoint for botocore: records moto's answers per script, then replays them in order."""

    def __init__(self) -> None:
        self.upstream: str | None = None  # recording when set
        self.script = ""
        self.recorded: dict[str, dict[str, list[tuple[int, list[tuple[str, str]], bytes]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self._served: dict[str, int] = defaultdict(int)
        self.calls: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else a delayed ACK adds 40 ms to every kept-alive call

            def log_message(self, *_: Any) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, payload = stub.answer(self, body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def start(self, script: str, upstream: str | None = None) -> None:
        self.script, self.upstream = script, upstream
        self._served.clear()
        self.calls = []

    def answer(
        self, request: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        operation = _operation(request)
        self.calls.append(operation)
        recorded = self.recorded[self.script][operation]
        if self.upstream is not None:
            forwarded = urllib.request.Request(  # noqa: S310 - moto on 127.0.0.1
                self.upstream + request.path,
                data=body if body or request.command != "GET" else None,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                method=request.command,
            )
            try:
                with urllib.request.urlopen(forwarded) as response:  # noqa: S310
                    status, raw_headers, payload = response.status, response.headers.items(), response.read()
            except urllib.error.HTTPError as error:
                status, raw_headers, payload = error.code, error.headers.items(), error.read()
            keep = [
                (k, v)
                for k, v in raw_headers
                if k.lower() not in {"content-length", "transfer-encoding", "connection", "date", "server"}
            ]
            recorded.append((status, keep, payload))
            return status, keep, payload
        if not recorded:
            return 500, [("Content-Type", "text/plain")], f"nothing recorded for {operation}".encode()
        index = min(self._served[operation], len(recorded) - 1)
        self._served[operation] += 1
        return recorded[index]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Setup:
    stub: StubAws
    environments: dict[str, dict[str, str]]
    events: dict[str, Path]
    paths: dict[str, list[str]]
    expected: dict[str, str] = field(default_factory=dict)
    calls: dict[str, list[str]] = field(default_factory=dict)
    queue_url: str = ""


_DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}  # moto's, not AWS's


def _aws_environment(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": _DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": _DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _run_probe(args: list[str], env: dict[str, str], importtime: bool = False) -> tuple[dict[str, Any], str]:
    flags = ["-X", "importtime"] if importtime else []
    out = subprocess.run(
        [sys.executable, *flags, str(PROBE), *args], capture_output=True, text=True, env=env, check=False
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith(MARK)]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"cold-start probe failed ({' '.join(args[:2])}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len(MARK) :]), out.stderr


@contextmanager
def recorded(content_dir: Path, workdir: Path) -> Iterator[Setup]:
    """Play every case once on moto behind the stub, so the timed runs can replay it."""
    import boto3

    from righttime_dev.local.provision import provision
    from righttime_dev.local.server import embedded_aws

    stub = StubAws()
    try:
        with embedded_aws() as moto:
            aws = _aws_environment(moto)
            session = boto3.session.Session(
                aws_access_key_id=_DUMMY_CREDENTIALS["aws_access_key_id"],
                aws_secret_access_key=_DUMMY_CREDENTIALS["aws_secret_access_key"],
                region_name="us-east-1",
            )
            stack = provision(ROOT / "template.yaml", {"SenderAddress": "shop@example.com"}, session, moto)
            ssm = session.client("ssm", endpoint_url=moto)
            for name, value in (("WriteKeysParameterName", WRITE_KEY), ("AdminKeysParameterName", ADMIN_KEY)):
                ssm.put_parameter(
                    Name=stack.parameters[name], Value=value, Type="SecureString", Overwrite=True
                )
            environments: dict[str, dict[str, str]] = {}
            for name, case in CASES.items():
                environments[name] = {
                    **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
                    **stack.functions[case.logical_id].environment,
                    **_aws_environment(stub.url),
                    "CAMPAIGNS_DIR": str(content_dir / "campaigns"),
                    "TEMPLATES_DIR": str(content_dir / "templates"),
                    "AWS_LAMBDA_FUNCTION_NAME": case.logical_id,  # as Lambda sets it: INIT work happens
                    "POWERTOOLS_TRACE_DISABLED": "true",
                }
            setup = Setup(
                stub=stub,
                environments=environments,
                events={name: ROOT / "events" / case.event for name, case in CASES.items()},
                paths={name: [str(LAYER), str(ROOT / case.folder)] for name, case in CASES.items()},
                queue_url=stack.physical["EventsQueue"],
            )
            setup.events["sender"] = workdir / "sender.json"
            setup.events["api"] = workdir / "api.json"
            _write_api_event(setup.events["api"])
            # A customer whose afternoon it is, who identified and then left a lamp in the cart two hours
            # ago: evaluate plans the reminder, and the sender finds it due and inside its window.
            identify, track = _queued_events(workdir)
            setup.events["evaluate"] = track
            stub.start("seed", upstream=moto)
            _run_probe(
                ["handler", "evaluate_handler", str(identify), *setup.paths["evaluate"]],
                setup.environments["evaluate"],
            )
            for name, case in CASES.items():
                if name == "sender":  # the message evaluate just planned, as its schedule would name it
                    _write_sender_event(setup.events["sender"], session.client("dynamodb", endpoint_url=moto))
                stub.start(name, upstream=moto)
                result, _ = _run_probe(
                    ["handler", case.module, str(setup.events[name]), *setup.paths[name]],
                    setup.environments[name],
                )
                setup.expected[name], setup.calls[name] = result["outcome"], stub.calls
            stub.start("baseline", upstream=moto)
            result, _ = _run_probe(
                ["baseline", setup.queue_url], {**os.environ, **_aws_environment(stub.url)}
            )
            setup.expected["baseline"], setup.calls["baseline"] = result["outcome"], stub.calls
            del aws
        yield setup
    finally:
        stub.close()


def _write_sender_event(path: Path, dynamodb: Any) -> None:
    items = [
        item
        for page in dynamodb.get_paginator("scan").paginate(TableName="MessagesTable")  # bench set-up only
        for item in page["Items"]
        if item["sk"]["S"].startswith("MSG#") and item.get("status", {}).get("S") == "pending"
    ]
    if not items:
        raise RuntimeError("evaluate planned no message: the sender's cold start has nothing to send")
    item = items[0]
    path.write_text(
        json.dumps(
            {
                "customer_id": item["customer_id"]["S"],
                "message_id": item["message_id"]["S"],
                "address_key": item.get("address_key", {}).get("S"),
            }
        )
    )


def _queued_events(workdir: Path) -> tuple[Path, Path]:
    """evaluate-sqs.json's batch, once with an identify and once with the track two hours ago, in a zone
    where it is early afternoon now (Etc/GMT zones count the other way round)."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)  # the bench's own set-up: the handlers read their clock
    offset = (13 - now.hour + 12) % 24 - 12
    zone = f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    template = json.loads((ROOT / "events" / "evaluate-sqs.json").read_text())
    queued = json.loads(template["Records"][0]["body"])
    written = []
    identify = json.loads(json.loads((ROOT / "events" / "ingest-identify.json").read_text())["body"])
    for name, minutes, original in (("identify", 125, identify), ("track", 120, queued["message"])):
        at = (now - timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message = {**original, "timestamp": at, "type": name, "context": {"timezone": zone}}
        if name == "identify":
            message["traits"] = {**message["traits"], "timezone": zone}
        body = {"message": message, "received_at": at, "occurred_at": at}
        event = json.loads(json.dumps(template))
        event["Records"][0].update(body=json.dumps(body), messageId=f"cold-start-{name}")
        path = workdir / f"evaluate-{name}.json"
        path.write_text(json.dumps(event))
        written.append(path)
    return written[0], written[1]


def _write_api_event(path: Path) -> None:
    event = json.loads((ROOT / "events" / "ingest-track.json").read_text())
    route = "GET /v1/profiles/{userId}/decisions"
    event.update(
        routeKey=route,
        rawPath="/live/v1/profiles/cust-42/decisions",
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        pathParameters={"userId": "cust-42"},
        isBase64Encoded=False,
    )
    event.pop("body")
    event["requestContext"].update(routeKey=route)
    event["requestContext"]["http"].update(method="GET", path=event["rawPath"])
    path.write_text(json.dumps(event))


def _probe_args(setup: Setup, name: str) -> tuple[list[str], dict[str, str]]:
    if name == "baseline":
        return ["baseline", setup.queue_url], {**os.environ, **_aws_environment(setup.stub.url)}
    case = CASES[name]
    return ["handler", case.module, str(setup.events[name]), *setup.paths[name]], setup.environments[name]


def _timed(setup: Setup, name: str) -> dict[str, Any]:
    setup.stub.start(name)
    args, env = _probe_args(setup, name)
    result, _ = _run_probe(args, env)
    if result["outcome"] != setup.expected[name]:
        raise RuntimeError(
            f"{name} answered {result['outcome']!r} on replay, {setup.expected[name]!r} on moto"
        )
    return result


def heaviest_imports(setup: Setup, name: str, top: int = 6) -> dict[str, list[dict[str, Any]]]:
    """The costliest imports (cumulative, `python -X importtime`) at INIT, those the handler module makes
    and its own body's time, and those made during the first call."""
    setup.stub.start(name)
    args, env = _probe_args(setup, name)
    _, stderr = _run_probe(args, env, importtime=True)
    phases: dict[str, list[dict[str, Any]]] = {"init": [], "first_call": []}
    seen: list[tuple[str, int, str, float]] = []  # phase, depth, module, cumulative ms
    module_name = CASES[name].module if name in CASES else "boto3"
    phase: str | None = None
    for line in stderr.splitlines():
        if line.startswith("-- init --"):
            phase = "init"
        elif line.startswith("-- first call --"):
            phase = "first_call"
        elif phase is not None and line.startswith("import time:") and "cumulative" not in line:
            self_us, cumulative_us, module = line.split(":", 1)[1].split("|")
            depth = (len(module) - len(module.lstrip()) - 1) // 2
            if phase == "init" and module.strip() == module_name:
                # The handler module's own body: its warm() builds the clients and content at INIT.
                ms = round(int(self_us) / 1000, 1)
                phases[phase].append({"module": f"{module_name} body (warm)", "cumulative_ms": ms})
            else:
                seen.append((phase, depth, module.strip(), round(int(cumulative_us) / 1000, 1)))
    for phase_name in phases:
        # importtime lists a module after what it imports: keep the shallowest level, the direct imports
        depths = [depth for p, depth, _, _ in seen if p == phase_name] or [0]
        phases[phase_name] += [
            {"module": module, "cumulative_ms": ms}
            for p, depth, module, ms in seen
            if p == phase_name and depth == min(depths)
        ]
    for phase_name, rows in phases.items():
        phases[phase_name] = sorted(rows, key=lambda r: -float(r["cumulative_ms"]))[:top]
    return phases


def first_call_costs(setup: Setup, name: str, top: int = 8) -> list[dict[str, Any]]:
    """righttime's costliest steps in the first invocation (cumulative, cProfile: nested steps overlap)."""
    setup.stub.start(name)
    args, env = _probe_args(setup, name)
    _, stderr = _run_probe(args, {**env, "COLD_START_PROFILE": "1"})
    rows: list[dict[str, Any]] = []
    for line in stderr.splitlines():
        if line.startswith("-- first call cost -- "):
            ms, step = line.removeprefix("-- first call cost -- ").split(" ", 1)
            if all(row["step"] != step for row in rows):  # a cached_property shows as two frames
                rows.append({"step": step, "cumulative_ms": float(ms)})
    return rows[:top]


def measure(runs: int, content_dir: Path | None = None) -> dict[str, Any]:
    """Median (import + first invocation) of each handler against the baseline, interleaved runs."""
    with tempfile.TemporaryDirectory(prefix="righttime-cold-") as tmp:
        work = Path(tmp)
        content = content_dir or build_content(work / "content")
        with recorded(content, work) as setup:
            names = ["baseline", *CASES]
            for name in names:  # warm the bytecode caches first
                _timed(setup, name)
            samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for _ in range(runs):  # interleaved, so a noisy moment hurts every figure alike
                for name in names:
                    samples[name].append(_timed(setup, name))

            def median(name: str, part: str | None = None) -> float:
                values = [s["init_s"] + s["first_call_s"] if part is None else s[part] for s in samples[name]]
                return float(statistics.median(values))

            baseline = median("baseline")
            result: dict[str, Any] = {
                "runs": runs,
                "method": METHOD,
                "content": "built by layers/content/Makefile (build-ContentLayer), as the ContentLayer",
                "baseline_ms": round(baseline * 1000, 1),
                "baseline": "import boto3 + one SQS client + one SendMessage, fresh process",
                "baseline_calls": setup.calls["baseline"],
                "handlers": {},
            }
            for name, case in CASES.items():
                total = median(name)
                result["handlers"][name] = {
                    "ms": round(total * 1000, 1),
                    "init_ms": round(median(name, "init_s") * 1000, 1),
                    "first_call_ms": round(median(name, "first_call_s") * 1000, 1),
                    "ratio": round(total / baseline, 2),
                    "event": case.event,
                    "outcome": setup.expected[name],
                    "aws_calls": setup.calls[name],
                    "heaviest_imports": heaviest_imports(setup, name),
                    "first_call_costs": first_call_costs(setup, name),
                }
            return result


def build_content(into: Path) -> Path:
    """The ContentLayer as `sam build` makes it (the same Makefile target), into `into`."""
    into.mkdir(parents=True, exist_ok=True)
    command = ["make", "--no-print-directory", "-C", str(ROOT / "layers" / "content"), "build-ContentLayer"]
    subprocess.run(
        [*command, f"ARTIFACTS_DIR={into}", f"RIGHTTIME_ROOT={ROOT}", f"PYTHON={sys.executable}"],
        check=True,
        capture_output=True,
    )
    return into
