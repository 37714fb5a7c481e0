"""The pipeline end to end on moto: ingest -> evaluate -> scheduler -> sender, through the real handlers."""

from __future__ import annotations

import email
import gzip
from datetime import timedelta
from email.policy import default as default_policy

from righttime.core.clock import VirtualClock
from righttime.wiring.root import root
from righttime_dev.local.pipeline import Pipeline
from tests.functional.conftest import post, request_path, sample_event


def _identify_and_add(pipeline: Pipeline) -> None:
    for name in ("ingest-identify.json", "ingest-track.json"):
        event = sample_event(name)
        status, _, payload = pipeline.http(
            "POST", request_path(event), event["headers"], event["body"].encode()
        )
        assert status == 200, payload
    pipeline.run_until_idle()


def _schedules(pipeline: Pipeline) -> list[str]:
    client = pipeline.client("scheduler")
    return [
        s["Name"]
        for s in client.list_schedules(GroupName=pipeline.stack.physical["ScheduleGroup"])["Schedules"]
    ]


def test_cart_reminder_goes_out_once_after_the_delay_listing_the_cart(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a known customer who added a lamp to the cart at 09:14
    _identify_and_add(pipeline)
    assert len(_schedules(pipeline)) == 1

    # When 45 minutes pass, nothing is sent yet
    clock.advance(timedelta(minutes=45))
    pipeline.run_until_idle()
    assert pipeline.sent == []

    # When the hour since the cart activity has passed
    clock.advance(timedelta(minutes=20))
    pipeline.run_until_idle()

    # Then exactly one email is in the outbox, naming the cart's item, and the schedule is gone
    assert len(pipeline.sent) == 1
    sent = pipeline.sent[0]
    assert sent.path is not None and sent.path.suffix == ".eml" and sent.path.exists()
    message = email.message_from_bytes(sent.raw, policy=default_policy)
    assert message["To"] == "ada@example.com"
    assert "Ada" in message["Subject"]
    assert "Brass desk lamp" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Brass desk lamp" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert _schedules(pipeline) == []

    # And the decisions explain it: scheduled, sent with the SES message id, then delivered (SES's event)
    decisions = list(root().store.decisions("cust-42"))
    assert [d.outcome.value for d in decisions] == ["scheduled", "sent", "delivered"]
    assert decisions[1].reasons[0].detail["ses_message_id"] == sent.ses_message_id

    # And more time passing sends nothing more
    clock.advance(timedelta(days=2))
    pipeline.run_until_idle()
    assert len(pipeline.sent) == 1


def test_purchase_before_the_delay_cancels_the_reminder_and_its_schedule(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a customer with a pending cart reminder
    _identify_and_add(pipeline)
    # When an order arrives (from any channel) 10 minutes later
    clock.advance(timedelta(minutes=10))
    status, _ = post(
        pipeline,
        "/v1/track",
        {
            "userId": "cust-42",
            "messageId": "pos-order-1",
            "event": "Order Completed",
            "properties": {"order_id": "store-77", "revenue": 89, "channel": "pos"},
        },
    )
    assert status == 200
    pipeline.run_until_idle()

    # Then the reminder's schedule is gone, and after the delay no reminder goes out
    (reminder,) = [m for m in root().store.messages_of("cust-42") if m.campaign_id == "cart_abandonment"]
    assert not any(name.startswith(f"rt-{reminder.message_id}") for name in _schedules(pipeline))
    clock.advance(timedelta(hours=3))
    pipeline.run_until_idle()
    assert pipeline.sent == []  # an in-store order gets no confirmation e-mail either

    # And the reminder is cancelled with the reason "converted"
    reminder = root().store.get_message("cust-42", reminder.message_id)  # type: ignore[assignment]
    assert reminder.status.value == "cancelled"
    assert [r.code.value for r in reminder.reasons] == ["converted"]
    outcomes = [
        (d.outcome.value, d.reason_codes) for d in root().store.decisions("cust-42", "cart_abandonment")
    ]
    assert outcomes == [("scheduled", ["triggered"]), ("cancelled", ["converted"])]


def test_a_repeated_message_id_has_no_second_effect(pipeline: Pipeline, clock: VirtualClock):
    # Given the same Product Added sent twice with one messageId (an SDK retry)
    body = {
        "userId": "cust-7",
        "messageId": "dup-1",
        "event": "Product Added",
        "properties": {"product_id": "p1", "name": "Scarf", "price": 20},
    }
    assert post(pipeline, "/v1/track", body)[0] == 200
    pipeline.run_until_idle()
    clock.advance(timedelta(minutes=10))  # past SQS's 5-minute de-duplication window
    assert post(pipeline, "/v1/track", body)[0] == 200
    pipeline.run_until_idle()

    # Then the cart holds one scarf, and one decision was made
    profile = root().store.get_profile("cust-7")
    assert [(i.product_id, i.quantity) for i in profile.cart] == [("p1", 1)]
    assert len(list(root().store.decisions("cust-7"))) == 1


def test_a_malformed_event_is_rejected_with_its_fields_and_nothing_is_stored(pipeline: Pipeline):
    # Given a batch whose second message has no event name and no identity
    status, body = post(
        pipeline,
        "/v1/batch",
        {
            "batch": [
                {
                    "type": "track",
                    "userId": "u1",
                    "event": "Product Added",
                    "properties": {"product_id": "p"},
                },
                {"type": "track", "properties": {}},
            ]
        },
    )

    # Then it is refused with 400, naming each bad field
    assert status == 400
    assert body["success"] is False
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"batch.1.event", "batch.1.userId"}

    # And nothing was queued or stored, not even the valid first message
    pipeline.run_until_idle()
    assert root().store.get_profile("u1").is_new
    sqs = pipeline.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=pipeline.stack.physical["EventsQueue"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_wrong_or_missing_write_key_is_refused_with_401(pipeline: Pipeline):
    track = {"userId": "u1", "event": "Product Added", "properties": {"product_id": "p"}}
    assert post(pipeline, "/v1/track", track, key="not-the-key")[0] == 401
    status, body = post(pipeline, "/v1/track", track, key=None)
    assert status == 401 and "write key" in body["message"]
    pipeline.run_until_idle()
    assert root().store.get_profile("u1").is_new


def test_gzip_bodies_are_accepted(pipeline: Pipeline):
    # Given a gzip-compressed batch, as Segment SDKs send with gzip on
    raw = gzip.compress(
        b'{"batch": [{"type": "identify", "userId": "gz", "traits": {"email": "gz@example.com"}}]}'
    )
    # When it is posted with Content-Encoding: gzip
    status, _ = post(pipeline, "/v1/batch", raw, headers={"Content-Encoding": "gzip"})
    pipeline.run_until_idle()
    # Then the profile has the trait
    assert status == 200
    assert root().store.get_profile("gz").email == "gz@example.com"


def test_batches_over_segments_limits_are_refused(pipeline: Pipeline):
    big = {
        "batch": [
            {"type": "track", "userId": "u", "event": "E", "properties": {"blob": "x" * 30_000}}
            for _ in range(20)
        ]
    }
    status, body = post(pipeline, "/v1/batch", big)
    assert status == 413 and "500 KB" in body["message"]
    status, body = post(
        pipeline, "/v1/track", {"userId": "u", "event": "E", "properties": {"blob": "x" * 40_000}}
    )
    assert status == 400 and "32 KB" in body["errors"][0]["message"]


def test_the_schedule_is_named_for_aws_deletes_itself_and_carries_no_address(pipeline: Pipeline):
    # Given a pending cart reminder
    _identify_and_add(pipeline)
    client = pipeline.client("scheduler")
    (name,) = _schedules(pipeline)
    schedule = client.get_schedule(Name=name, GroupName=pipeline.stack.physical["ScheduleGroup"])

    # Then its name is valid for AWS, it fires once in UTC at trigger + 1 hour, and cleans up after itself
    assert len(name) <= 64 and all(c.isalnum() or c in "-_." for c in name)
    assert schedule["ScheduleExpression"] == "at(2026-11-20T10:14:00)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    target = schedule["Target"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["DeadLetterConfig"]["Arn"].endswith(":ScheduleDLQ")
    assert target["Arn"].endswith(":function:SenderFunction")
    assert "ada@example.com" not in target["Input"]


def test_the_sender_invoked_twice_for_one_message_sends_one_email(pipeline: Pipeline, clock: VirtualClock):
    # Given a reminder that is due
    _identify_and_add(pipeline)
    clock.advance(timedelta(hours=2))
    (_at, _name, payload) = pipeline.due_schedules()[0]

    # When the schedule's invocation is delivered twice (at-least-once)
    import json

    first = pipeline.handlers["SenderFunction"](json.loads(payload), _context())
    second = pipeline.handlers["SenderFunction"](json.loads(payload), _context())
    pipeline.collect_sent()

    # Then one email went out, and the second invocation knew it
    assert first["status"] == "sent"
    assert second["status"] == "ignored_sent"
    assert len(pipeline.sent) == 1


def test_a_suppressed_address_gets_nothing_and_the_decision_says_why(pipeline: Pipeline, clock: VirtualClock):
    # Given the customer's address bounced before
    root().store.suppress("Ada@Example.com", "hard_bounce", clock.now())
    _identify_and_add(pipeline)
    # When the reminder fires
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()
    # Then nothing is sent and the decision names the suppression
    assert pipeline.sent == []
    last = list(root().store.decisions("cust-42"))[-1]
    assert (last.outcome.value, last.reason_codes) == ("suppressed", ["address_suppressed"])
    assert last.reasons[0].detail == {"suppression": "hard_bounce"}


def test_a_customer_who_emptied_the_cart_is_not_reminded(pipeline: Pipeline, clock: VirtualClock):
    _identify_and_add(pipeline)
    post(
        pipeline,
        "/v1/track",
        {"userId": "cust-42", "event": "Product Removed", "properties": {"product_id": "sku-lamp-7"}},
    )
    pipeline.run_until_idle()
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()
    assert pipeline.sent == []
    last = list(root().store.decisions("cust-42"))[-1]
    assert (last.outcome.value, last.reason_codes) == ("cancelled", ["exit_condition"])
    assert last.reasons[0].detail["condition"] == {"field": "cart_items", "op": "equals", "value": 0}


def test_an_unsubscribed_customer_gets_no_promotional_reminder(pipeline: Pipeline, clock: VirtualClock):
    _identify_and_add(pipeline)
    post(pipeline, "/v1/identify", {"userId": "cust-42", "traits": {"unsubscribed": True}})
    pipeline.run_until_idle()
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()
    assert pipeline.sent == []
    last = list(root().store.decisions("cust-42"))[-1]
    assert (last.outcome.value, last.reason_codes) == ("suppressed", ["unsubscribed"])


def test_ses_refusing_the_message_marks_it_failed_without_retrying(pipeline: Pipeline, clock: VirtualClock):
    # Given the sender identity is no longer verified in SES
    _identify_and_add(pipeline)
    pipeline.client("sesv2").delete_email_identity(EmailIdentity="shop@example.com")
    # When the reminder fires
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()
    # Then the message is failed with SES's reason, and nothing is sent or retried
    (message,) = root().store.messages_of("cust-42")
    assert message.status.value == "failed"
    assert message.reasons[0].code.value == "ses_rejected"
    assert pipeline.sent == []


def _context():  # type: ignore[no-untyped-def]
    from righttime_dev.local.pipeline import LambdaContext

    return LambdaContext(function_name="SenderFunction")


def test_ses_being_unavailable_backs_off_then_gives_up_without_a_retry_storm(
    pipeline: Pipeline, clock: VirtualClock, monkeypatch
):  # type: ignore[no-untyped-def]
    # Given a due reminder, and SES throttling every attempt
    from righttime.adapters.mailer import SendUnavailable

    _identify_and_add(pipeline)
    attempts: list[str] = []

    def throttled(mime, tags):  # type: ignore[no-untyped-def]
        attempts.append(clock.now().isoformat())
        raise SendUnavailable("TooManyRequestsException: Maximum sending rate exceeded")

    monkeypatch.setattr(root().mailer, "send", throttled)

    # When the hours pass
    for _ in range(12):
        clock.advance(timedelta(hours=1))
        pipeline.run_until_idle()

    # Then SES was tried six times, backing off (1m, 5m, 15m, 1h, 3h), each retry on a schedule of its own
    assert len(attempts) == 6
    (message,) = root().store.messages_of("cust-42")
    assert message.status.value == "failed" and message.attempts == 5
    assert message.reasons[0].code.value == "ses_unavailable" and message.reasons[0].detail["gave_up"] is True
    outcomes = [d.outcome.value for d in root().store.decisions("cust-42")]
    assert outcomes == ["scheduled"] + ["deferred"] * 5 + ["failed"]
    assert _schedules(pipeline) == []


def test_message_ids_are_unique_per_customer_not_across_customers(pipeline: Pipeline):
    # Given two customers whose apps happen to send the same messageId
    for user in ("ann", "bob"):
        post(
            pipeline,
            "/v1/identify",
            {"userId": user, "messageId": "same-id", "traits": {"email": f"{user}@x.io"}},
        )
    pipeline.run_until_idle()
    # Then both are processed
    assert root().store.get_profile("ann").email == "ann@x.io"
    assert root().store.get_profile("bob").email == "bob@x.io"
