"""`righttime demo` (make demo): the cart story on a fixed virtual clock, the same on every run."""

from __future__ import annotations

from pathlib import Path

import pytest

from righttime_dev.cli import main
from tests.conftest import TEMPLATE

JOURNEY = TEMPLATE.parent / "events" / "journey-cart-abandonment.jsonl"


def _demo(outbox: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["demo", "--journey", str(JOURNEY), "--template", str(TEMPLATE), "--outbox", str(outbox)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_the_demo_tells_why_the_reminder_went_the_next_morning(isolated_env, tmp_path, capsys):
    # When the demo runs twice
    first = _demo(tmp_path / "one", capsys)
    second = _demo(tmp_path / "two", capsys)
    # Then both runs print exactly the same story, apart from the outbox each was given
    assert first.replace(str(tmp_path / "one"), "OUTBOX") == second.replace(str(tmp_path / "two"), "OUTBOX")
    lines = first.splitlines()
    # And it shows right-time at work: the cart at 20:24 Paris, due at 21:24, deferred to the morning, sent
    assert any(
        "Thu 20:24:00 Paris (19:24:00 UTC)  cart_abandonment" in line and "scheduled for Fri 08:01:39" in line
        for line in lines
    )
    assert any("due Thu 21:24:00, outside the campaign's window" in line for line in lines)
    assert any("deferred to Fri 08:00:00 Europe/Paris" in line for line in lines)
    assert any(
        line.split()[:7] == ["Fri", "08:01:39", "Paris", "(07:01:39", "UTC)", "cart_abandonment", "sent"]
        for line in lines
    )
    # And the e-mail it shows went then, to a masked address; no key, URL or curl hint of a server now gone
    assert "Date: Fri, 13 Mar 2026 07:01:39 +0000" in lines
    assert "To: j***@example.com" in lines
    assert "jane@example.com" not in first
    assert "curl" not in first and "127.0.0.1" not in first and "key" not in first
    assert len(list((tmp_path / "one").glob("*.eml"))) == 1
