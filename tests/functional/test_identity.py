"""Identity on moto, through the real handlers (ingest -> evaluate -> scheduler -> sender): an anonymous
visitor who logs in or is aliased is merged into the known customer, with exactly one reminder
(docs/identity.md)."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email.policy import default as default_policy
from typing import Any

from righttime.core.clock import VirtualClock
from righttime.core.decisions import MessageStatus
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.policy import Plan
from righttime.stages.evaluate import evaluate
from righttime.stages.ports import Store
from righttime.wiring.root import root
from righttime_dev.local.pipeline import Pipeline
from tests.functional.conftest import post

KETTLE = {"product_id": "kettle-1", "name": "Steel kettle", "price": 45, "cart_id": "cart-9"}


def _send(pipeline: Pipeline, path: str, body: dict[str, Any]) -> None:
    status, payload = post(pipeline, path, body)
    assert status == 200, payload
    pipeline.run_until_idle()


def _anonymous_cart(pipeline: Pipeline, anonymous_id: str = "anon-7") -> None:
    _send(
        pipeline,
        "/v1/track",
        {"anonymousId": anonymous_id, "event": "Product Added", "properties": KETTLE},
    )


def _schedules(pipeline: Pipeline) -> list[str]:
    client = pipeline.client("scheduler")
    group = pipeline.stack.physical["ScheduleGroup"]
    return [s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"]]


def _outcomes(customer_id: str, campaign: str | None = None) -> list[tuple[str, str, list[str]]]:
    return [
        (d.campaign_id, d.outcome.value, d.reason_codes)
        for d in root().store.decisions(customer_id, campaign)
    ]


def _sent_to(pipeline: Pipeline) -> list[str]:
    return [str(email.message_from_bytes(s.raw, policy=default_policy)["To"]) for s in pipeline.sent]


def test_an_anonymous_cart_then_a_login_with_both_ids_sends_one_reminder_to_the_login_address(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given an anonymous visitor who adds a kettle (no address: nothing can be planned yet)
    start = clock.now()
    _anonymous_cart(pipeline)
    assert _outcomes("anon-7", "cart_abandonment") == [("cart_abandonment", "suppressed", ["no_email"])]
    # When she logs in ten minutes later: identify with her userId, her anonymousId and her address
    clock.advance(timedelta(minutes=10))
    _send(
        pipeline,
        "/v1/identify",
        {
            "userId": "lena",
            "anonymousId": "anon-7",
            "traits": {"email": "lena@example.com", "firstName": "Lena"},
        },
    )
    # Then her profile holds the kettle, the anonymous profile points at hers, and the merge is explained
    profile = root().store.get_profile("lena")
    assert [line.product_id for line in profile.cart] == ["kettle-1"] and profile.known
    assert root().store.get_profile("anon-7").merged_into == "lena"
    assert _outcomes("lena") == [
        ("identity", "merged", ["merged"]),
        ("cart_abandonment", "scheduled", ["triggered"]),
    ]
    assert _outcomes("anon-7", "identity") == [("identity", "merged", ["merged"])]
    # And exactly one reminder goes out, to her address, an hour after the kettle was added
    clock.advance(timedelta(hours=3))
    pipeline.run_until_idle()
    assert _sent_to(pipeline) == ["lena@example.com"]
    (sent,) = [d for d in root().store.decisions("lena", "cart_abandonment") if d.outcome.value == "sent"]
    assert sent.send_at is not None and sent.send_at - start < timedelta(hours=1, minutes=2)


def test_an_anonymous_cart_then_an_alias_sends_one_reminder(pipeline: Pipeline, clock: VirtualClock):
    # Given an anonymous cart, and a customer known with an address
    _anonymous_cart(pipeline, "anon-b")
    _send(pipeline, "/v1/identify", {"userId": "omar", "traits": {"email": "omar@example.com"}})
    # When the app aliases the anonymous id to his userId
    _send(pipeline, "/v1/alias", {"userId": "omar", "previousId": "anon-b", "messageId": "alias-1"})
    clock.advance(timedelta(hours=3))
    pipeline.run_until_idle()
    # Then he gets one reminder
    assert _sent_to(pipeline) == ["omar@example.com"]


def test_when_both_profiles_wait_for_a_cart_reminder_one_is_cancelled_and_its_schedule_deleted(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a guest with an address waiting for a cart reminder, and her member profile waiting for one too
    _send(pipeline, "/v1/identify", {"anonymousId": "anon-g", "traits": {"email": "guest@example.com"}})
    _anonymous_cart(pipeline, "anon-g")
    _send(pipeline, "/v1/identify", {"userId": "mia", "traits": {"email": "mia@example.com"}})
    _send(
        pipeline,
        "/v1/track",
        {"userId": "mia", "event": "Product Added", "properties": {"product_id": "vase"}},
    )
    assert len(_schedules(pipeline)) == 2
    # When she logs in on the guest's browser
    _send(pipeline, "/v1/identify", {"userId": "mia", "anonymousId": "anon-g"})
    # Then the guest's reminder is cancelled as a duplicate, and only one schedule is left
    (guest,) = root().store.messages_of("anon-g")
    assert guest.status is MessageStatus.CANCELLED
    assert [r.code.value for r in guest.reasons] == ["merged_duplicate"]
    assert len(_schedules(pipeline)) == 1
    # And one reminder goes out, to the member's address
    clock.advance(timedelta(hours=3))
    pipeline.run_until_idle()
    assert _sent_to(pipeline) == ["mia@example.com"]


def test_a_waiting_reminder_moves_to_the_known_profile_with_a_schedule_of_its_own(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a guest with an address waiting for a cart reminder
    _send(pipeline, "/v1/identify", {"anonymousId": "anon-c", "traits": {"email": "guest.ines@example.com"}})
    _anonymous_cart(pipeline, "anon-c")
    (old,) = root().store.messages_of("anon-c")
    # When she creates an account with another address
    clock.advance(timedelta(minutes=20))
    _send(
        pipeline,
        "/v1/identify",
        {"userId": "ines", "anonymousId": "anon-c", "traits": {"email": "ines@example.com"}},
    )
    # Then the reminder waits on her account, at the same time, with its own schedule; the guest's is closed
    (moved,) = root().store.messages_of("ines")
    assert (moved.status, moved.send_at) == (MessageStatus.PENDING, old.send_at)
    assert root().store.get_message("anon-c", old.message_id).status is MessageStatus.CANCELLED  # type: ignore[union-attr]
    assert [name.split("-")[1] for name in _schedules(pipeline)] == [moved.message_id]
    # And it goes to the account's address, once
    clock.advance(timedelta(hours=3))
    pipeline.run_until_idle()
    assert _sent_to(pipeline) == ["ines@example.com"]


def test_an_alias_delivered_again_changes_nothing(pipeline: Pipeline, clock: VirtualClock):
    # Given an anonymous cart aliased to a known customer
    _anonymous_cart(pipeline, "anon-r")
    _send(pipeline, "/v1/identify", {"userId": "rui", "traits": {"email": "rui@example.com"}})
    alias = {"userId": "rui", "previousId": "anon-r", "messageId": "alias-rui"}
    _send(pipeline, "/v1/alias", alias)
    version, decisions = root().store.get_profile("rui").version, _outcomes("rui")
    # When the same alias arrives again, past SQS's de-duplication window
    clock.advance(timedelta(minutes=10))
    _send(pipeline, "/v1/alias", alias)
    # Then neither profile changed and nothing more was decided
    assert root().store.get_profile("rui").version == version
    assert _outcomes("rui") == decisions


def test_two_known_customers_aliased_are_not_merged_and_the_decision_says_why(pipeline: Pipeline):
    # Given two customers, each known by a userId
    _send(pipeline, "/v1/identify", {"userId": "kai", "traits": {"email": "kai@example.com"}})
    _send(pipeline, "/v1/identify", {"userId": "kai.work", "traits": {"email": "kai@work.example.com"}})
    # When one is aliased to the other
    _send(pipeline, "/v1/alias", {"userId": "kai.work", "previousId": "kai"})
    # Then both keep their own address, and the known profile says why they were not merged
    assert root().store.get_profile("kai").email == "kai@example.com"
    assert root().store.get_profile("kai").merged_into is None
    assert root().store.get_profile("kai.work").email == "kai@work.example.com"
    assert _outcomes("kai.work", "identity") == [("identity", "not_merged", ["both_known"])]


def test_a_later_event_with_only_the_anonymous_id_lands_on_the_known_profile(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given an anonymous id merged into a known customer
    _anonymous_cart(pipeline, "anon-l")
    _send(
        pipeline,
        "/v1/identify",
        {"userId": "lou", "anonymousId": "anon-l", "traits": {"email": "lou@example.com"}},
    )
    # When the same browser adds a mug without the userId (logged out, or an SDK that lost it)
    clock.advance(timedelta(minutes=5))
    _send(
        pipeline,
        "/v1/track",
        {
            "anonymousId": "anon-l",
            "event": "Product Added",
            "properties": {"product_id": "mug-1", "cart_id": "cart-9"},
        },
    )
    # Then the mug is in the known customer's cart, and the tombstone stays a tombstone
    assert [line.product_id for line in root().store.get_profile("lou").cart] == ["kettle-1", "mug-1"]
    tombstone = root().store.get_profile("anon-l")
    assert tombstone.merged_into == "lou" and tombstone.cart == []
    # And the reminder moved to the latest activity: still one reminder
    assert [d[1:] for d in _outcomes("lou", "cart_abandonment")] == [
        ("scheduled", ["triggered"]),
        ("scheduled", ["trigger_repeated"]),
    ]
    clock.advance(timedelta(hours=3))
    pipeline.run_until_idle()
    assert _sent_to(pipeline) == ["lou@example.com"]


def test_an_anonymous_unsubscribe_wins_over_a_subscribed_known_customer(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a visitor who unsubscribed anonymously, and a subscribed known customer
    _send(pipeline, "/v1/identify", {"anonymousId": "anon-u", "traits": {"unsubscribed": True}})
    _send(pipeline, "/v1/identify", {"userId": "noor", "traits": {"email": "noor@example.com"}})
    # When they turn out to be one person, who then adds to the cart
    _send(pipeline, "/v1/identify", {"userId": "noor", "anonymousId": "anon-u"})
    _send(pipeline, "/v1/track", {"userId": "noor", "event": "Product Added", "properties": KETTLE})
    # Then the customer is unsubscribed, the history says the merge did it, and no promotion is sent
    profile = root().store.get_profile("noor")
    assert profile.unsubscribed and profile.consent_history[-1].how == "merge"
    assert _outcomes("noor", "cart_abandonment") == [("cart_abandonment", "suppressed", ["unsubscribed"])]
    clock.advance(timedelta(hours=3))
    pipeline.run_until_idle()
    assert pipeline.sent == []


class _ChangesTheAnonymousProfileOnce:
    """A store on which another writer (the anonymous id's own queue group) changes the anonymous profile
    between the merge's read and its commit, once."""

    def __init__(self, store: Store, event: QueuedEvent, now: datetime) -> None:
        self.store, self.event, self.now, self.commits = store, event, now, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def commit_merge(
        self, plan: Plan, read_version: int, other: Plan, other_version: int, now: datetime
    ) -> None:
        self.commits += 1
        if self.commits == 1:
            evaluate(self.event, self.store, root().content.campaigns, root().content.policy, self.now)
        self.store.commit_merge(plan, read_version, other, other_version, now)


def test_a_merge_that_races_an_anonymous_event_is_planned_again_and_keeps_both(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given an anonymous cart, and a known customer
    _anonymous_cart(pipeline, "anon-x")
    _send(pipeline, "/v1/identify", {"userId": "xia", "traits": {"email": "xia@example.com"}})
    now = clock.now()
    mug = TrackMessage(
        anonymousId="anon-x", messageId="mug", event="Product Added", properties={"product_id": "mug"}
    )
    racing = _ChangesTheAnonymousProfileOnce(
        root().store, QueuedEvent(message=mug, received_at=now, occurred_at=now), now
    )
    alias = TrackMessage(userId="xia", anonymousId="anon-x", messageId="login", event="Signed In")
    # When the merge's commit finds the anonymous profile changed since it read it
    result = evaluate(
        QueuedEvent(message=alias, received_at=now, occurred_at=now),
        racing,  # type: ignore[arg-type]
        root().content.campaigns,
        root().content.policy,
        now,
    )
    # Then it is planned again from fresh state: nothing half-merged, and the racing mug is merged too
    assert result.attempts == 2
    assert sorted(line.product_id for line in root().store.get_profile("xia").cart) == ["kettle-1", "mug"]
    assert root().store.get_profile("anon-x").merged_into == "xia"
