"""requirements/lock.py --check: the locks match their sources, and none was edited by hand."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.py"
SOURCES = [
    "pyproject.toml",
    "requirements/sam.in",
    "requirements/sam.txt",
    "requirements/dev.txt",
    "layers/common/requirements.txt",
]


def lock_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LOCK), "--check", "--root", str(root)],
        check=False,
        capture_output=True,
        text=True,
    )


def copy_of_the_sources(tmp_path: Path) -> Path:
    for name in SOURCES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_committed_locks_are_current() -> None:
    result = lock_check(ROOT)

    assert result.returncode == 0, result.stderr


def test_a_new_dependency_makes_the_dev_lock_stale(tmp_path: Path) -> None:
    root = copy_of_the_sources(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    assert "dev = [\n" in text
    pyproject.write_text(text.replace("dev = [\n", 'dev = [\n    "requests>=2",\n', 1))

    result = lock_check(root)

    assert result.returncode == 1
    assert "requirements/dev.txt is stale" in result.stderr
    assert "layers/common/requirements.txt" not in result.stderr
    assert "make lock" in result.stderr


def test_a_hand_edited_layer_lock_fails(tmp_path: Path) -> None:
    root = copy_of_the_sources(tmp_path)
    layer = root / "layers/common/requirements.txt"
    layer.write_text(layer.read_text() + "requests==2.32.0\n")

    result = lock_check(root)

    assert result.returncode == 1
    assert "layers/common/requirements.txt was edited by hand" in result.stderr
