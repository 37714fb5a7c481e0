"""Fixtures shared by every test level. moto is imported before any boto3 client can exist."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import moto  # noqa: F401 - must precede boto3 client creation
import pytest

from righttime.core.clock import VirtualClock
from righttime.wiring.root import install

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
TEMPLATE = ROOT / "template.yaml"
WRITE_KEY = "test-write-key"


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Powertools' own test switches (no metrics published, quiet logs), no AWS endpoint inherited from the
    shell, and a composition root that the test (or local mode) builds and that is gone afterwards."""
    for name, value in {
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "righttime-tests",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    previous = install(None)
    try:
        yield
    finally:
        install(previous)


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock that stands still until the test moves it."""
    return VirtualClock(start=datetime(2026, 11, 20, 9, 15, tzinfo=UTC))
