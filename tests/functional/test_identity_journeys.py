"""The identity stories of events/journeys, through `righttime simulate` (the real pipeline on a virtual
clock): an anonymous visitor becomes the known customer, with one reminder (docs/identity.md). The contract
suite runs the same journeys on moto and checks both engines agree."""

from __future__ import annotations

from typing import Any

from righttime_dev.simulate import simulate
from tests.conftest import EVENTS, ROOT, TEMPLATE

JOURNEYS = EVENTS / "journeys"


def _run(name: str) -> list[dict[str, Any]]:
    return simulate(
        JOURNEYS / name, template=TEMPLATE, campaigns=ROOT / "campaigns", templates=ROOT / "templates"
    ).lines


def _decisions(lines: list[dict[str, Any]], user: str, campaign: str) -> list[tuple[str, list[str]]]:
    return [
        (d["outcome"], [r["code"] for r in d["reasons"]])
        for d in lines
        if d["type"] == "decision" and d["user_id"] == user and d["campaign"] == campaign
    ]


def _sent(lines: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(s["at"], s["to"], s["subject"]) for s in lines if s["type"] == "sent"]


def test_an_anonymous_cart_then_a_login_gives_one_reminder_an_hour_after_the_cart():
    # Given a visitor's cart at 09:55, refused for want of an address, and her login at 10:05
    lines = _run("anonymous-cart-login.jsonl")
    assert _decisions(lines, "anon-7f3c", "cart_abandonment") == [("suppressed", ["no_email"])]
    # Then her profile is merged, the cart trigger planned again for her, and sent at 10:55 to her address
    assert _decisions(lines, "lena", "identity") == [("merged", ["merged"])]
    assert _decisions(lines, "lena", "cart_abandonment")[:2] == [
        ("scheduled", ["triggered"]),
        ("sent", ["delivered_to_ses"]),
    ]
    assert _sent(lines) == [
        ("2026-11-18T10:55:00+00:00", "lena@example.com", "Lena, you left 1 item in your cart")
    ]


def test_an_alias_delivered_twice_merges_once_and_later_anonymous_events_reach_the_customer():
    lines = _run("anonymous-cart-alias.jsonl")
    # Then one merge, however many times the alias came
    assert _decisions(lines, "omar", "identity") == [("merged", ["merged"])]
    # And the mug added later under the anonymous id moved his reminder: one reminder, with both lines
    assert _decisions(lines, "omar", "cart_abandonment")[:2] == [
        ("scheduled", ["triggered"]),
        ("scheduled", ["trigger_repeated"]),
    ]
    assert [(to, subject) for _, to, subject in _sent(lines)] == [
        ("omar@example.com", "Omar, you left 2 items in your cart")
    ]


def test_when_both_profiles_wait_for_a_reminder_the_guests_is_cancelled():
    lines = _run("identity-two-reminders.jsonl")
    assert _decisions(lines, "anon-g5", "cart_abandonment") == [
        ("scheduled", ["triggered"]),
        ("cancelled", ["merged_duplicate"]),
    ]
    assert [to for _, to, _ in _sent(lines)] == ["mia@example.com"]


def test_a_waiting_reminder_moves_to_the_account_and_goes_to_its_address_at_the_same_time():
    lines = _run("identity-moved-reminder.jsonl")
    (moved,) = [
        d
        for d in lines
        if d["type"] == "decision"
        and d["user_id"] == "ines"
        and d["outcome"] == "merged"
        and d["campaign"] == "cart_abandonment"
    ]
    assert [r["code"] for r in moved["reasons"]] == ["moved_on_merge"]
    assert _sent(lines) == [(moved["send_at"], "ines@example.com", "Ines, you left 1 item in your cart")]


def test_the_stricter_consent_wins_and_two_known_customers_are_not_merged():
    lines = _run("identity-consent-and-known.jsonl")
    assert _decisions(lines, "noor", "cart_abandonment") == [("suppressed", ["unsubscribed"])]
    assert _decisions(lines, "kai.work", "identity") == [("not_merged", ["both_known"])]
    assert _sent(lines) == []


def test_interest_shown_anonymously_reaches_the_account_when_the_product_comes_back():
    # Given a visitor who looked at a sold-out jacket anonymously, then logged in
    lines = _run("identity-interest.jsonl")
    # Then the back-in-stock notice, queued for the anonymous id, goes to her account's address
    assert _decisions(lines, "anon-j1", "back_in_stock") == []
    assert [(to, subject) for _, to, subject in _sent(lines)] == [
        ("hana@example.com", "Green jacket is back in stock")
    ]
