"""Privacy requests through the real API handler on moto: export everything held about a customer, erase it,
and never send to it again (docs/privacy.md)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from righttime.core.clock import VirtualClock
from righttime.wiring.root import from_environment, install, root
from righttime_dev.local.pipeline import Pipeline
from tests.functional.conftest import post

ADMIN_KEY = "test-admin-key"


def _admin(pipeline: Pipeline) -> None:
    install(
        from_environment({**pipeline.environment, "RIGHTTIME_ADMIN_KEYS": ADMIN_KEY}, clock=pipeline.clock)
    )


def _call(pipeline: Pipeline, method: str, user_id: str, key: str | None = ADMIN_KEY) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    status, _, body = pipeline.http(method, f"/v1/profiles/{quote(user_id, safe='')}", headers, b"")
    return status, json.loads(body)


def _shopper(pipeline: Pipeline, user_id: str = "ivy", email: str = "Ivy@Example.com") -> None:
    """A customer who subscribed, viewed and carted a lamp: a cart reminder is pending, with its schedule."""
    post(pipeline, "/v1/identify", {"userId": user_id, "traits": {"email": email, "first_name": "Ivy"}})
    added = {"product_id": "lamp", "name": "Brass lamp", "price": 120}
    post(pipeline, "/v1/track", {"userId": user_id, "event": "Product Viewed", "properties": added})
    post(pipeline, "/v1/track", {"userId": user_id, "event": "Product Added", "properties": added})
    pipeline.run_until_idle()


def _schedules(pipeline: Pipeline) -> list[str]:
    client = pipeline.client("scheduler")
    group = pipeline.stack.physical["ScheduleGroup"]
    return [s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"]]


def _items(pipeline: Pipeline, table: str, **key: str) -> list[dict[str, Any]]:
    client = pipeline.client("dynamodb")
    name, value = next(iter(key.items()))
    found = client.query(
        TableName=pipeline.stack.physical[table],
        KeyConditionExpression="#k = :v",
        ExpressionAttributeNames={"#k": name},
        ExpressionAttributeValues={":v": {"S": value}},
    )
    return list(found["Items"])


def test_an_export_holds_the_profile_consent_messages_decisions_and_interest(pipeline: Pipeline):
    # Given a customer with a pending cart reminder
    _admin(pipeline)
    _shopper(pipeline)

    # When the admin exports it
    status, document = _call(pipeline, "GET", "ivy")

    # Then the document holds what righttime keeps about it, decoded
    assert status == 200
    assert document["user_id"] == "ivy" and document["found"] is True
    assert document["profile"]["email"] == "Ivy@example.com"
    assert document["profile"]["cart"][0]["product_id"] == "lamp"
    assert document["consent_history"] == document["profile"]["consent_history"]
    messages = {m["campaign_id"]: m for m in document["messages"]}
    assert (messages["cart_abandonment"]["status"], messages["cart_abandonment"]["to"]) == (
        "pending",
        "Ivy@example.com",
    )
    assert any(
        d["campaign"] == "cart_abandonment" and d["outcome"] == "scheduled" for d in document["decisions"]
    )
    assert document["decisions_next_cursor"] is None
    assert [(i["product_id"], i["kind"]) for i in document["interests"]] == [("lamp", "carted")]
    assert document["suppression"] == [] and document["erased_before"] is False


def test_an_unknown_customer_has_nothing_to_export(pipeline: Pipeline):
    _admin(pipeline)
    status, body = _call(pipeline, "GET", "nobody")
    assert status == 404 and "nothing" in body["message"]


def test_privacy_requests_need_the_admin_key(pipeline: Pipeline):
    _admin(pipeline)
    _shopper(pipeline)
    assert _call(pipeline, "GET", "ivy", key=None)[0] == 401
    assert _call(pipeline, "DELETE", "ivy", key="wrong")[0] == 401
    assert _call(pipeline, "GET", "ivy")[0] == 200  # still there


def test_erasure_cancels_the_schedule_and_deletes_what_names_the_customer(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a customer with a pending cart reminder and its schedule
    _admin(pipeline)
    _shopper(pipeline)
    assert len(_schedules(pipeline)) == 1

    # When the admin erases it
    status, body = _call(pipeline, "DELETE", "ivy")

    # Then the answer counts what went, and nothing naming the customer is left
    assert status == 200, body
    assert body["found"] is True and body["complete"] is True
    erased = body["erased"]
    assert erased["profile"] is True and erased["schedules"] == 1 and erased["messages"] == 2
    assert erased["decisions"] >= 1 and erased["interests"] == 1
    assert _schedules(pipeline) == []
    assert _items(pipeline, "MessagesTable", pk="ivy") == []
    assert _items(pipeline, "ProfilesTable", customer_id="ivy") == []
    assert all(item["sk"]["S"] != "I#ivy" for item in _items(pipeline, "CatalogTable", pk="P#lamp"))

    # And the suppression list keeps hashes only: the address's and the id's, for `erased`
    client = pipeline.client("dynamodb")
    table = pipeline.stack.physical["SuppressionTable"]
    address = hashlib.sha256(b"ivy@example.com").hexdigest()
    customer = "customer#" + hashlib.sha256(b"ivy").hexdigest()
    for key in (address, customer):
        item = client.get_item(TableName=table, Key={"address_key": {"S": key}})["Item"]
        assert item["reason"]["S"] == "erased" and "address" not in item
    assert "ivy" not in json.dumps(client.get_item(TableName=table, Key={"address_key": {"S": address}}))

    # And when the reminder's time comes, nothing is sent
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()
    assert pipeline.sent == []


def test_a_second_erasure_finds_nothing_left(pipeline: Pipeline):
    _admin(pipeline)
    _shopper(pipeline)
    assert _call(pipeline, "DELETE", "ivy")[0] == 200

    status, body = _call(pipeline, "DELETE", "ivy")

    assert status == 200 and body["found"] is False and body["complete"] is True
    assert set(body["erased"].values()) == {0}
    assert _call(pipeline, "GET", "ivy")[0] == 404


def test_an_erased_customer_identified_again_is_never_sent_to(pipeline: Pipeline, clock: VirtualClock):
    # Given an erased customer
    _admin(pipeline)
    _shopper(pipeline)
    assert _call(pipeline, "DELETE", "ivy")[0] == 200

    # When the shop imports it again (same id, same address in another case) and it carts again
    _shopper(pipeline, email="IVY@example.com ")
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()

    # Then the reminder is suppressed, and the decision says the address was erased
    assert pipeline.sent == []
    last = list(root().store.decisions("ivy", "cart_abandonment"))[-1]
    assert (last.outcome.value, last.reason_codes) == ("suppressed", ["address_suppressed"])
    assert last.reasons[0].detail == {"suppression": "erased"}


def test_an_erased_id_with_a_new_address_is_never_sent_to(pipeline: Pipeline, clock: VirtualClock):
    # Given an erased customer
    _admin(pipeline)
    _shopper(pipeline)
    assert _call(pipeline, "DELETE", "ivy")[0] == 200

    # When an event of the same id arrives with another address (one still in flight, or a re-import)
    _shopper(pipeline, email="ivy.new@example.com")
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()

    # Then the id's own hashed entry stops the send
    assert pipeline.sent == []
    last = list(root().store.decisions("ivy", "cart_abandonment"))[-1]
    assert (last.outcome.value, last.reasons[0].detail) == ("suppressed", {"suppression": "erased"})


def test_a_customer_id_with_a_slash_is_exported_and_erased(pipeline: Pipeline):
    _admin(pipeline)
    _shopper(pipeline, user_id="shop/ivy #1")
    status, document = _call(pipeline, "GET", "shop/ivy #1")
    assert status == 200 and document["user_id"] == "shop/ivy #1"
    status, body = _call(pipeline, "DELETE", "shop/ivy #1")
    assert status == 200 and body["erased"]["profile"] is True


def test_erasure_takes_the_anonymous_visitor_merged_into_the_customer(pipeline: Pipeline):
    # Given a visitor who carted a lamp anonymously, then logged in as ivy (the visitor merged into ivy)
    _admin(pipeline)
    added = {"product_id": "lamp", "name": "Brass lamp", "price": 120}
    post(pipeline, "/v1/track", {"anonymousId": "visitor-7", "event": "Product Added", "properties": added})
    pipeline.run_until_idle()
    identify = {"userId": "ivy", "anonymousId": "visitor-7", "traits": {"email": "ivy@example.com"}}
    post(pipeline, "/v1/identify", identify)
    pipeline.run_until_idle()
    assert _items(pipeline, "ProfilesTable", customer_id="visitor-7")  # the tombstone naming ivy
    assert _items(pipeline, "MessagesTable", pk="visitor-7")  # the visitor's decisions before the merge

    # When the admin erases ivy
    status, body = _call(pipeline, "DELETE", "ivy")

    # Then the visitor's tombstone and records go too: nothing links the visitor's id to ivy any more
    assert status == 200 and body["complete"] is True, body
    assert body["erased"]["merged_profiles"] == 1
    assert _items(pipeline, "ProfilesTable", customer_id="visitor-7") == []
    assert _items(pipeline, "MessagesTable", pk="visitor-7") == []
    assert _items(pipeline, "ProfilesTable", customer_id="ivy") == []
    assert _schedules(pipeline) == []
