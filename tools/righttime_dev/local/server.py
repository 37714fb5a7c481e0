"""The local stack: embedded moto, the HTTP API on 127.0.0.1, and a ticking clock that drives the pipeline."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from righttime.core.clock import SystemClock, VirtualClock
from righttime.wiring.root import install
from righttime_dev.local.pipeline import Pipeline

#: AWS limits API Gateway payloads to 10 MB; the ingest function enforces Segment's smaller limits itself.
MAX_HTTP_BODY = 10 * 1024 * 1024
#: What an HTTP API answers when the Lambda function raised: a 500 with this JSON body.
LAMBDA_ERROR_BODY = b'{"message":"Internal Server Error"}'
#: A client that stops sending mid-request gets 408 after this long, instead of holding a thread for ever.
REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass
class LocalOptions:
    template: Path
    write_key: str
    admin_key: str = ""
    port: int = 3000
    host: str = "127.0.0.1"
    speed: float = 1.0
    outbox: Path | None = None
    campaigns: Path | None = None
    templates: Path | None = None
    sender_address: str = "shop@example.com"
    tick_seconds: float = 0.05
    log_level: str = "WARNING"
    #: the pages whose browsers may send events (RIGHTTIME_ALLOWED_ORIGINS: comma-separated origins, or *)
    allowed_origins: str = "*"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(endpoint: str, options: LocalOptions, url: str) -> tuple[dict[str, str], dict[str, str]]:
    """The AWS side (endpoint, dummy credentials) and the app side (content folders, keys, and the one-click
    unsubscribe URL on local mode's own address, signed with a key made for this run)."""
    root = options.template.parent
    aws = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    app = {
        "CAMPAIGNS_DIR": str(options.campaigns or root / "campaigns"),
        "TEMPLATES_DIR": str(options.templates or root / "templates"),
        "RIGHTTIME_WRITE_KEYS": options.write_key,
        "RIGHTTIME_ADMIN_KEYS": options.admin_key,
        "WRITE_KEYS_PARAMETER": "",
        "ADMIN_KEYS_PARAMETER": "",
        "UNSUBSCRIBE_URL": f"{url}/v1/unsubscribe",
        "RIGHTTIME_UNSUBSCRIBE_KEYS": f"local:{secrets.token_urlsafe(36)}",
        "UNSUBSCRIBE_KEYS_PARAMETER": "",
        "RIGHTTIME_ALLOWED_ORIGINS": options.allowed_origins,
    }
    return aws, app


@contextmanager
def embedded_aws(port: int | None = None) -> Iterator[str]:
    """Run moto's server on 127.0.0.1 and yield its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    from righttime_dev.local import moto_fixes

    moto_fixes.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log would drown the console
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its state per process, not per server: start from nothing, as a new stack would.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()  # noqa: S310
    try:
        yield endpoint
    finally:
        server.stop()


class _RequestError(Exception):
    """A request local mode answers itself, as API Gateway would, without invoking a function."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Api(BaseHTTPRequestHandler):
    """API Gateway's part: every request gets a JSON answer; no connection is dropped without one."""

    pipeline: Pipeline
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_SECONDS

    def do_POST(self) -> None:
        self._with_body("POST")

    def do_PUT(self) -> None:
        self._with_body("PUT")

    def do_PATCH(self) -> None:
        self._with_body("PATCH")

    def do_DELETE(self) -> None:
        self._with_body("DELETE")

    def do_OPTIONS(self) -> None:
        self._with_body("OPTIONS")

    def do_HEAD(self) -> None:
        self._with_body("HEAD")

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, {"Content-Type": "application/json"}, b'{"ok": true}')
            return
        self._with_body("GET")

    def _with_body(self, method: str) -> None:
        try:
            body = self._read_body()
        except _RequestError as exc:
            # The rest of the body (if any) was not read: the connection cannot carry another request.
            self.close_connection = True
            self._json(exc.status, {"success": False, "message": exc.message, "errors": []})
            return
        self._forward(method, body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            if self.headers["Transfer-Encoding"].strip().lower() != "chunked":
                raise _RequestError(501, "only the chunked Transfer-Encoding is supported")
            return self._read_chunked()
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not lengths:
            return b""
        text = lengths.pop()
        if lengths or not text.isascii() or not text.isdigit():
            raise _RequestError(400, "Content-Length must be one non-negative integer")
        # Compared as text first: int() refuses literals over 4,300 digits.
        if len(text.lstrip("0")) > len(str(MAX_HTTP_BODY)) or int(text) > MAX_HTTP_BODY:
            raise _RequestError(413, f"request body is over {MAX_HTTP_BODY // (1024 * 1024)} MB")
        return self._read_exactly(int(text))

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_text = self._read_line().split(b";", 1)[0].strip()
            if not 0 < len(size_text) <= 8 or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
                raise _RequestError(400, "malformed chunked body")
            size = int(size_text, 16)
            if size == 0:
                while self._read_line().strip():  # trailers, up to the blank line
                    pass
                return bytes(body)
            if len(body) + size > MAX_HTTP_BODY:
                raise _RequestError(413, f"request body is over {MAX_HTTP_BODY // (1024 * 1024)} MB")
            body += self._read_exactly(size)
            if self._read_line().strip():
                raise _RequestError(400, "malformed chunked body")

    def _read_line(self) -> bytes:
        try:
            line = self.rfile.readline(1024)
        except TimeoutError as exc:
            raise _RequestError(408, "the request was not sent in time") from exc
        if not line.endswith(b"\n"):
            raise _RequestError(400, "malformed chunked body")
        return line

    def _read_exactly(self, length: int) -> bytes:
        try:
            body = self.rfile.read(length)
        except TimeoutError as exc:
            raise _RequestError(408, "the request body was not sent in time") from exc
        if len(body) < length:
            raise _RequestError(400, f"the body ended after {len(body)} of {length} bytes")
        return body

    def _forward(self, method: str, body: bytes) -> None:
        try:
            url = urllib.parse.urlsplit(self.path)
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            # The raw path, as API Gateway routes on it: a `%2F` stays inside its segment.
            status, reply_headers, payload = self.pipeline.http(method, url.path, headers, body, query)
        except Exception:
            # What API Gateway does when the function raises; the traceback is for the developer.
            from righttime.wiring.observability import logger

            logger.exception("function raised", extra={"method": method, "path": self.path[:200]})
            status, reply_headers, payload = 500, {"Content-Type": "application/json"}, LAMBDA_ERROR_BODY
        self._reply(status, reply_headers, payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, headers too long, an unknown method), in
        JSON like every other answer."""
        self.close_connection = True
        # A request line it could not read leaves HTTP/0.9 (no status line, no headers): answer in HTTP/1.1.
        self.request_version = self.protocol_version
        if code == 501:  # a method http.server has no do_ for: the HTTP API has no route for it either
            self._reply(404, {"Content-Type": "application/json"}, b'{"message":"Not Found","errors":[]}')
            return
        short = self.responses.get(code, ("error", ""))[0]
        self._json(code, {"success": False, "message": message or short, "errors": []})

    def _json(self, status: int, body: dict[str, object]) -> None:
        self._reply(status, {"Content-Type": "application/json"}, json.dumps(body).encode())

    def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left before the answer: nobody to tell

    def log_message(self, format: str, *args: object) -> None:
        pass  # requests are summarised by the pipeline, not logged raw


class LocalRighttime:
    """Everything `righttime local` runs, startable and stoppable from code (tests, demo) or the CLI."""

    def __init__(self, options: LocalOptions, start: datetime | None = None) -> None:
        """`start`: the virtual clock's first instant (default: now), so a run can be replayed exactly."""
        self.options = options
        self.clock = VirtualClock(start=start or SystemClock().now(), speed=options.speed)
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.pipeline: Pipeline
        self.httpd: ThreadingHTTPServer

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.httpd.server_address[1]}"

    def start(self, tick: bool = True) -> LocalRighttime:
        """`tick=False`: nothing drives the pipeline but the caller (`pipeline.run_until_idle()` after moving
        the clock), as the demo does to play its journey the same way on every run."""
        # Bound first: the unsubscribe links local mode's mail carries name its address, and a port in use
        # stops the start before anything runs.
        handler: type[_Api] = type("Api", (_Api,), {})
        self.httpd = ThreadingHTTPServer((self.options.host, self.options.port), handler)
        self._aws = embedded_aws()
        endpoint = self._aws.__enter__()
        aws_env, app_env = _environment(endpoint, self.options, self.url)
        self.pipeline = Pipeline.start(
            self.options.template,
            {"SenderAddress": self.options.sender_address},
            self.clock,
            aws=aws_env,
            app=app_env,
            outbox=self.options.outbox,
        )
        from righttime.wiring.observability import logger

        logger.setLevel(self.options.log_level)  # the logger was built before local mode set the environment
        handler.pipeline = self.pipeline
        self._spawn(self.httpd.serve_forever)
        if tick:
            self._spawn(self._tick)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        install(None)  # after the pipeline's threads stopped: none of them may build a root of its own
        self._aws.__exit__(None, None, None)

    def __enter__(self) -> LocalRighttime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: object) -> None:
        thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _tick(self) -> None:
        while not self._stop.wait(self.options.tick_seconds):
            try:
                self.pipeline.step()
            except Exception as exc:
                self.errors.append(exc)
                from righttime.wiring.observability import logger

                logger.exception("local pipeline step failed")
