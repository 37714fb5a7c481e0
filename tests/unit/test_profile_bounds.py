"""A profile stays within bounds whatever a customer's apps send: traits past the bounds are dropped and
counted, never the whole event, so later events keep working (DynamoDB refuses items over 400 KB)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.conftest import MakeEvent

from righttime.core.profiles import MAX_TRAITS, MAX_TRAITS_BYTES, Profile, apply_event


def test_a_new_trait_past_the_count_bound_is_dropped_and_named(make_event: MakeEvent, t0: datetime):
    # Given a customer whose profile already holds the most traits it may
    profile = Profile(customer_id="cust-1", traits={f"t{i}": i for i in range(MAX_TRAITS)})
    # When an identify brings one new trait and a new value for a known one
    event = make_event("identify", t0, traits={"shoe_size": 42, "t0": "updated"})
    updated = apply_event(profile, event)
    # Then the known trait is updated, the new one is dropped, and the profile says which and when
    assert updated.traits["t0"] == "updated" and "shoe_size" not in updated.traits
    assert updated.dropped_traits is not None
    assert (updated.dropped_traits.count, updated.dropped_traits.names) == (1, ["shoe_size"])
    assert updated.dropped_traits.at == t0


def test_a_trait_that_would_pass_the_size_bound_is_dropped_and_later_events_still_apply(
    make_event: MakeEvent, t0: datetime
):
    # Given a customer whose traits are close to the size bound
    big = "x" * 1900
    profile = Profile(customer_id="cust-1")
    for n in range(40):
        traits = {f"note_{n}_{k}": big for k in range(3)}
        profile = apply_event(profile, make_event("identify", t0 + timedelta(seconds=n), traits=traits))
    # Then the traits never grow past the bound, and what did not fit is counted
    assert len(json.dumps(profile.traits, separators=(",", ":")).encode()) <= MAX_TRAITS_BYTES
    assert profile.dropped_traits is not None and profile.dropped_traits.count > 0
    # And the customer's next events still change the profile (a new e-mail address, a cart)
    later = t0 + timedelta(hours=1)
    profile = apply_event(profile, make_event("identify", later, traits={"email": "new@example.com"}))
    profile = apply_event(
        profile, make_event("track", later, event="Product Added", properties={"product_id": "p1"})
    )
    assert profile.email == "new@example.com" and [i.product_id for i in profile.cart] == ["p1"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.text(min_size=1, max_size=12),
            st.text(max_size=2000) | st.integers(),
            max_size=100,
        ),
        max_size=12,
    )
)
def test_whatever_identifies_arrive_the_traits_stay_bounded(batches: list[dict[str, object]]) -> None:
    # Given any sequence of identify calls with up to 100 traits of up to 2 KB each (ingest's caps)
    from pydantic import TypeAdapter

    from righttime.core.events import Message, QueuedEvent

    profile = Profile(customer_id="c")
    at = datetime.fromisoformat("2026-03-02T10:00:00+00:00")
    for n, traits in enumerate(batches):
        message = TypeAdapter(Message).validate_python(
            {"type": "identify", "userId": "c", "messageId": f"m{n}", "traits": traits}
        )
        profile = apply_event(profile, QueuedEvent(message=message, received_at=at, occurred_at=at))
    # Then the profile never holds more traits, or bigger ones, than its bounds
    assert len(profile.traits) <= MAX_TRAITS
    assert len(json.dumps(profile.traits, separators=(",", ":")).encode()) <= MAX_TRAITS_BYTES
