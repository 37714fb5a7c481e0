"""The item layout priced per event (docs/data-model.md), on the template's tables in moto."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from righttime.adapters.dynamodb import MAX_MESSAGE_WRITES, DynamoStore, profile_from_item
from righttime.adapters.items import to_item
from righttime.core.clock import VirtualClock
from righttime.core.decisions import Decision, MessageStatus, Outcome
from righttime.core.policy import Plan
from righttime.core.profiles import MAX_RECENT_EVENTS, Profile
from righttime.stages.ports import TooManyWrites
from righttime.wiring.root import root
from righttime_dev.local.pipeline import Pipeline
from tests.functional.conftest import request_path, sample_event


def _post_sample(pipeline: Pipeline, name: str, **changes: Any) -> None:
    event = sample_event(name)
    body = json.loads(event["body"])
    body.update(changes)
    status, _, payload = pipeline.http(
        "POST", request_path(event), event["headers"], json.dumps(body).encode()
    )
    assert status == 200, payload
    pipeline.run_until_idle()


def _items(pipeline: Pipeline, table: str, customer: str) -> list[dict[str, Any]]:
    client = pipeline.client("dynamodb")
    name = pipeline.stack.physical[table]
    if table == "ProfilesTable":
        item = client.get_item(TableName=name, Key={"customer_id": {"S": customer}}).get("Item")
        return [item] if item else []
    return client.query(
        TableName=name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": customer}},
    )["Items"]


def _count_calls() -> Counter[str]:
    calls: Counter[str] = Counter()
    store = root().store
    assert isinstance(store, DynamoStore)
    events = store.client.meta.events
    events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    return calls


def test_a_profile_is_stored_as_its_key_version_and_one_compressed_body(pipeline: Pipeline):
    # Given a customer who identified and added a lamp to the cart
    _post_sample(pipeline, "ingest-identify.json")
    _post_sample(pipeline, "ingest-track.json")

    # When the profile item is read straight from the table
    (item,) = _items(pipeline, "ProfilesTable", "cust-42")

    # Then only the key and the version are attributes; the rest is one compressed body holding the cart
    assert set(item) == {"customer_id", "version", "body"}
    profile = profile_from_item(item)
    assert profile.email == "ada@example.com"
    assert [line.name for line in profile.cart] == ["Brass desk lamp"]
    assert profile.version == int(item["version"]["N"]) == 2
    assert len(item["body"]["B"]) < len(profile.model_dump_json()) / 2


def test_a_profile_written_before_compression_is_still_read_and_then_rewritten(pipeline: Pipeline):
    # Given a profile stored attribute by attribute, as righttime 0.x wrote it
    legacy = Profile(customer_id="cust-42", email="ada@example.com", first_name="Ada", version=7)
    item = to_item(legacy)
    for later in ("due_at", "stage", "stage_since", "first_order_at"):  # fields 0.x did not have
        item.pop(later, None)
    pipeline.client("dynamodb").put_item(TableName=pipeline.stack.physical["ProfilesTable"], Item=item)

    # When her next event arrives
    _post_sample(pipeline, "ingest-track.json")

    # Then it is applied on top of what was stored, and the profile is now in the compressed form
    (item,) = _items(pipeline, "ProfilesTable", "cust-42")
    assert "body" in item
    profile = profile_from_item(item)
    assert (profile.first_name, profile.version, len(profile.cart)) == ("Ada", 8, 1)


def test_all_decisions_of_one_event_are_one_item_and_read_back_in_order(pipeline: Pipeline):
    # Given a customer with a cart reminder waiting
    _post_sample(pipeline, "ingest-identify.json")
    _post_sample(pipeline, "ingest-track.json")

    # When she completes an order (a receipt is scheduled, the reminder is cancelled: several decisions)
    _post_sample(
        pipeline,
        "ingest-track.json",
        event="Order Completed",
        messageId="order-1",
        properties={"order_id": "o-1", "revenue": 49, "products": [{"product_id": "lamp-1"}]},
    )

    # Then the order's decisions share one item, and the read API lists them one by one, oldest first
    items = [i for i in _items(pipeline, "MessagesTable", "cust-42") if i["sk"]["S"].startswith("DEC#")]
    by_item = [len(i["campaigns"]["L"]) for i in items]
    assert max(by_item) >= 2, by_item
    decisions = list(root().store.decisions("cust-42"))
    assert len(decisions) == sum(by_item)
    assert [d.decided_at for d in decisions] == sorted(d.decided_at for d in decisions)
    assert {"cart_abandonment"} <= {d.campaign_id for d in decisions if d.outcome.value == "cancelled"}


def test_decisions_and_messages_expire_after_the_retention(pipeline: Pipeline, clock: VirtualClock):
    # Given a customer whose cart reminder was planned
    _post_sample(pipeline, "ingest-identify.json")
    _post_sample(pipeline, "ingest-track.json")

    # When the items are read
    items = _items(pipeline, "MessagesTable", "cust-42")
    (message,) = [i for i in items if i["sk"]["S"].startswith("MSG#")]
    decisions = [i for i in items if i["sk"]["S"].startswith("DEC#")]

    # Then each carries DynamoDB's TTL attribute: RETENTION_DAYS (90 by default) after its last instant
    send_at = datetime.fromisoformat(message["send_at"]["S"])
    assert int(message["expires_at"]["N"]) == int((send_at + timedelta(days=90)).timestamp())
    assert decisions and all(
        int(d["expires_at"]["N"]) >= int((clock.now() + timedelta(days=89)).timestamp()) for d in decisions
    )


def test_an_event_that_decides_nothing_writes_the_profile_alone(pipeline: Pipeline):
    # Given a known customer
    _post_sample(pipeline, "ingest-identify.json")
    calls = _count_calls()

    # When she views a page (no campaign listens to it)
    _post_sample(pipeline, "ingest-track.json", event="Page Scrolled", messageId="scroll-1")

    # Then evaluate made one read and one plain conditional write, no transaction
    assert calls["GetItem"] == 1
    assert calls["PutItem"] == 1
    assert calls["TransactWriteItems"] == 0


def test_a_repeated_message_id_among_the_last_forty_is_ignored(pipeline: Pipeline, clock: VirtualClock):
    # Given a customer whose cart event was processed
    _post_sample(pipeline, "ingest-identify.json")
    _post_sample(pipeline, "ingest-track.json")
    before = profile_from_item(_items(pipeline, "ProfilesTable", "cust-42")[0])

    # When the same messageId arrives again after SQS's five-minute window, with a second lamp
    clock.advance(timedelta(minutes=10))
    _post_sample(pipeline, "ingest-track.json", properties={"product_id": "lamp-2", "price": 10})

    # Then nothing changed: the profile remembers the id it committed
    after = profile_from_item(_items(pipeline, "ProfilesTable", "cust-42")[0])
    assert after.version == before.version and len(after.cart) == 1
    assert len(after.recent_events) <= MAX_RECENT_EVENTS


def test_an_event_changing_too_many_messages_is_refused_whole(pipeline: Pipeline, clock: VirtualClock):
    # Given a plan that would settle more messages than one transaction holds
    store = root().store
    assert isinstance(store, DynamoStore)
    profile = Profile(customer_id="cust-99")
    too_many = MAX_MESSAGE_WRITES + 1
    plan = Plan(profile=profile, move=[])
    plan.close = [(f"m{i}", MessageStatus.CANCELLED, _decision(i)) for i in range(too_many)]

    # When it is committed, Then it is refused with a reason, and nothing of it is written
    with pytest.raises(TooManyWrites, match=f"{too_many} messages"):
        store.commit_plan(plan, 0, clock.now())
    assert _items(pipeline, "ProfilesTable", "cust-99") == []


def _decision(index: int) -> Decision:
    return Decision.model_construct(
        customer_id="cust-99", campaign_id=f"c{index}", outcome=Outcome.CANCELLED, reasons=[]
    )
