"""A merge under faults: an invocation that dies before or after the merge's one transaction leaves both
profiles either as they were or fully merged, never half-merged, and the event delivered again gives one
reminder (docs/identity.md, "Atomicity")."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from righttime.core.clock import VirtualClock
from righttime.core.events import AliasMessage, QueuedEvent
from righttime.stages.evaluate import Evaluation, evaluate
from righttime.wiring.root import root
from righttime_dev.local.pipeline import Pipeline
from tests.faults.conftest import Crash, Fault, Faults, emails
from tests.functional.conftest import post


def _anonymous_cart_and_a_known_customer(pipeline: Pipeline) -> None:
    cart = {
        "anonymousId": "anon-f",
        "event": "Product Added",
        "properties": {"product_id": "lamp", "name": "Lamp"},
    }
    assert post(pipeline, "/v1/track", cart)[0] == 200
    assert post(pipeline, "/v1/identify", {"userId": "fay", "traits": {"email": "fay@example.com"}})[0] == 200
    pipeline.run_until_idle()


def _alias(now: datetime) -> Evaluation:
    message = AliasMessage(userId="fay", previousId="anon-f", messageId="alias-fay")
    event = QueuedEvent(message=message, received_at=now, occurred_at=now)
    parts = root()
    return evaluate(event, parts.store, parts.content.campaigns, parts.content.policy, now)


def _state() -> tuple[int, int, str | None, list[str]]:
    known, anonymous = root().store.get_profile("fay"), root().store.get_profile("anon-f")
    return known.version, anonymous.version, anonymous.merged_into, [line.product_id for line in known.cart]


@pytest.mark.parametrize("when", ["crash-before", "crash-after"])
def test_a_merge_is_never_half_done_and_its_redelivery_sends_one_reminder(
    pipeline: Pipeline, clock: VirtualClock, faults: Faults, when: str
):
    # Given an anonymous cart and a known customer, and an evaluation that dies around the merge's commit
    _anonymous_cart_and_a_known_customer(pipeline)
    before = _state()
    faults.arm(Fault("dynamodb", "TransactWriteItems", when))
    # When the alias is evaluated
    with pytest.raises(Crash):
        _alias(clock.now())
    # Then both profiles are as they were, or both are merged
    after = _state()
    if when == "crash-before":
        assert after == before
    else:
        assert after == (before[0] + 1, before[1] + 1, "fay", ["lamp"])
    # When SQS delivers the alias again
    redelivered = _alias(clock.now())
    # Then it merges (or finds the merge done), and one reminder goes out
    assert redelivered.duplicate is (when == "crash-after")
    assert _state()[2:] == ("fay", ["lamp"])
    pipeline.run_until_idle()
    clock.advance(timedelta(hours=3))
    pipeline.run_until_idle()
    assert emails(pipeline) == 1
