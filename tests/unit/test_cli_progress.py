"""Long commands show progress on stderr (when it is a terminal, or with --progress); stdout stays clean."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from righttime.core.report import build_report
from righttime_dev.cli import main

#: what the report API answers for a period nothing was counted in, as JSON carries it
REPORT = json.loads(
    json.dumps(
        build_report([], date(2026, 3, 1), date(2026, 3, 12), datetime(2026, 3, 13, tzinfo=UTC)).document(),
        default=str,
    )
)


class _Api(BaseHTTPRequestHandler):
    """An API that accepts every batch and answers the report: the far side of the CLI, nothing more."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer({"success": True})

    def do_GET(self) -> None:
        self._answer(REPORT)

    def _answer(self, document: object) -> None:
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def journey(tmp_path: Path) -> Path:
    path = tmp_path / "journey.jsonl"
    lines = [{"type": "track", "userId": f"u{i}", "event": "Product Viewed"} for i in range(5)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_replay_shows_a_progress_bar_on_stderr_when_asked(api, journey, capsys):
    assert main(["replay", str(journey), "--url", api, "--write-key", "w", "--progress"]) == 0
    captured = capsys.readouterr()
    assert "5/5 events" in captured.err
    assert captured.out == "5 messages accepted\n"


def test_replay_shows_no_progress_when_stderr_is_not_a_terminal(api, journey, capsys):
    # capsys's stderr is not a terminal
    assert main(["replay", str(journey), "--url", api, "--write-key", "w"]) == 0
    assert capsys.readouterr().err == ""


def test_report_says_each_step_on_stderr_and_keeps_its_json_clean(api, tmp_path, capsys):
    page = tmp_path / "report.html"
    assert (
        main(["report", "--url", api, "--admin-key", "a", "--json", "--html", str(page), "--progress"]) == 0
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out) == REPORT
    steps = captured.err.splitlines()
    assert steps[0] == f"reading the campaign report from {api} ..."
    assert steps[1] == "  0 campaigns counted from 2026-03-01 to 2026-03-12"
    assert steps[2] == f"rendering {page} ..."
    assert page.is_file()
