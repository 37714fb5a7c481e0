"""Identify traits in `context.traits`, where RudderStack's SDKs send them: read like top-level traits, and
checked alike at the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from righttime.core.errors import InvalidRequestError
from righttime.core.profiles import Profile, apply_event
from righttime.stages.ingest import parse

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _identify(**fields: object) -> bytes:
    return json.dumps(
        {"batch": [{"type": "identify", "userId": "rui", "messageId": "m1", **fields}]}
    ).encode()


def test_traits_sent_in_the_context_are_read_as_traits():
    # Given an identify whose traits are in context.traits only, as RudderStack sends them
    (event,) = parse(
        "batch", _identify(context={"traits": {"email": "rui@example.com", "plan": "gold"}}), NOW
    )
    # When it is applied to the profile
    profile = apply_event(Profile(customer_id="rui"), event)
    # Then the customer has the address and the trait
    assert profile.email == "rui@example.com" and profile.traits["plan"] == "gold"


def test_top_level_traits_win_over_the_contexts():
    body = _identify(traits={"email": "new@example.com"}, context={"traits": {"email": "old@example.com"}})
    (event,) = parse("batch", body, NOW)
    assert apply_event(Profile(customer_id="rui"), event).email == "new@example.com"


def test_a_bad_address_in_the_context_traits_is_refused_naming_it():
    with pytest.raises(InvalidRequestError) as refused:
        parse("batch", _identify(context={"traits": {"email": "not an address"}}), NOW)
    assert [e.field for e in refused.value.errors] == ["batch.0.context.traits.email"]
