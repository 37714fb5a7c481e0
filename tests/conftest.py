"""Fixtures shared by every test level. moto is imported before any boto3 client can exist."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import moto  # noqa: F401 - must precede boto3 client creation
import pytest

from righttime import runtime
from righttime.clock import VirtualClock, use_clock

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
TEMPLATE = ROOT / "template.yaml"
WRITE_KEY = "test-write-key"


@pytest.fixture
def isolated_env() -> Iterator[None]:
    """Whatever a test (or local mode) puts in the environment is gone afterwards."""
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "righttime-tests",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    runtime.reset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        runtime.reset()


@pytest.fixture
def clock() -> Iterator[VirtualClock]:
    """A virtual clock that stands still until the test moves it."""
    virtual = VirtualClock(start=datetime(2026, 11, 20, 9, 15, tzinfo=UTC))
    previous = use_clock(virtual)
    try:
        yield virtual
    finally:
        use_clock(previous)
