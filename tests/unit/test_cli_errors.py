"""User errors in `righttime`: one clear line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from righttime_dev import cli
from righttime_dev.cli import main

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
JOURNEY = ROOT / "events" / "journey-cart-abandonment.jsonl"


@pytest.fixture
def broken_campaigns(tmp_path: Path) -> tuple[Path, Path]:
    """The shipped campaigns and templates, with one campaign file that is not YAML."""
    campaigns, templates = tmp_path / "campaigns", tmp_path / "templates"
    shutil.copytree(ROOT / "campaigns", campaigns)
    shutil.copytree(ROOT / "templates", templates)
    (campaigns / "cart_abandonment.yaml").write_text("id: cart_abandonment\n  timing: [\n")
    return campaigns, templates


@pytest.fixture
def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def one_line_error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize("command", ["simulate", "local", "demo"])
def test_a_campaign_file_that_is_not_yaml_is_one_line(command, broken_campaigns, capsys):
    # Given a campaigns folder with a YAML syntax error
    campaigns, templates = broken_campaigns
    args = [command, *([str(JOURNEY)] if command == "simulate" else [])]
    # When a command that runs the campaigns starts
    code = main(
        [*args, "--campaigns", str(campaigns), "--templates", str(templates), "--template", str(TEMPLATE)]
    )
    # Then it names the file in one line, before starting anything
    line = one_line_error(capsys, code)
    assert "cart_abandonment.yaml" in line
    assert "YAML" in line


def test_a_campaign_that_breaks_the_schema_is_one_line(broken_campaigns, capsys):
    # Given a campaign whose delay is not a duration
    campaigns, templates = broken_campaigns
    text = (ROOT / "campaigns" / "cart_abandonment.yaml").read_text().replace("delay: 1h", "delay: soon")
    (campaigns / "cart_abandonment.yaml").write_text(text)
    # When it is simulated
    code = main(["simulate", str(JOURNEY), "--campaigns", str(campaigns), "--templates", str(templates)])
    # Then the error names the campaign and the field
    line = one_line_error(capsys, code)
    assert "cart_abandonment" in line
    assert "delay" in line


def test_validate_lists_each_problem_on_one_line_and_exits_2(broken_campaigns, capsys):
    campaigns, templates = broken_campaigns
    code = main(["validate", str(campaigns), "--templates", str(templates)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.splitlines() == [err.splitlines()[0], "1 problem(s)"]
    assert "cart_abandonment.yaml: not valid YAML" in err.splitlines()[0]


@pytest.mark.parametrize(
    "args",
    [
        ["replay", str(JOURNEY), "--write-key", "w", "--url"],
        ["explain", "jane", "--admin-key", "a", "--url"],
        ["report", "--admin-key", "a", "--url"],
        ["profile", "export", "jane", "--admin-key", "a", "--url"],
    ],
    ids=["replay", "explain", "report", "profile"],
)
def test_an_api_nobody_answers_on_is_one_line(args, dead_url, capsys):
    code = main([*args, dead_url])
    line = one_line_error(capsys, code)
    assert f"cannot reach {dead_url}" in line


def test_a_host_that_does_not_resolve_is_one_line(capsys):
    # .invalid never resolves (RFC 2606)
    code = main(["explain", "jane", "--admin-key", "a", "--url", "http://righttime.invalid"])
    assert "cannot reach http://righttime.invalid" in one_line_error(capsys, code)


def test_outside_a_project_the_commands_say_where_they_looked(tmp_path, monkeypatch, capsys):
    # Given a folder that is not a righttime project
    monkeypatch.chdir(tmp_path)
    # When simulate looks for the template and validate for the campaigns
    assert "no template.yaml in" in one_line_error(capsys, main(["simulate", str(JOURNEY)]))
    assert "campaigns: no such folder" in one_line_error(capsys, main(["validate"]))


def test_a_journey_line_that_is_not_json_is_one_line(tmp_path, dead_url, capsys):
    journey = tmp_path / "journey.jsonl"
    journey.write_text(
        '{"type": "identify", "userId": "a", "timestamp": "2026-03-12T19:20:00Z"}\n{"type": "track", \n'
    )
    # Every line is read before anything is sent: the dead URL is never reached
    line = one_line_error(capsys, main(["replay", str(journey), "--write-key", "w", "--url", dead_url]))
    assert f"{journey}:2" in line
    line = one_line_error(capsys, main(["simulate", str(journey), "--template", str(TEMPLATE)]))
    assert f"{journey}:2" in line


def test_a_journey_message_simulate_cannot_place_is_one_line(tmp_path, capsys):
    journey = tmp_path / "journey.jsonl"
    journey.write_text('{"type": "identify", "userId": "a"}\n')
    line = one_line_error(capsys, main(["simulate", str(journey), "--template", str(TEMPLATE)]))
    assert f"{journey}:1: timestamp" in line


def test_missing_keys_are_one_line(monkeypatch, capsys):
    monkeypatch.delenv(cli.WRITE_KEY_ENV, raising=False)
    monkeypatch.delenv(cli.ADMIN_KEY_ENV, raising=False)
    assert "write key" in one_line_error(capsys, main(["replay", str(JOURNEY)]))
    assert "admin key" in one_line_error(capsys, main(["explain", "jane"]))
    assert "admin key" in one_line_error(capsys, main(["report"]))


def test_the_installed_command_prints_no_traceback(tmp_path, dead_url):
    # Given the real process, as a shell runs it
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tools"), str(ROOT / "layers" / "common")]),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "righttime_dev.cli",
            "replay",
            str(JOURNEY),
            "--write-key",
            "w",
            "--url",
            dead_url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("righttime replay: error: cannot reach")
    assert "Traceback" not in run.stderr


def test_a_bug_keeps_its_traceback(monkeypatch):
    # Given a command that fails for a reason that is not the user's
    def broken(args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "_run_validate", broken)
    # Then main() does not hide it
    with pytest.raises(RuntimeError, match="a bug"):
        main(["validate"])


def test_a_port_in_use_is_one_line(capsys):
    # Given a port something else listens on
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # When local mode is asked to listen there
        code = main(["local", "--port", str(port), "--template", str(TEMPLATE)])
    # Then it says so in one line, before starting anything
    assert f"cannot listen on 127.0.0.1:{port}" in one_line_error(capsys, code)


def test_a_report_file_that_cannot_be_written_is_one_line(tmp_path, capsys):
    journey = tmp_path / "journey.jsonl"
    journey.write_text('{"type": "identify", "userId": "a", "timestamp": "2026-03-12T19:20:00Z"}\n')
    report = tmp_path / "missing-folder" / "report.json"
    code = main(["simulate", str(journey), "--template", str(TEMPLATE), "--report", str(report)])
    assert f"cannot write {report}" in one_line_error(capsys, code)


def test_ctrl_c_is_one_line_and_the_status_of_an_interrupt(monkeypatch, capsys, tmp_path):
    # Given a long command the user interrupts with Ctrl-C
    def interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr("righttime_dev.validation.validate_content", interrupted)
    (tmp_path / "campaigns").mkdir()

    # When it stops
    code = main(["validate", str(tmp_path / "campaigns")])

    # Then it says so in one line and exits as shells expect after SIGINT, without a traceback
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert err.strip() == "righttime validate: interrupted"
