"""`righttime local` runs the due sweep on its own clock, every DueSweepMinutes on the hour's grid, as the
deployed cron schedule does: a customer whose due instant passes gets a due event, which is evaluated."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from righttime.core.profiles import Profile
from righttime.wiring.root import root
from righttime_dev.local.server import LocalRighttime
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def test_local_mode_queues_and_evaluates_a_due_event_once_the_instant_passes(local: LocalRighttime):
    # Given a customer whose profile is due 20 minutes from now on local mode's clock (an hour a second)
    due_at = local.clock.now() + timedelta(minutes=20)

    def due(profile: Profile) -> bool:
        profile.due_at = due_at
        return True

    root().store.apply_to_profile("ada", due)
    message_id = f"righttime-due-{due_at.astimezone(UTC).isoformat()}"
    # Then once the clock has passed the first quarter-hour mark after it, its due event has been evaluated
    assert wait_for(lambda: root().store.get_profile("ada").has_processed(message_id))
    assert local.clock.now() >= due_at
