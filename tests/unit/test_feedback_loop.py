"""The feedback stage on the in-memory store: what each SES event changes for the customer and the address."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.conftest import EVENTS

from righttime.core.addresses import address_key
from righttime.core.campaigns import Kind
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage, Outcome, Reason
from righttime.core.feedback import SesEvent, customer_reference
from righttime.core.policy import Plan
from righttime.core.profiles import MAX_ENGAGEMENT, PendingRef, Profile
from righttime.stages.feedback import FeedbackResult, FeedbackRules, handle_ses_event
from righttime_dev.memory import MemoryStore

AT = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
ADDRESS = "ada@example.com"
CUSTOMER = "cust-42"
RULES = FeedbackRules(transient_bounces_to_suppress=3)


def _message(message_id: str = "m1", kind: Kind = Kind.PROMOTIONAL) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        customer_id=CUSTOMER,
        campaign_id="cart_abandonment",
        kind=kind,
        template="cart_abandonment",
        send_at=AT,
        created_at=AT - timedelta(hours=1),
        updated_at=AT - timedelta(hours=1),
        trigger_event="Product Added",
        trigger_message_id=f"trigger-{message_id}",
        trigger_at=AT - timedelta(hours=1),
        to=ADDRESS,
    )


def _store_with(*messages: OutboundMessage) -> MemoryStore:
    """A customer with an address and these messages waiting (pending)."""
    store = MemoryStore()
    profile = Profile(customer_id=CUSTOMER, email=ADDRESS)
    for m in messages:
        ref = PendingRef(
            campaign_id=m.campaign_id,
            message_id=m.message_id,
            send_at=m.send_at,
            trigger_at=m.trigger_at,
            promotional=m.kind is Kind.PROMOTIONAL,
        )
        profile.pending[ref.key] = ref
    store.commit_plan(Plan(profile=profile, schedule=list(messages)), 0, AT - timedelta(hours=1))
    return store


def _sent(store: MemoryStore, message: OutboundMessage, status: MessageStatus = MessageStatus.SENT) -> None:
    """Claim, call and settle `message` as the sender would, leaving it `status`."""
    attempt = f"attempt-{message.message_id}"
    store.claim(message, store.get_profile(CUSTOMER).version, attempt, AT, AT + timedelta(minutes=5))
    store.start_attempt(message, attempt, AT)
    outcome = Outcome.UNKNOWN if status is MessageStatus.UNKNOWN else Outcome.SENT
    decision = Decision.made(
        outcome, [Reason.delivered_to_ses("x")], customer_id=CUSTOMER, campaign_id="c", at=AT, zone=None
    )
    store.finish(message, attempt, status, decision, AT)


def _event(name: str, message_id: str = "m1", **changes: Any) -> SesEvent:
    """A sample SES event from events/ (as EventBridge delivers its detail), about `message_id`."""
    detail = copy.deepcopy(json.loads((EVENTS / f"feedback-{name}.json").read_text())["detail"])
    detail["mail"]["tags"]["message_id"] = [message_id]
    detail["mail"]["tags"]["customer"] = [customer_reference(CUSTOMER)]
    detail["mail"]["tags"]["attempt"] = [f"attempt-{message_id}"]
    for key, value in changes.items():
        detail[key] = {**detail[key], **value} if isinstance(value, dict) else value
    return SesEvent.model_validate(detail)


def _handle(store: MemoryStore, event: SesEvent, now: datetime = AT + timedelta(minutes=1)) -> FeedbackResult:
    return handle_ses_event(event, store=store, rules=RULES, keep_sends=lambda: timedelta(days=7), now=now)


def _outcomes(store: MemoryStore) -> list[str]:
    return [d.outcome.value for d in store.decisions(CUSTOMER)]


def test_a_permanent_bounce_suppresses_the_address_with_its_reason():
    # Given a cart reminder SES accepted for Ada
    store = _store_with(message := _message())
    _sent(store, message)
    # When SES reports a permanent bounce
    result = _handle(store, _event("bounce"))
    # Then her address is on the suppression list as a bounce, and her record says why
    assert store.suppression_reason(ADDRESS) == "bounce"
    assert result.suppressed
    bounced = list(store.decisions(CUSTOMER))[-1]
    assert (bounced.outcome, bounced.reason_codes) == (Outcome.BOUNCED, ["hard_bounce"])
    assert bounced.reasons[0].detail == {"sub_type": "General", "status": "5.1.1", "suppression": "bounce"}
    assert bounced.decided_at == datetime(2026, 11, 20, 10, 15, 2, tzinfo=UTC)  # SES's clock, not ours


def test_the_same_event_delivered_twice_has_one_effect():
    # Given a sent message and SES's bounce for it
    store = _store_with(message := _message())
    _sent(store, message)
    event = _event("bounce")
    # When EventBridge delivers the event twice
    first, second = _handle(store, event), _handle(store, event, now=AT + timedelta(minutes=9))
    # Then the second changes nothing: one bounced decision, one suppression entry
    assert (first.status, second.status) == ("recorded", "repeated")
    assert _outcomes(store) == ["sent", "bounced"]
    assert not second.suppressed


@pytest.mark.parametrize("bounce_type", ["Transient", "Undetermined"])
def test_transient_bounces_in_a_row_suppress_the_address_at_the_threshold(bounce_type: str):
    # Given three messages SES accepted for Ada
    messages = [_message(f"m{i}") for i in range(3)]
    store = _store_with(*messages)
    for m in messages:
        _sent(store, m)
    runs = []
    # When each of them bounces for now, one after the other
    for i, m in enumerate(messages):
        at = (AT + timedelta(hours=i)).isoformat()
        event = _event("bounce", m.message_id, bounce={"bounceType": bounce_type, "timestamp": at})
        result = _handle(store, event)
        runs.append((result.suppressed, result.decisions[-1].reasons[0].detail["in_a_row"]))
    # Then the first two are only counted, and the third in a row suppresses the address
    assert runs == [(False, 1), (False, 2), (True, 3)]
    assert store.suppression_reason(ADDRESS) == "soft_bounces"


def test_a_delivery_between_transient_bounces_starts_the_count_again():
    # Given two transient bounces, then a delivery, then two more
    messages = [_message(f"m{i}") for i in range(5)]
    store = _store_with(*messages)
    for m in messages:
        _sent(store, m)
    for i, m in enumerate(messages):
        at = (AT + timedelta(hours=i)).isoformat()
        if i == 2:
            _handle(store, _event("delivery", m.message_id, delivery={"timestamp": at}))
        else:
            _handle(
                store, _event("bounce", m.message_id, bounce={"bounceType": "Transient", "timestamp": at})
            )
    # Then the run is two, under the threshold of three: the address is not suppressed
    assert store.suppression_reason(ADDRESS) is None
    assert len(store.get_profile(CUSTOMER).soft_bounces) == 2


def test_a_complaint_suppresses_the_address_and_unsubscribes_the_customer():
    store = _store_with(message := _message())
    _sent(store, message)
    # When Ada marks the reminder as spam
    _handle(store, _event("complaint"))
    # Then no more mail goes to the address, and she gets no more promotions
    assert store.suppression_reason(ADDRESS) == "complaint"
    assert store.get_profile(CUSTOMER).unsubscribed is True
    assert list(store.decisions(CUSTOMER))[-1].reason_codes == ["complaint"]


@pytest.mark.parametrize("event", ["send", "delivery", "open"])
def test_any_event_settles_a_message_whose_outcome_was_unknown_as_sent(event: str):
    # Given a message whose SES call ended without an answer
    store = _store_with(message := _message())
    _sent(store, message, MessageStatus.UNKNOWN)
    # When an SES event about it arrives
    result = _handle(store, _event(event))
    # Then it is sent (never to be sent again), the send counts for the caps, and the profile stops waiting
    settled = store.get_message(CUSTOMER, "m1")
    assert settled is not None and settled.status is MessageStatus.SENT
    assert result.settled
    accepted = next(d for d in store.decisions(CUSTOMER) if "accepted_by_ses" in d.reason_codes)
    assert accepted.reasons[0].detail["previous_status"] == "unknown"
    profile = store.get_profile(CUSTOMER)
    assert [s.message_id for s in profile.sends] == ["m1"] and profile.pending == {}


def test_a_send_event_leaves_an_attempt_still_at_work_to_settle_itself():
    # Given an attempt that has called SES and still holds its lease
    store = _store_with(message := _message())
    store.claim(message, store.get_profile(CUSTOMER).version, "attempt-m1", AT, AT + timedelta(minutes=5))
    store.start_attempt(message, "attempt-m1", AT)
    # When SES's Send event arrives before the attempt settles
    result = _handle(store, _event("send"), now=AT + timedelta(seconds=2))
    # Then the message is still the attempt's, with SES's id noted for anyone who finds it stuck
    held = store.get_message(CUSTOMER, "m1")
    assert held is not None and held.status is MessageStatus.SENDING
    assert held.ses_message_id is not None and not result.settled


def test_a_send_event_settles_a_message_whose_attempt_died_after_calling_ses():
    store = _store_with(message := _message())
    store.claim(message, store.get_profile(CUSTOMER).version, "attempt-m1", AT, AT + timedelta(minutes=5))
    store.start_attempt(message, "attempt-m1", AT)
    # When SES's Send event arrives after the attempt's lease ran out
    _handle(store, _event("send"), now=AT + timedelta(minutes=6))
    settled = store.get_message(CUSTOMER, "m1")
    assert settled is not None and settled.status is MessageStatus.SENT


def test_opens_and_clicks_keep_a_bounded_history_and_the_first_of_each_is_a_decision():
    store = _store_with(message := _message())
    _sent(store, message)
    # When Ada opens the reminder 60 times and clicks once
    for i in range(60):
        _handle(store, _event("open", open={"timestamp": (AT + timedelta(minutes=i)).isoformat()}))
    _handle(store, _event("click"))
    # Then the profile keeps the newest 50, the click's link without its query, and one decision each
    engagement = store.get_profile(CUSTOMER).engagement
    assert len(engagement) == MAX_ENGAGEMENT
    click = next(e for e in engagement if e.kind == "click")
    assert click.link == "https://shop.example.com/p/brass-lamp"
    assert _outcomes(store) == ["sent", "opened", "clicked"]


@pytest.mark.parametrize(
    ("name", "outcome", "code"),
    [
        ("delivery", "delivered", "ses_delivered"),
        ("reject", "failed", "ses_reject_event"),
        ("rendering-failure", "failed", "ses_rendering_failure"),
        ("delivery-delay", "delayed", "delivery_delay"),
    ],
)
def test_each_event_type_is_a_decision_on_the_customers_record(name: str, outcome: str, code: str):
    store = _store_with(message := _message())
    _sent(store, message)
    _handle(store, _event(name))
    last = list(store.decisions(CUSTOMER))[-1]
    assert (last.outcome.value, last.reason_codes, last.message_id) == (outcome, [code], "m1")


def test_an_event_about_a_message_righttime_never_planned_changes_nothing():
    store = _store_with()
    result = _handle(store, _event("bounce", "gone"))
    assert result.status == "unknown_message"
    assert store.suppression_reason(ADDRESS) is None and _outcomes(store) == []


def test_mail_another_sender_put_through_the_configuration_set_is_not_ours():
    store = _store_with()
    detail = json.loads((EVENTS / "feedback-bounce.json").read_text())["detail"]
    detail["mail"]["tags"] = {"ses:configuration-set": ["cs"]}
    detail["mail"]["headers"] = []
    result = _handle(store, SesEvent.model_validate(detail))
    assert result.status == "not_ours" and store.suppression_reason(ADDRESS) is None


def test_bounces_are_recorded_per_address_key_not_per_address_text():
    store = _store_with(message := _message())
    _sent(store, message)
    _handle(store, _event("bounce", bounce={"bouncedRecipients": [{"emailAddress": " ADA@Example.com "}]}))
    assert address_key(ADDRESS) in store.suppression
