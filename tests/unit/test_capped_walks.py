"""Messages a full cap refuses one after another: each is placed, and explained, as if it were the first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from righttime.core.campaigns import Campaign
from righttime.core.global_policy import GlobalPolicy
from righttime.core.policy import customer_zone
from righttime.core.policy.placement import TakenSlots, place
from righttime.core.policy.zone import CustomerZone
from righttime.core.profiles import Profile

NOW = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
POLICY = GlobalPolicy.model_validate(
    {
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "frequency_caps": [{"max": 1, "per": "day"}, {"max": 3, "per": "7d"}],
    }
)


def _paris() -> CustomerZone:
    """A customer's zone as one evaluation has it: a new one remembers nothing."""
    return customer_zone(Profile(customer_id="u1", timezone="Europe/Paris"), POLICY)


def _campaign(index: int, at_local_time: str | None) -> Campaign:
    timing: dict[str, object] = {"window": {"start": "09:00", "end": "20:00"}}
    if at_local_time is not None:
        timing["at_local_time"] = at_local_time
    return Campaign.model_validate(
        {
            "id": f"c{index}",
            "name": "C",
            "template": "t",
            "trigger": {"event": "Product Added"},
            "timing": timing,
        }
    )


@settings(max_examples=60, deadline=None)
@given(
    taken_hours=st.lists(st.integers(0, 24 * 8), max_size=6),
    asks=st.lists(
        st.tuples(st.integers(0, 24 * 5), st.sampled_from([None, "10:00", "18:30"]), st.integers(1, 9)),
        min_size=1,
        max_size=8,
    ),
)
def test_a_refused_message_is_placed_as_if_it_were_the_first(
    taken_hours: list[int], asks: list[tuple[int, str | None, int]]
) -> None:
    # Given the slots taken by sends and higher priorities, and a customer in Paris
    zone = _paris()
    taken = TakenSlots(NOW + timedelta(hours=h) for h in taken_hours)
    for index, (hours, wall, days) in enumerate(asks):
        desired, send_by = NOW + timedelta(hours=hours), NOW + timedelta(days=days)
        campaign = _campaign(index, wall)
        # When messages are placed one after another with no slot taken in between
        placed = place(desired, zone, campaign, POLICY, taken, send_by)
        # Then each gets the slot and the reasons it would get placed first, against the same slots
        first = place(desired, _paris(), campaign, POLICY, taken.copy(), send_by)
        assert placed.at == first.at
        assert placed.reasons(zone) == first.reasons(zone)
