"""Behaviours a review found missing: a trigger about something else supersedes the pending message,
and campaign files cannot smuggle in times and durations YAML misreads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from righttime.core.campaigns import Campaign, CampaignError, load_campaigns
from righttime.core.decisions import MessageStatus, Outcome
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy import plan_event
from righttime.core.profiles import Profile

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
BROWSE = Campaign.model_validate(
    {
        "id": "browse",
        "name": "Browse",
        "template": "t",
        "trigger": {"event": "Product Viewed"},
        "timing": {"delay": "4h"},
        "dedupe_key": "product_id",
    }
)


def _viewed(product: str, message_id: str) -> QueuedEvent:
    return QueuedEvent(
        message=TrackMessage(
            userId="c", messageId=message_id, event="Product Viewed", properties={"product_id": product}
        ),
        received_at=NOW,
        occurred_at=NOW,
    )


def test_a_trigger_about_another_product_supersedes_the_pending_message():
    # Given a pending browse nudge about product X
    profile = Profile(customer_id="c", email="c@example.com", version=1)
    first = plan_event(profile, _viewed("X", "m1"), [BROWSE], GlobalPolicy(), NOW)
    (x_message,) = first.schedule
    # When the customer views product Y
    second = plan_event(first.profile, _viewed("Y", "m2"), [BROWSE], GlobalPolicy(), NOW)
    # Then the nudge about X is cancelled as superseded, and one about Y is scheduled instead
    assert [(mid, status) for mid, status, _ in second.close] == [
        (x_message.message_id, MessageStatus.CANCELLED)
    ]
    outcomes = [(d.outcome, d.reason_codes) for d in second.decisions]
    assert outcomes == [(Outcome.CANCELLED, ["superseded"]), (Outcome.SCHEDULED, ["triggered"])]
    assert second.decisions[0].reasons[0].detail == {"key": "product_id", "previous": "X", "by": "Y"}
    (y_message,) = second.schedule
    assert y_message.dedupe_key == "Y" and second.profile.pending["browse"].message_id == y_message.message_id


@pytest.mark.parametrize(
    ("yaml_line", "expected"),
    [
        ('timing: {delay: 1h, window: {start: "09:00", end: 20:00}}', "quoted strings"),
        ("timing: {delay: 1h, at_local_time: 10:00}", "quoted strings"),
        ("timing: {delay: 1:30}", "has no unit"),
    ],
)
def test_unquoted_times_and_unitless_durations_are_refused_with_how_to_write_them(
    tmp_path: Path, yaml_line: str, expected: str
):
    # Given a campaign file where YAML reads 09:00 or 1:30 as a base-60 number
    (tmp_path / "c.yaml").write_text(
        f"id: c\nname: C\ntemplate: t\ntrigger: {{event: Product Added}}\n{yaml_line}\n"
    )
    # Then loading it fails, naming the file, campaign and field, and saying how to write it
    with pytest.raises(CampaignError) as failure:
        load_campaigns(tmp_path)
    (problem,) = failure.value.problems
    assert problem.startswith("c.yaml: c: timing.") and expected in problem
