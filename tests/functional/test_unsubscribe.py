"""One-click unsubscribe (RFC 8058): the link every promotional e-mail carries, the POST that unsubscribes at
once (even from a message already scheduled), the page a GET shows, and the refusal of a forged, tampered or
expired link, which changes nothing."""

from __future__ import annotations

import email
from datetime import timedelta
from email.policy import default as default_policy
from urllib.parse import parse_qs, urlparse

from righttime.core.clock import VirtualClock
from righttime.core.unsubscribe import SigningKey, sign
from righttime.wiring.root import root
from righttime_dev.local.pipeline import Pipeline
from tests.functional.conftest import post


def _customer_with_a_reminder(pipeline: Pipeline) -> None:
    post(pipeline, "/v1/identify", {"userId": "ana", "traits": {"email": "ana@example.com"}})
    post(
        pipeline,
        "/v1/track",
        {"userId": "ana", "event": "Product Added", "properties": {"product_id": "lamp", "price": 20}},
    )
    pipeline.run_until_idle()


def _link_of_the_last_mail(pipeline: Pipeline) -> tuple[str, str]:
    """The https one-click URL of the last e-mail sent, and its token."""
    message = email.message_from_bytes(pipeline.sent[-1].raw, policy=default_policy)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = next(part.strip("<> ") for part in message["List-Unsubscribe"].split(",") if "https://" in part)
    return url, parse_qs(urlparse(url).query)["t"][0]


def _unsubscribe(pipeline: Pipeline, token: str, method: str = "POST") -> tuple[int, str]:
    body = b"List-Unsubscribe=One-Click" if method == "POST" else b""
    headers = {"content-type": "application/x-www-form-urlencoded"} if method == "POST" else {}
    status, _, page = pipeline.http(method, "/v1/unsubscribe", headers, body, {"t": token})
    return status, page.decode()


def test_every_promotional_mail_carries_a_one_click_link_whose_post_unsubscribes_at_once(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a customer who got a cart reminder
    _customer_with_a_reminder(pipeline)
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()
    url, token = _link_of_the_last_mail(pipeline)
    assert url.startswith("https://") and "/v1/unsubscribe?t=" in url

    # When their mail client POSTs the link (RFC 8058)
    status, page = _unsubscribe(pipeline, token)

    # Then they are unsubscribed at once, and the profile records when and how, naming the message
    assert status == 200 and "You are unsubscribed" in page
    profile = root().store.get_profile("ana")
    assert profile.unsubscribed
    (change,) = profile.consent_history
    sent_id = email.message_from_bytes(pipeline.sent[-1].raw, policy=default_policy)["X-Righttime-Message-Id"]
    assert (change.how, change.subscribed, change.message_id) == ("one_click", False, sent_id)

    # And a retried POST changes nothing more
    assert _unsubscribe(pipeline, token)[0] == 200
    assert len(root().store.get_profile("ana").consent_history) == 1


def test_a_message_already_scheduled_is_suppressed_after_a_one_click_unsubscribe(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a cart reminder scheduled for an hour from now
    _customer_with_a_reminder(pipeline)
    assert pipeline.sent == []
    # When the customer unsubscribes with a link from an earlier message
    key = SigningKey("k2", b"s" * 40)
    token = sign(key, "ana", "an-earlier-message", clock.now() + timedelta(days=30))
    assert _unsubscribe(pipeline, token)[0] == 200
    # Then, when the reminder's schedule fires, it is not sent: suppressed, because they unsubscribed
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()
    assert pipeline.sent == []
    last = list(root().store.decisions("ana", "cart_abandonment"))[-1]
    assert (last.outcome.value, last.reason_codes) == ("suppressed", ["unsubscribed"])


def test_a_get_shows_the_preference_page_and_unsubscribes_nobody_by_itself(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a valid link
    _customer_with_a_reminder(pipeline)
    token = sign(SigningKey("k2", b"s" * 40), "ana", "m-1", clock.now() + timedelta(days=30))
    # When a link scanner (or the customer) GETs it
    status, page = _unsubscribe(pipeline, token, "GET")
    # Then it is a small page in English: a labelled, ticked checkbox per topic of policy.yaml, a form that
    # saves them, and one that unsubscribes from everything, both carrying the same token
    assert status == 200
    assert '<html lang="en">' in page and "<h1>Your e-mail preferences</h1>" in page
    for topic in ("reminders", "offers", "recommendations"):
        assert (
            f'value="{topic}" id="topic-{topic}" checked>' in page and f'<label for="topic-{topic}">' in page
        )
    assert f'action="preferences?t={token}"' in page and f'action="unsubscribe?t={token}"' in page
    # And nobody was unsubscribed by the GET
    assert not root().store.get_profile("ana").unsubscribed


def test_opting_out_of_a_topic_stops_its_messages_and_keeps_the_others(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a customer with a cart reminder (topic: reminders) scheduled
    _customer_with_a_reminder(pipeline)
    token = sign(SigningKey("k2", b"s" * 40), "ana", "m-1", clock.now() + timedelta(days=30))
    # When they keep only offers on the preference page
    status, _, page = pipeline.http(
        "POST",
        "/v1/preferences",
        {"content-type": "application/x-www-form-urlencoded"},
        b"topic=offers&topic=not-a-topic",
        {"t": token},
    )
    # Then the choice is saved, with one recorded change per topic they left
    assert status == 200 and "Your choices are saved" in page.decode()
    profile = root().store.get_profile("ana")
    assert sorted(profile.topic_opt_outs) == ["recommendations", "reminders"] and not profile.unsubscribed
    assert sorted((c.topic, c.subscribed, c.how) for c in profile.consent_history) == [
        ("recommendations", False, "preference_page"),
        ("reminders", False, "preference_page"),
    ]
    # And the cart reminder is suppressed when it fires, naming the topic
    clock.advance(timedelta(hours=2))
    pipeline.run_until_idle()
    assert pipeline.sent == []
    last = list(root().store.decisions("ana", "cart_abandonment"))[-1]
    assert (last.outcome.value, last.reason_codes) == ("suppressed", ["topic_opted_out"])
    assert last.reasons[0].detail == {"topic": "reminders"}


def test_keeping_a_topic_after_unsubscribing_from_everything_subscribes_again(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a customer who unsubscribed from everything with their link
    _customer_with_a_reminder(pipeline)
    token = sign(SigningKey("k2", b"s" * 40), "ana", "m-1", clock.now() + timedelta(days=30))
    assert _unsubscribe(pipeline, token)[0] == 200
    # When they come back to the page and keep reminders
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert pipeline.http("POST", "/v1/preferences", form, b"topic=reminders", {"t": token})[0] == 200
    # Then they are subscribed again, to reminders only, and both steps are on record
    profile = root().store.get_profile("ana")
    assert not profile.unsubscribed and sorted(profile.topic_opt_outs) == ["offers", "recommendations"]
    assert [(c.how, c.topic, c.subscribed) for c in profile.consent_history][:2] == [
        ("one_click", None, False),
        ("preference_page", None, True),
    ]


def test_a_forged_tampered_expired_or_retired_link_is_refused_and_changes_nothing(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given a customer, and links that must not work
    _customer_with_a_reminder(pipeline)
    before = root().store.get_profile("ana")
    good = sign(SigningKey("k2", b"s" * 40), "ana", "m-1", clock.now() + timedelta(days=30))
    payload, signature = good.split(".")
    other_customer = sign(SigningKey("k2", b"s" * 40), "bob", "m-1", clock.now() + timedelta(days=30))
    cases = {
        "forged": sign(SigningKey("k2", b"x" * 40), "ana", "m-1", clock.now() + timedelta(days=30)),
        "tampered": other_customer.split(".")[0] + "." + signature,
        "expired": sign(SigningKey("k2", b"s" * 40), "ana", "m-1", clock.now() - timedelta(seconds=1)),
        "retired key": sign(SigningKey("k0", b"s" * 40), "ana", "m-1", clock.now() + timedelta(days=30)),
        "damaged": payload,
        "missing": "",
    }
    expected = {
        "forged": "not issued by us or has been altered",
        "tampered": "not issued by us or has been altered",
        "expired": "expired on",
        "retired key": "no longer in use",
        "damaged": "incomplete or damaged",
        "missing": "incomplete or damaged",
    }
    for name, token in cases.items():
        # When each is POSTed
        status, page = _unsubscribe(pipeline, token)
        # Then it is refused with a page that says why and that nothing changed
        assert status == 400, name
        assert expected[name] in page and "Nothing was changed" in page, name
    # And the profile is as it was
    after = root().store.get_profile("ana")
    assert (after.unsubscribed, after.version, after.consent_history) == (False, before.version, [])


def test_a_link_signed_with_the_previous_key_still_works_during_a_rotation(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given the deployment's keys k2 (signing) and k1 (the previous one), and an old mail signed with k1
    _customer_with_a_reminder(pipeline)
    token = sign(SigningKey("k1", b"r" * 40), "ana", "m-old", clock.now() + timedelta(days=30))
    # When it is POSTed
    # Then it works
    assert _unsubscribe(pipeline, token)[0] == 200
    assert root().store.get_profile("ana").unsubscribed


def test_transactional_mail_carries_no_one_click_link_and_still_reaches_an_unsubscribed_customer(
    pipeline: Pipeline, clock: VirtualClock
):
    # Given an unsubscribed customer
    post(
        pipeline,
        "/v1/identify",
        {"userId": "ana", "traits": {"email": "ana@example.com", "unsubscribed": True}},
    )
    # When they order on the web
    post(
        pipeline,
        "/v1/track",
        {"userId": "ana", "event": "Order Completed", "properties": {"order_id": "o-1", "revenue": 20}},
    )
    pipeline.run_until_idle()
    clock.advance(timedelta(minutes=5))
    pipeline.run_until_idle()
    # Then the receipt goes out, without a one-click unsubscribe header
    (receipt,) = pipeline.sent
    message = email.message_from_bytes(receipt.raw, policy=default_policy)
    assert "confirmed" in message["Subject"]
    assert message["List-Unsubscribe-Post"] is None
    # And the identify that unsubscribed them is on record
    (change,) = root().store.get_profile("ana").consent_history
    assert (change.how, change.subscribed) == ("identify", False)
