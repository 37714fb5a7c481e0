"""End-to-end fixtures: `righttime local` as users run it, reached over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from righttime_dev.local.server import LocalOptions, LocalRighttime
from tests.conftest import TEMPLATE, WRITE_KEY


def local_options(tmp_path: Path, **changes: Any) -> LocalOptions:
    """Local mode's options for a test: a free port, a 3600x clock (an hour passes in a second), the outbox in
    `tmp_path`, quiet logs; `changes` override any of them."""
    options: dict[str, Any] = {
        "template": TEMPLATE,
        "write_key": WRITE_KEY,
        "admin_key": "test-admin-key",
        "port": 0,
        "speed": 3600,
        "outbox": tmp_path / "outbox",
        "log_level": "ERROR",
    }
    return LocalOptions(**{**options, **changes})


@pytest.fixture
def local(isolated_env: None, tmp_path: Path) -> Iterator[LocalRighttime]:
    """Local mode on a free port, its clock running 3600x (an hour passes in a second)."""
    with LocalRighttime(local_options(tmp_path)) as stack:
        yield stack
    assert stack.errors == [], f"local pipeline raised: {stack.errors!r}"


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll until `condition` holds (a generous bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
