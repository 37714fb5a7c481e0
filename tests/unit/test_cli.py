"""`righttime` as a new user meets it: help on everything, --version, init, and the demo's decision trail."""

from __future__ import annotations

import argparse
from importlib.metadata import version
from pathlib import Path

import pytest

from righttime_dev.cli import build_parser, main, scaffold_root
from righttime_dev.story import trail_lines


def _actions(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest for choice in action._choices_actions if choice.help}
            for name, sub in action.choices.items():
                found.append(
                    (f"{path} {name}", argparse.Action([], name, help="x" if name in helped else None))
                )
                found += _actions(sub, f"{path} {name}")
        else:
            found.append((f"{path} {'/'.join(action.option_strings) or action.dest}", action))
    return found


def test_every_command_option_and_argument_has_help():
    # Given every command, option and argument of the parser (commands added by other modules included)
    actions = _actions(build_parser(), "righttime")
    # Then each one says what it is for
    assert len(actions) > 60
    assert "righttime profile delete --yes" in {name for name, _ in actions}
    assert [name for name, action in actions if not action.help] == []


def test_version_names_the_installed_distribution(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"righttime {version('righttime')}"


def test_init_scaffolds_a_project_that_validates(tmp_path, capsys):
    # Given an empty folder
    project = tmp_path / "shop"
    # When righttime init scaffolds it
    assert main(["init", str(project)]) == 0
    # Then it holds the shipped campaigns, their policy and templates, and they validate
    assert (project / "campaigns" / "policy.yaml").read_bytes() == (
        scaffold_root() / "campaigns" / "policy.yaml"
    ).read_bytes()
    assert (project / "templates" / "cart_abandonment" / "subject.txt").is_file()
    capsys.readouterr()
    assert main(["validate", str(project / "campaigns"), "--templates", str(project / "templates")]) == 0
    assert "templates render" in capsys.readouterr().out


def test_init_never_overwrites_without_force(tmp_path, capsys):
    # Given a project whose policy was edited
    assert main(["init", str(tmp_path)]) == 0
    policy = tmp_path / "campaigns" / "policy.yaml"
    policy.write_text("# mine\n")
    capsys.readouterr()
    # When init runs again, it refuses in one line and leaves the file alone
    assert main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "--force" in err and len(err.splitlines()) == 1
    assert policy.read_text() == "# mine\n"
    # And with --force it puts the shipped one back
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert policy.read_text() != "# mine\n"


def test_the_trail_tells_a_deferral_in_the_customers_zone_and_in_utc():
    # Given the read API's decisions, newest first: a reminder due in the evening, moved to the morning
    scheduled = {
        "at": "2026-03-12T19:26:00+00:00",
        "campaign": "cart_abandonment",
        "outcome": "scheduled",
        "send_at": "2026-03-13T07:01:39+00:00",
        "timezone": "Europe/Paris",
        "reasons": [
            {"code": "triggered", "event": "Product Added", "delay": "1h"},
            {
                "code": "outside_window",
                "window": "every day 08:00-21:00",
                "timezone": "Europe/Paris",
                "local_time": "2026-03-12T21:26:00+01:00",
                "until": "2026-03-13T07:00:00+00:00",
            },
            {"code": "release_spread", "spread": "5m", "offset_seconds": 99},
            {"code": "holdout", "share": "10%"},
        ],
    }
    sent = {
        **scheduled,
        "at": "2026-03-13T07:01:39+00:00",
        "outcome": "sent",
        "reasons": [],
        "timezone": None,
    }
    # When the story is told
    lines = trail_lines([sent, scheduled])
    # Then it goes from the beginning, in Paris time and UTC, and says why the reminder moved
    assert lines[0].split() == [
        *("Thu", "20:26:00", "Paris", "(19:26:00", "UTC)", "cart_abandonment", "scheduled", "for"),
        *("Fri", "08:01:39", "Paris", "(07:01:39", "UTC)"),
    ]
    assert "due 1h after it" in lines[1]
    assert "due Thu 21:26:00, outside the campaign's window (every day 08:00-21:00)" in lines[2]
    assert "deferred to Fri 08:00:00 Europe/Paris" in lines[2]
    assert "1 min 39 s after the opening" in lines[3]
    # A reason it has no words for is told as righttime explain tells it
    assert lines[4].strip() == "holdout(share=10%)"
    assert lines[5].split()[:7] == [
        "Fri",
        "08:01:39",
        "Paris",
        "(07:01:39",
        "UTC)",
        "cart_abandonment",
        "sent",
    ]


def test_a_scaffold_is_found_for_an_editable_install():
    root = scaffold_root()
    assert (root / "campaigns" / "cart_abandonment.yaml").is_file()
    assert (root / "templates").is_dir()
    assert isinstance(root, Path)


def test_a_wheel_carries_the_scaffold_init_copies(tmp_path):
    # Given the project's sources, as an sdist or a checkout holds them (built in a copy: the build leaves
    # build/ and *.egg-info behind)
    import shutil
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(root / name, source / name)
    for folder in ("layers/common/righttime", "tools/righttime_dev", "campaigns", "templates"):
        shutil.copytree(root / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    # When a wheel is built from them
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(source),
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
        capture_output=True,
    )
    # Then it carries every shipped campaign, the policy and every template under righttime_dev/scaffold
    (wheel,) = (tmp_path / "dist").glob("righttime-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"righttime_dev/scaffold/{path.relative_to(root).as_posix()}"
        for folder in ("campaigns", "templates")
        for path in (root / folder).rglob("*")
        if path.is_file()
    }
    assert "righttime_dev/scaffold/campaigns/policy.yaml" in shipped
    assert shipped <= names
