""".ci/check-tree: a tracked symlink out of the repository or a build machine's path fails CI, naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / ".ci" / "check-tree"


def git_repo(path: Path, files: dict[str, str], links: dict[str, str]) -> Path:
    """A throwaway repository whose index tracks the given files and symlinks (nothing is committed)."""
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    for name, target in links.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path / name)
    subprocess.run(["git", "-C", str(path), "add", "--all"], check=True)
    return path


def check_tree(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECKER), str(repo)], check=False, capture_output=True, text=True
    )


CLEAN_FILES = {
    "README.md": "Scratch files go to /tmp/righttime-scratch, e.g. /home/ada/notes.\n",  # check-tree: allow
    "template.yaml": "CAMPAIGNS_DIR: /opt/campaigns\nBROWSER: /usr/bin/chromium\n",
    "run.sh": "#!/usr/bin/env bash\ncommand -v make >/dev/null 2>&1\nTMPDIR=/tmp\n",
    "docs/links.txt": "https://example.com/tmp/file and ./tmp/out and ~/work/x\n",
    "pkg/data.txt": "data\n",
}


def test_a_clean_repository_passes(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", CLEAN_FILES, {"pkg/link.txt": "data.txt", "up": "pkg/../pkg/data.txt"})

    result = check_tree(repo)

    assert result.returncode == 0, result.stderr
    assert "check-tree: ok" in result.stdout


def test_a_symlink_out_of_the_repository_fails_naming_it(tmp_path: Path) -> None:
    links = {".sam-venv": "/tmp/x", "sub/escape": "../../outside"}  # check-tree: allow
    links["sub/fine"] = "../README.md"
    repo = git_repo(tmp_path / "repo", CLEAN_FILES, links)

    result = check_tree(repo)

    assert result.returncode != 0
    assert ".sam-venv: symlink to /tmp/x" in result.stderr  # check-tree: allow
    assert "sub/escape: symlink to ../../outside" in result.stderr
    assert "sub/fine" not in result.stderr
    assert "2 problem(s)" in result.stderr


def test_a_build_machine_path_in_a_file_fails_naming_file_and_line(tmp_path: Path) -> None:
    files = {
        **CLEAN_FILES,
        "conf.toml": 'a = 1\nvenv = "/tmp/samvenv/bin"\n',  # check-tree: allow
        "tools/run.py": 'R = "/work/main"\nH = "/root/.cache"\nU = "/home/ada/x"\n',  # check-tree: allow
        "tools/lambda.py": 'SCRATCH = "/tmp/render"  # check-tree: allow\n',  # check-tree: allow
    }
    repo = git_repo(tmp_path / "repo", files, {})

    result = check_tree(repo)

    assert result.returncode != 0
    problems = [line for line in result.stderr.splitlines() if "names" in line]
    suffix = ", a path on the machine it was written on"
    assert problems == [
        "check-tree: conf.toml:2: names /tmp/samvenv" + suffix,  # check-tree: allow
        "check-tree: tools/run.py:1: names /work/" + suffix,  # check-tree: allow
        "check-tree: tools/run.py:2: names /root" + suffix,  # check-tree: allow
        "check-tree: tools/run.py:3: names /home/ada" + suffix,  # check-tree: allow
    ]


def test_this_repository_passes() -> None:
    result = check_tree(ROOT)

    assert result.returncode == 0, result.stderr
