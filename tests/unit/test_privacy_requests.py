"""Privacy requests as use cases (righttime.stages.privacy) over in-memory fakes of their ports: what is
exported, what an erasure removes and in which order, and what it leaves behind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from righttime.core.addresses import address_key, erased_customer_key
from righttime.core.campaigns import Kind
from righttime.core.catalog import Interest, InterestKind
from righttime.core.decisions import MessageStatus, OutboundMessage
from righttime.core.profiles import CartItem, Profile
from righttime.stages import privacy
from righttime.stages.ports import DecisionPage

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def _message(message_id: str, status: MessageStatus, to: str, product: str) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        customer_id="ivy",
        campaign_id="cart_abandonment",
        kind=Kind.PROMOTIONAL,
        template="cart",
        status=status,
        send_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        trigger_event="Product Added",
        trigger_message_id="m1",
        trigger_at=NOW,
        to=to,
        generation=2,
        trigger_properties={"product_id": product},
    )


class FakeStore:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def get_profile(self, customer_id: str) -> Profile:
        return self.profile if self.profile.customer_id == customer_id else Profile(customer_id=customer_id)


class FakeRecords:
    """One customer's records; every call is logged, so the order of an erasure can be checked."""

    def __init__(self, messages: list[OutboundMessage], decision_items: int) -> None:
        self.stored_messages = messages
        self.decision_items = decision_items
        self.profile = True
        self.interest_products = {"lamp"}
        self.suppressed: dict[str, str] = {}
        self.calls: list[str] = []

    def decisions_page(
        self, customer_id: str, campaign_id: str | None, limit: int, cursor: str | None
    ) -> DecisionPage:
        return DecisionPage([], None)

    def messages(self, customer_id: str, limit: int) -> tuple[list[OutboundMessage], bool]:
        return self.stored_messages[:limit], len(self.stored_messages) > limit

    def interests(self, customer_id: str, product_ids: Sequence[str]) -> list[Interest]:
        return [
            Interest(customer_id=customer_id, product_id=p, kind=InterestKind.CARTED, at=NOW)
            for p in product_ids
            if p in self.interest_products
        ]

    def suppression(self, keys: Sequence[str]) -> dict[str, str]:
        return {k: self.suppressed[k] for k in keys if k in self.suppressed}

    def suppress_erased(self, keys: Sequence[str], now: datetime) -> None:
        self.calls.append("suppress")
        self.suppressed |= dict.fromkeys(keys, "erased")

    def delete_interests(self, customer_id: str, product_ids: Sequence[str]) -> int:
        self.calls.append("interests")
        found = self.interest_products & set(product_ids)
        self.interest_products -= found
        return len(found)

    def delete_records(self, customer_id: str, limit: int) -> tuple[int, int, bool]:
        self.calls.append("records")
        messages = len(self.stored_messages[:limit])
        decisions = min(self.decision_items, limit - messages)
        self.stored_messages = self.stored_messages[limit:]
        self.decision_items -= decisions
        return messages, decisions, bool(self.stored_messages or self.decision_items)

    def delete_profile(self, customer_id: str) -> bool:
        self.calls.append("profile")
        existed, self.profile = self.profile, False
        return existed


class FakeSchedules:
    def __init__(self, records: FakeRecords) -> None:
        self.records = records
        self.deleted: list[tuple[str, int]] = []

    def delete(self, message_id: str, generation: int) -> bool:
        self.records.calls.append("schedule")
        self.deleted.append((message_id, generation))
        return True


def _customer() -> tuple[FakeStore, FakeRecords, FakeSchedules]:
    profile = Profile(
        customer_id="ivy",
        version=3,
        email="Ivy@Example.com",
        cart=[CartItem(product_id="lamp")],
        bought_products=["vase"],
    )
    messages = [
        _message("pending-one", MessageStatus.PENDING, "Ivy@Example.com", "lamp"),
        _message("sent-one", MessageStatus.SENT, "old@example.com", "rug"),
    ]
    records = FakeRecords(messages, decision_items=4)
    return FakeStore(profile), records, FakeSchedules(records)


def test_erasure_suppresses_first_then_cancels_deletes_and_drops_the_profile_last():
    # Given a customer with a pending and a sent message, decisions and an interest entry
    store, records, schedules = _customer()

    # When it is erased
    erasure = privacy.erase(store, records, schedules, "ivy", NOW)  # type: ignore[arg-type]

    # Then the guard is written before anything is removed, and the profile goes last
    assert records.calls == ["suppress", "schedule", "interests", "records", "profile"]
    # And only the pending message's current schedule is cancelled
    assert schedules.deleted == [("pending-one", 2)]
    # And every address it had, and its id, are suppressed as hashes
    assert records.suppressed == {
        address_key("ivy@example.com"): "erased",
        address_key("old@example.com"): "erased",
        erased_customer_key("ivy"): "erased",
    }
    assert erasure.document() == {
        "user_id": "ivy",
        "found": True,
        "complete": True,
        "erased": {
            "profile": True,
            "messages": 2,
            "decisions": 4,
            "schedules": 1,
            "interests": 1,
            "merged_profiles": 0,
        },
        "suppression_entries": 3,
    }


def test_an_erasure_too_large_for_one_call_keeps_the_profile_until_a_repeat_finishes(monkeypatch):  # type: ignore[no-untyped-def]
    # Given a customer with more records than one erasure deletes
    monkeypatch.setattr(privacy, "MAX_ERASED_ITEMS", 3)
    store, records, schedules = _customer()

    # When it is erased once
    first = privacy.erase(store, records, schedules, "ivy", NOW)  # type: ignore[arg-type]

    # Then it says it is not complete, and the profile (which names its addresses) is still there
    assert first.complete is False and first.profile is False and records.profile is True

    # And repeating finishes it
    second = privacy.erase(store, records, schedules, "ivy", NOW)  # type: ignore[arg-type]
    assert second.complete is True and second.profile is True
    assert first.messages + second.messages == 2 and first.decisions + second.decisions == 4


def test_a_repeated_erasure_finds_nothing_but_keeps_the_id_suppressed():
    store, records, schedules = _customer()
    privacy.erase(store, records, schedules, "ivy", NOW)  # type: ignore[arg-type]
    store.profile = Profile(customer_id="ivy")  # gone, as the real store reads it

    again = privacy.erase(store, records, schedules, "ivy", NOW)  # type: ignore[arg-type]

    assert again.found is False and again.complete is True
    assert records.suppressed[erased_customer_key("ivy")] == "erased"


def test_the_export_names_the_customers_addresses_products_and_suppression():
    # Given a customer whose old address bounced
    store, records, _ = _customer()
    records.suppressed[address_key("old@example.com")] = "hard_bounce"

    # When it is exported
    document = privacy.export_document(store, records, "ivy", NOW)  # type: ignore[arg-type]

    # Then the document carries the profile, both messages, the bounce and the interest entry
    assert document["found"] is True and document["profile"]["email"] == "Ivy@Example.com"
    assert [m["message_id"] for m in document["messages"]] == ["pending-one", "sent-one"]
    assert document["suppression"] == [{"address": "old@example.com", "reason": "hard_bounce"}]
    assert document["interests"] == [
        {"product_id": "lamp", "kind": "carted", "at": "2026-11-29T09:00:00Z", "price": None}
    ]
    assert document["erased_before"] is False


def test_products_come_from_the_cart_orders_and_the_messages_triggers():
    store, records, _ = _customer()
    assert privacy.product_ids_of(store.profile, records.stored_messages) == ["lamp", "vase", "rug"]


def test_erased_customer_keys_never_collide_with_an_address_key():
    assert erased_customer_key("ivy") != address_key("ivy")
    assert erased_customer_key("ivy").startswith("customer#") and "ivy" not in erased_customer_key("ivy")
