"""Message ids: stored messages, schedules and de-duplication depend on them, so they never change."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from righttime.core.decisions import message_id_for

NAMESPACE = uuid.UUID("5f0e9d2c-7a43-4c41-9a8e-2b1f6c0de0a1")


def test_a_trigger_keeps_the_message_id_it_always_had() -> None:
    # Given a customer, a campaign and a trigger event's message id
    # When the message id is worked out
    message_id = message_id_for("cust-1", "cart-abandonment", "m-view")
    # Then it is the version-5 UUID messages stored before were given
    assert message_id == uuid.uuid5(NAMESPACE, "cust-1\x1fcart-abandonment\x1fm-view").hex
    assert uuid.UUID(message_id).version == 5


@given(customer=st.text(), campaign=st.text(), trigger=st.text())
def test_every_message_id_is_the_uuid5_of_its_trigger(customer: str, campaign: str, trigger: str) -> None:
    # Given any customer id, campaign id and trigger message id (any unicode)
    name = f"{customer}\x1f{campaign}\x1f{trigger}"
    try:
        expected = uuid.uuid5(NAMESPACE, name).hex
    except UnicodeEncodeError:  # a lone surrogate: refused the same way
        with pytest.raises(UnicodeEncodeError):
            message_id_for(customer, campaign, trigger)
        return
    # When the message id is worked out, Then it is that version-5 UUID, byte for byte
    assert message_id_for(customer, campaign, trigger) == expected
