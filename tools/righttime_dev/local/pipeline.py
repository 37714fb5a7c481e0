"""Drives the real handlers the way AWS would: API Gateway events for ingest, SQS batches for evaluate,
stream batches for the scheduler, schedule firings for the sender, and an outbox for what SES sent."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import sys
import threading
import urllib.parse
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from righttime.adapters.dynamodb import decisions_from_item
from righttime.core.addresses import address_key, normalise_address
from righttime.core.clock import Clock, isoformat
from righttime.core.decisions import Decision
from righttime.core.due import due_at_from_value, sweep_instant
from righttime.wiring.observability import metrics
from righttime.wiring.root import from_environment, install
from righttime_dev.local import moto_fixes
from righttime_dev.local.provision import ACCOUNT, REGION, Stack, provision
from righttime_dev.local.ses_events import (
    DEFAULT_LINK,
    ENGAGEMENT,
    Fate,
    events_for,
    matches,
    recipient,
    simulator_fate,
)

Handler = Callable[[dict[str, Any], Any], Any]
#: Functions that only put events on the queue: their requests run beside the pumps, as on AWS, instead of
#: waiting for the pipeline's lock (a 10,000-message batch would stall evaluation, and evaluation the API).
QUEUE_ONLY_FUNCTIONS = frozenset({"IngestFunction"})
#: local mode's own route to make SES bounce or complain (never deployed)
LOCAL_SES_PATH = "/local/ses/"
#: local mode's own route to the OpenAPI document of the functions it runs (docs/api.md)
OPENAPI_PATH = "/openapi.json"
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
#: how often the clock runs the sweeper, as its rate() schedule does (SweepIntervalMinutes' default)
SWEEP_EVERY = timedelta(minutes=5)
#: the due sweep's interval when the template names none (DueSweepMinutes' default)
DUE_SWEEP_EVERY = timedelta(minutes=15)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: runs of the due sweep for one mark at most: each queues up to its bound (3,200 customers)
_DUE_MAKE_UPS = 100


@dataclass
class LambdaContext:
    """Enough of Lambda's context object for Powertools."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass(frozen=True)
class SentEmail:
    ses_message_id: str
    raw: bytes
    path: Path | None


@dataclass(frozen=True)
class Envelope:
    """Who a sent e-mail went to and what it said, as a reader sees them: what `righttime simulate` shows."""

    ses_message_id: str
    to: str
    subject: str

    @classmethod
    def of(cls, ses_message_id: str, headers: Message) -> Envelope:
        """From a message's headers, raw (RFC 2047 encoded words are decoded) or as built."""
        return cls(
            ses_message_id,
            str(make_header(decode_header(str(headers["To"] or "")))),
            str(make_header(decode_header(str(headers["Subject"] or "")))),
        )


def quiet_powertools() -> None:
    """Local runs publish no metrics: Powertools reads this switch from the environment at every flush."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def load_handler(code_dir: Path, handler: str, logical_id: str) -> Handler:
    """Import a function's module from its CodeUri, as Lambda would, under a name unique to the function."""
    module_name, _, attribute = handler.rpartition(".")
    unique = f"righttime_fn_{logical_id}"
    module: ModuleType | None = sys.modules.get(unique)
    if module is None:
        spec = importlib.util.spec_from_file_location(
            unique, code_dir / f"{module_name.replace('.', '/')}.py"
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {handler} from {code_dir}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
    return getattr(module, attribute)  # type: ignore[no-any-return]


class Driver:
    """What every engine shares: the real handlers, loaded from the template's functions, driven the way AWS
    would drive them. Engines differ only in where queues, streams, schedules and mail live."""

    def __init__(self, stack: Stack, clock: Clock, outbox: Path | None = None) -> None:
        self.stack = stack
        self.clock = clock
        self.outbox = outbox
        self.lock = threading.RLock()
        #: one request at a time per function, as one Lambda container takes (handlers keep per-request state)
        self.function_locks = {logical_id: threading.Lock() for logical_id in stack.functions}
        self.handlers = {lid: load_handler(f.code_dir, f.handler, lid) for lid, f in stack.functions.items()}
        self.sent: list[SentEmail] = []
        self.on_sent: list[Callable[[SentEmail], None]] = []
        #: called with every decision as it is recorded (read from the messages table's stream)
        self.on_decision: list[Callable[[Decision], None]] = []
        #: rounds of `step()` completed, so callers can wait for the pipeline to have looked again
        self.steps = 0
        #: SES's events waiting for delivery to the functions whose EventBridge rules match them
        self.ses_events: list[dict[str, Any]] = []
        #: normalised address -> what SES does with mail to it (set by `simulate_ses`)
        self.ses_fates: dict[str, Fate] = {}
        #: the SWEEP_EVERY slot of the clock the sweeper last ran in
        self._swept_slot: int | None = None
        #: how often the due sweep runs, on the hour's grid, as the template's cron schedule says
        self.due_sweep_every = timedelta(
            minutes=int(stack.parameters.get("DueSweepMinutes") or DUE_SWEEP_EVERY.total_seconds() // 60)
        )
        #: the due_sweep_every slot of the clock the due sweep last ran in
        self._due_swept_slot: int | None = None

    # -- API Gateway ---------------------------------------------------------------------------------------
    def route(self, method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
        """The function, resource and path parameters the template's API events give a request. `path` is
        the raw path, still percent-encoded: it is split into segments first and each decoded after, so a
        `%2F` stays inside its segment (the path parameter's value is decoded)."""
        parts = path.strip("/").split("/")
        for logical_id, function in self.stack.functions.items():
            for route_method, resource in function.routes:
                pattern = resource.strip("/").split("/")
                if route_method != method.upper() or len(pattern) != len(parts):
                    continue
                if all(
                    p == urllib.parse.unquote(v) or p.startswith("{")
                    for p, v in zip(pattern, parts, strict=True)
                ):
                    params = {
                        p[1:-1]: urllib.parse.unquote(v)
                        for p, v in zip(pattern, parts, strict=True)
                        if p.startswith("{")
                    }
                    return logical_id, resource, params
        return None

    def http(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        query: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Turn one HTTP request into an HTTP API event (payload format 2.0) for the function the template
        routes it to; answer with the status, headers and body API Gateway would send back. `path` is the raw
        (percent-encoded) path, and the event's `rawPath` keeps it so."""
        if path.startswith(LOCAL_SES_PATH):
            return self._local_ses_route(method, path, query or {})
        if path == OPENAPI_PATH:
            return self._openapi_route(method)
        found = self.route(method, path)
        if found is None:  # what an HTTP API answers for a method and path no route matches
            return 404, {"Content-Type": "application/json"}, b'{"message":"Not Found","errors":[]}'
        function, route_path, params = found
        route_key = f"{method.upper()} {route_path}"
        now = self.clock.now()
        stage = "live"  # the template's StageName: a named stage is part of the path, as in the deployed URL
        raw_path = f"/{stage}{path}"
        lowered = {name.lower(): value for name, value in headers.items()}
        cookies = [c.strip() for c in lowered.pop("cookie", "").split(";") if c.strip()]
        # A body of a text content type arrives as text, anything else base64-encoded. Bytes that are not
        # UTF-8 (a gzip body) are sent base64-encoded, whatever their content type.
        content_type = lowered.get("content-type", "").split(";")[0].strip().lower()
        text: str | None = None
        if content_type.startswith("text/") or content_type in (
            "application/json",
            "application/xml",
            "application/javascript",
        ):
            with contextlib.suppress(UnicodeDecodeError):
                text = body.decode("utf-8")
        event = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": urllib.parse.urlencode(query or {}),
            **({"cookies": cookies} if cookies else {}),
            "headers": lowered,
            **({"queryStringParameters": query} if query else {}),
            **({"pathParameters": params} if params else {}),
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "local",
                "domainName": "127.0.0.1",
                "http": {
                    "method": method.upper(),
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": lowered.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route_key,
                "stage": stage,
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            **({"body": text if text is not None else base64.b64encode(body).decode()} if body else {}),
            "isBase64Encoded": bool(body) and text is None,
        }
        with self.function_locks[function], contextlib.ExitStack() as turn:
            if function not in QUEUE_ONLY_FUNCTIONS:
                turn.enter_context(self.lock)
            response = self._invoke(function, event)
        payload = response.get("body") or ""
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        return int(response["statusCode"]), response_headers(response), raw

    # -- what each engine provides -------------------------------------------------------------------------
    def pump_queue(self) -> int:
        """Deliver waiting events to evaluate, as SQS batches; returns how many were delivered."""
        raise NotImplementedError

    def pump_stream(self) -> int:
        """Deliver new message changes to the scheduler function and new decisions to `on_decision`."""
        raise NotImplementedError

    def due_schedules(self) -> list[tuple[datetime, str, str]]:
        """(fire instant, name, input) of every schedule, earliest first."""
        raise NotImplementedError

    def fire_due(self) -> int:
        """Invoke the sender for every schedule whose instant has come, and delete it."""
        raise NotImplementedError

    def collect_sent(self) -> list[SentEmail]:
        """Emails the mail service accepted since the last call."""
        raise NotImplementedError

    def earliest_due(self) -> datetime | None:
        """The earliest instant in the date index, or None when it is empty (the driver only reads it, to know
        when the due sweep will find someone)."""
        raise NotImplementedError

    def collect_envelopes(self) -> list[Envelope]:
        """To and Subject of the emails the mail service accepted since the last call: the headers only,
        which is all a simulation shows and a fraction of the cost of parsing whole messages."""
        return [
            Envelope.of(sent.ses_message_id, BytesHeaderParser(policy=compat32).parsebytes(sent.raw))
            for sent in self.collect_sent()
        ]

    # -- driving -------------------------------------------------------------------------------------------
    def next_fire_at(self) -> datetime | None:
        schedules = self.due_schedules()
        return schedules[0][0] if schedules else None

    def next_due_sweep_at(self) -> datetime | None:
        """The next run of the due sweep that finds a customer due: the earliest `due_at` of the date index
        rounded up to the sweep's grid, and never a slot the sweep ran in already. None: nobody is due.
        A simulation jumps from run to run this way, without visiting the empty ones."""
        if "DueFunction" not in self.handlers:
            return None
        earliest = self.earliest_due()
        if earliest is None:
            return None
        at = sweep_instant(earliest, self.due_sweep_every)
        if self._due_swept_slot is not None:
            at = max(at, _EPOCH + self.due_sweep_every * (self._due_swept_slot + 1))
        return at

    def step(self) -> int:
        """One round of every pump; returns how much work was done."""
        work = self.pump_queue() + self.pump_stream() + self.fire_due() + self.sweep_if_due()
        work += self.sweep_due_if_due()
        work += self.pump_stream()  # the sender's and sweeper's writes may cancel or move other schedules
        self.collect_sent()
        work += self.emit_ses_events()
        self.steps += 1
        return work

    def sweep_if_due(self) -> int:
        """Run the sweeper once in each SWEEP_EVERY slot the clock enters, as its schedule would, so a
        crashed attempt is recovered locally too; returns how many stuck messages it acted on."""
        if "SweeperFunction" not in self.handlers:
            return 0
        slot = int(self.clock.now().timestamp() // SWEEP_EVERY.total_seconds())
        if slot == self._swept_slot:
            return 0
        self._swept_slot = slot
        with self.lock:
            result = self._invoke("SweeperFunction", {"sweep": "in-flight"})
        return int((result or {}).get("stuck", 0))

    def sweep_due_if_due(self) -> int:
        """Run the due sweep once in each slot of its grid the clock enters, as its cron schedule would,
        scheduled for the slot's start (which the run works as of); returns how many due events it queued.

        A run stopped at its bound is made up at once, for the same mark, as an operator would: on AWS the
        next run takes the rest, but here the bound would split a burst differently on each shard of a
        simulation, whose output must not depend on how its customers are sharded."""
        if "DueFunction" not in self.handlers:
            return 0
        slot = (self.clock.now() - _EPOCH) // self.due_sweep_every
        if slot == self._due_swept_slot:
            return 0
        self._due_swept_slot = slot
        scheduled = isoformat(_EPOCH + slot * self.due_sweep_every).replace(".000Z", "Z")
        queued = 0
        for _ in range(_DUE_MAKE_UPS):
            with self.lock:
                result = self._invoke("DueFunction", {"sweep": "due", "scheduled_at": scheduled}) or {}
            queued += int(result.get("queued", 0))
            if not result.get("incomplete"):
                break
        return queued

    def run_until_idle(self, max_rounds: int = 1000) -> None:
        for _ in range(max_rounds):
            if self.step() == 0:
                return
        raise RuntimeError(f"local pipeline still busy after {max_rounds} rounds")

    def _invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        context = LambdaContext(function_name=logical_id, aws_request_id=str(uuid.uuid4()))
        try:
            return self.handlers[logical_id](event, context)
        finally:
            # With POWERTOOLS_METRICS_DISABLED, Powertools skips the flush but keeps the metrics: in a
            # long-running local process they would pile up, and print all at once if ever enabled.
            metrics.clear_metrics()

    # -- SES's events (moto publishes none) ----------------------------------------------------------------
    def simulate_ses(self, address: str, fate: Fate, link: str = DEFAULT_LINK) -> str | None:
        """From now on SES treats mail to `address` as `fate` (bounce, soft-bounce, complaint, deliver, ...);
        if mail already went to it, SES reports the fate of the latest such message now. `open` and `click`
        (following `link`) happen to the latest message only. Returns the SES id of that message, or None."""
        wanted = normalise_address(address)
        with self.lock:
            if fate not in ENGAGEMENT:
                self.ses_fates[wanted] = fate
            latest = next(
                (s for s in reversed(self.sent) if normalise_address(recipient(s.raw)) == wanted), None
            )
            if latest is None or fate is Fate.DELIVER:
                return None
            self.ses_events += events_for(
                fate,
                latest.raw,
                latest.ses_message_id,
                self.clock.now(),
                self._configuration_set(),
                already_sent=True,
                link=link,
            )
            return latest.ses_message_id

    def emit_ses_events(self) -> int:
        """Deliver SES's waiting events to every function whose EventBridge rule matches, as EventBridge
        would (one invocation per event); returns how many were delivered."""
        with self.lock:
            waiting, self.ses_events = self.ses_events, []
            for event in waiting:
                for logical_id, function in self.stack.functions.items():
                    if any(matches(rule, event) for rule in function.rules):
                        self._invoke(logical_id, event)
        return len(waiting)

    def _configuration_set(self) -> str:
        return self.stack.ref("ConfigurationSet", None)

    def _local_ses_route(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """`POST /local/ses/{fate}?address=…`: local mode's own route (never deployed) to make SES bounce,
        complain about or deliver mail to an address."""
        reply = {"Content-Type": "application/json"}
        fates = ", ".join(f.value for f in Fate)
        name = path[len(LOCAL_SES_PATH) :].strip("/")
        if method.upper() != "POST":
            return (
                405,
                reply,
                json.dumps({"message": f"use POST {LOCAL_SES_PATH}{{fate}}?address=…"}).encode(),
            )
        try:
            fate = Fate(name)
        except ValueError:
            return (
                404,
                reply,
                json.dumps({"message": f"unknown fate {name[:40]!r}: use one of {fates}"}).encode(),
            )
        address = query.get("address", "").strip()
        if "@" not in address:
            return 400, reply, json.dumps({"message": "address: give the recipient as ?address=…"}).encode()
        ses_message_id = self.simulate_ses(address, fate, query.get("link") or DEFAULT_LINK)
        if ses_message_id is None and fate in ENGAGEMENT:
            message = f"no mail has reached {address[:80]!r} yet: nothing to {fate.value}"
            return 409, reply, json.dumps({"message": message}).encode()
        body = {"fate": fate.value, "address_key": address_key(address), "reported_for": ses_message_id}
        return 202, reply, json.dumps(body).encode()

    def _openapi_route(self, method: str) -> tuple[int, dict[str, str], bytes]:
        """`GET /openapi.json`: the OpenAPI document of the functions this stack runs, generated from them."""
        from righttime_dev.openapi import document_json  # it imports this module

        if method.upper() not in ("GET", "HEAD"):
            body = json.dumps({"message": f"use GET {OPENAPI_PATH}", "errors": []}).encode()
            return 405, {"Content-Type": "application/json", "Allow": "GET, HEAD"}, body
        return 200, {"Content-Type": "application/json"}, document_json(self.stack.template_path)

    def _deliver(self, ses_message_id: str, raw: bytes) -> SentEmail:
        """Record one email the mail service accepted (and write it to the outbox, if there is one)."""
        path = None
        if self.outbox is not None:
            self.outbox.mkdir(parents=True, exist_ok=True)
            stamp = self.clock.now().strftime("%Y%m%dT%H%M%SZ")
            path = self.outbox / f"{stamp}-{ses_message_id[:24]}.eml"
            path.write_bytes(raw)
        email = SentEmail(ses_message_id=ses_message_id, raw=raw, path=path)
        self.sent.append(email)
        to = recipient(raw)
        with self.lock:  # the local server's /local/ses route sets fates from its own threads
            fate = simulator_fate(to) or self.ses_fates.get(normalise_address(to), Fate.DELIVER)
            self.ses_events += events_for(
                fate, raw, ses_message_id, self.clock.now(), self._configuration_set()
            )
        for callback in self.on_sent:
            callback(email)
        return email


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    """A proxy response's headers, from `headers` and `multiValueHeaders` (Powertools answers with the
    latter), as one mapping; repeated values are joined, as HTTP allows."""
    merged: dict[str, str] = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if values:
            merged[name] = ", ".join(str(v) for v in values)
    return merged


def local_environment(stack: Stack, aws: dict[str, str], app: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the functions see: the template's variables, then where AWS is, then local settings."""
    return {**stack.environment(), **aws, **(app or {})}


class Pipeline(Driver):
    """The deployed stack, played locally on moto. Call `run_until_idle()` to let every queue drain."""

    def __init__(
        self,
        stack: Stack,
        clock: Clock,
        outbox: Path | None = None,
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        super().__init__(stack, clock, outbox)
        self.session = session or boto3.session.Session()
        self.sqs = self.session.client("sqs", region_name=REGION, endpoint_url=endpoint_url)
        self.scheduler = self.session.client("scheduler", region_name=REGION, endpoint_url=endpoint_url)
        self._stream_position = 0
        self._seen_ses = 0
        #: schedule name -> (last modified, fire instant, input): moto has no batch read of schedules
        self._schedule_cache: dict[str, tuple[Any, datetime, str]] = {}
        self._schedules: list[tuple[datetime, str, str]] | None = None
        self._schedules_changed = True
        self.endpoint_url = endpoint_url
        #: the environment the functions were configured from (the template's variables, AWS, local settings)
        self.environment: dict[str, str] = {}

    def client(self, service: str) -> Any:
        """A boto3 client for `service` on the same AWS (moto) the pipeline runs on."""
        return self.session.client(service, region_name=REGION, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    @classmethod
    def start(
        cls,
        template: Path,
        parameters: dict[str, str],
        clock: Clock,
        *,
        aws: dict[str, str],
        app: dict[str, str] | None = None,
        outbox: Path | None = None,
    ) -> Pipeline:
        """Provision the template on the AWS endpoint `aws` names (AWS_ENDPOINT_URL, credentials), and
        install a composition root that points every handler at it."""
        quiet_powertools()
        moto_fixes.install()
        session = boto3.session.Session(
            aws_access_key_id=aws.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=aws.get("AWS_SECRET_ACCESS_KEY"),
            region_name=REGION,
        )
        endpoint = aws.get("AWS_ENDPOINT_URL") or None
        stack = provision(template, parameters, session, endpoint)
        environment = local_environment(stack, aws, app)
        install(from_environment(environment, clock=clock))
        pipeline = cls(stack, clock, outbox, session, endpoint)
        pipeline.environment = environment
        return pipeline

    # -- event source mappings -----------------------------------------------------------------------------
    def pump_queue(self) -> int:
        """Deliver waiting events to evaluate, in SQS batches; delete what it processed."""
        url = self.stack.physical["EventsQueue"]
        response = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            VisibilityTimeout=30,
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": self.stack.attributes[("EventsQueue", "Arn")],
                "awsRegion": REGION,
            }
            for m in messages
        ]
        with self.lock:
            result = self._invoke("EvaluateFunction", {"Records": records})
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def pump_stream(self) -> int:
        """Deliver new messages-table changes to the scheduler function (MSG# items, as its filter says), and
        every new decision to the `on_decision` listeners."""
        arn = self.stack.stream_arns["MessagesTable"]
        raw = self._new_stream_records()
        if self.on_decision:
            for record in raw:
                change = record["dynamodb"]
                if record["eventName"] == "INSERT" and change["Keys"]["sk"]["S"].startswith("DEC#"):
                    for decision in decisions_from_item(change["NewImage"]):
                        for callback in self.on_decision:
                            callback(decision)
        records = [
            self._stream_record(r, arn)
            for r in raw
            if r["dynamodb"]["Keys"]["sk"]["S"].startswith("MSG#") and not _keys_only(r)
        ]
        if records:
            with self.lock:
                result = self._invoke("SchedulerFunction", {"Records": records})
            self._schedules_changed = True
            if (result or {}).get("batchItemFailures"):
                raise RuntimeError(f"scheduler failed stream records: {result}")
        # The reports function's filter: new decisions only.
        decisions = [
            self._stream_record(r, arn)
            for r in raw
            if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["sk"]["S"].startswith("DEC#")
        ]
        if decisions and "ReportsFunction" in self.stack.functions:
            with self.lock:
                result = self._invoke("ReportsFunction", {"Records": decisions})
            if (result or {}).get("batchItemFailures"):
                raise RuntimeError(f"reports function failed stream records: {result}")
        return len(raw)

    def _new_stream_records(self) -> list[dict[str, Any]]:
        """Stream records written since the last call, read from moto's own shard: its DynamoDB Streams
        API is not reachable in-process (mock_aws), and this costs no request in server mode either."""
        from moto.dynamodb.models import dynamodb_backends

        table = dynamodb_backends[ACCOUNT][REGION].get_table(self.stack.physical["MessagesTable"])
        if table.stream_shard is None:
            raise RuntimeError("MessagesTable has no stream: check StreamSpecification in template.yaml")
        with moto_fixes.lock:  # a transaction being rolled back removes its records
            items = table.stream_shard.items
            new = [record.to_json() for record in items[self._stream_position :]]
            self._stream_position = len(items)
        return new

    @staticmethod
    def _stream_record(record: Any, arn: str) -> dict[str, Any]:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            **{k: v for k, v in record.items() if k != "dynamodb"},
            "dynamodb": change,
            "eventSourceARN": arn,
        }

    # -- EventBridge Scheduler -----------------------------------------------------------------------------
    def due_schedules(self) -> list[tuple[datetime, str, str]]:
        """(fire instant, name, input) of every schedule in the group, earliest first.

        In local mode only the scheduler function and this clock change schedules, so the listing is
        reused until one of them has run (a long simulation would otherwise list them at every step)."""
        if self._schedules is not None and not self._schedules_changed:
            return self._schedules
        self._schedules_changed = False
        self._schedules = self._list_schedules()
        return self._schedules

    def _list_schedules(self) -> list[tuple[datetime, str, str]]:
        group = self.stack.physical["ScheduleGroup"]
        found = []
        cache: dict[str, tuple[Any, datetime, str]] = {}
        for page in self.scheduler.get_paginator("list_schedules").paginate(GroupName=group):
            for summary in page["Schedules"]:
                name, modified = summary["Name"], summary.get("LastModificationDate")
                cached = self._schedule_cache.get(name)
                if cached is None or cached[0] != modified:
                    try:
                        detail = self.scheduler.get_schedule(Name=name, GroupName=group)
                    except self.scheduler.exceptions.ResourceNotFoundException:
                        continue  # deleted between the listing and now
                    match = _AT.match(detail["ScheduleExpression"])
                    if not match:
                        raise ValueError(f"schedule {name} has no at() expression")
                    at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
                    cached = (modified, at, detail["Target"]["Input"])
                cache[name] = cached
                found.append((cached[1], name, cached[2]))
        self._schedule_cache = cache
        return sorted(found)

    def fire_due(self) -> int:
        """Invoke the sender for every schedule whose instant has come, then delete it, as
        ActionAfterCompletion: DELETE does."""
        now = self.clock.now()
        fired = 0
        for at, name, payload in self.due_schedules():
            if at > now:
                break
            with self.lock:
                self._invoke("SenderFunction", json.loads(payload))
            # The scheduler function may have deleted it meanwhile: then nothing is left to complete.
            with contextlib.suppress(self.scheduler.exceptions.ResourceNotFoundException):
                self.scheduler.delete_schedule(Name=name, GroupName=self.stack.physical["ScheduleGroup"])
            fired += 1
        if fired:
            self._schedules_changed = True
        return fired

    # -- the date index ------------------------------------------------------------------------------------
    def earliest_due(self) -> datetime | None:
        """The earliest `due_at` of the Profiles table, read from moto's own table in this process: the
        driver asks before every jump of the clock, and sixteen Queries each time would double the cost of
        a simulation on moto. (The due sweep itself queries the index, as on AWS.)"""
        from moto.dynamodb.models import dynamodb_backends

        table = dynamodb_backends[ACCOUNT][REGION].get_table(self.stack.physical["ProfilesTable"])
        items: list[Any] = list(table.items.values())  # one item per hash key: the table has no sort key
        values = [item.attrs["due_at"].value for item in items if "due_at" in item.attrs]
        return due_at_from_value(min(values)) if values else None

    # -- SES -----------------------------------------------------------------------------------------------
    def collect_sent(self) -> list[SentEmail]:
        """Emails SES accepted since the last call; written to the outbox as .eml files."""
        from moto.ses.models import ses_backends

        backend = ses_backends[ACCOUNT][REGION]
        new = backend.sent_messages[self._seen_ses :]
        self._seen_ses += len(new)
        collected = []
        for message in new:
            raw_data = getattr(message, "raw_data", None)
            if raw_data is None:
                continue
            raw = raw_data.encode() if isinstance(raw_data, str) else raw_data
            collected.append(self._deliver(message.id, raw))
        return collected


def _keys_only(record: Any) -> bool:
    # moto emits an extra INSERT holding only the keys when a transaction's UpdateItem creates an item;
    # DynamoDB does not, so it is dropped here rather than handled in the scheduler.
    change = record["dynamodb"]
    return "OldImage" not in change and set(change.get("NewImage", {})) <= set(change["Keys"])
