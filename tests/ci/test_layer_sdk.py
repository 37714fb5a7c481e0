"""The Lambda layer takes the AWS SDK from the python3.13 runtime instead of bundling its own."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER_LOCK = ROOT / "layers" / "common" / "requirements.txt"
SOURCES = [
    "pyproject.toml",
    "requirements/sam.in",
    "requirements/sam.txt",
    "requirements/dev.txt",
    "requirements/local.txt",
    "layers/common/requirements.txt",
]


def pinned(lock: Path) -> set[str]:
    return set(re.findall(r"^([a-z0-9][a-z0-9._-]*)==", lock.read_text(encoding="utf-8"), re.MULTILINE))


def test_the_layer_ships_no_sdk_but_everything_else_righttime_imports() -> None:
    # Given the layer's lock
    layer = pinned(LAYER_LOCK)

    # Then the SDK and what only it needs are left to the runtime
    assert not layer & {"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "six"}
    # And righttime's own dependencies are there, with Powertools' jmespath
    assert {"aws-lambda-powertools", "pydantic", "jinja2", "pyyaml", "jmespath"} <= layer
    # While tests and local mode keep running on a pinned SDK
    assert {"boto3", "botocore"} <= pinned(ROOT / "requirements" / "dev.txt")


def test_a_new_boto3_floor_leaves_the_layer_lock_current(tmp_path: Path) -> None:
    # Given a copy of the sources where pyproject asks for a newer boto3
    for name in SOURCES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    assert '"boto3>=' in text
    pyproject.write_text(re.sub(r'"boto3>=[^"]*"', '"boto3>=1.99"', text, count=1))

    # When the locks are checked
    result = subprocess.run(
        [sys.executable, str(ROOT / "requirements" / "lock.py"), "--check", "--root", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
    )

    # Then the dev lock must be regenerated, and the layer's, which has no boto3, need not
    assert result.returncode == 1
    assert "requirements/dev.txt is stale" in result.stderr
    assert "layers/common/requirements.txt" not in result.stderr
