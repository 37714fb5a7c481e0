"""Work a handler does at INIT in Lambda (`warm`), so its first invocation hides none of it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from righttime.core.campaigns import CampaignError
from righttime.core.errors import ConfigurationError
from righttime.wiring.root import install, root, warm

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def campaigns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A content folder named by the environment, and no composition root installed."""
    folder = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", folder)
    monkeypatch.setenv("CAMPAIGNS_DIR", str(folder))
    monkeypatch.setenv("TEMPLATES_DIR", str(ROOT / "templates"))
    previous = install(None)
    yield folder
    install(previous)


def test_in_lambda_the_campaigns_are_loaded_at_init(campaigns: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a Lambda container whose handler warms its campaigns at import
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "EvaluateFunction")
    warm("content.campaigns")
    # When the folder is gone by the first invocation
    shutil.rmtree(campaigns)
    # Then the first invocation still has them: they were read before it
    assert "cart_abandonment" in {c.id for c in root().content.campaigns}


def test_outside_lambda_nothing_is_built_at_import(campaigns: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given tests, local mode or simulation importing a handler
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    warm("content.campaigns")
    # When the folder changes before first use
    shutil.rmtree(campaigns)
    # Then nothing was read early: the root they install is the one that loads
    with pytest.raises(CampaignError, match="campaigns folder not found"):
        _ = root().content.campaigns


def test_missing_settings_wait_for_the_first_call(campaigns: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a Lambda whose queue URL is not configured
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "IngestFunction")
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # Lambda always sets it
    monkeypatch.delenv("EVENTS_QUEUE_URL", raising=False)
    # When its handler warms the queue at import, INIT does not fail
    warm("queue")
    # Then the first call reports the missing variable, where the handler answers it
    with pytest.raises(ConfigurationError, match="EVENTS_QUEUE_URL"):
        _ = root().queue
