"""One-click unsubscribe tokens: signed, expiring, checked in constant time; a bad one says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from righttime.core.unsubscribe import InvalidToken, SigningKey, parse_keys, sign, verify

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
KEY = SigningKey("k1", b"a" * 40)


@given(customer=st.text(min_size=1, max_size=80), message=st.text(min_size=1, max_size=40))
def test_a_token_names_the_customer_and_message_it_was_signed_for(customer: str, message: str) -> None:
    token = sign(KEY, customer, message, NOW + timedelta(days=1))
    claims = verify(token, [KEY], NOW)
    assert (claims.customer_id, claims.message_id, claims.key_id) == (customer, message, "k1")


@given(position=st.integers(min_value=0, max_value=200), replacement=st.sampled_from("AQgw-_"))
def test_changing_any_character_of_a_token_breaks_it(position: int, replacement: str) -> None:
    token = sign(KEY, "cust-1", "m-1", NOW + timedelta(days=1))
    index = position % len(token)
    if token[index] in (replacement, "."):
        return
    altered = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(InvalidToken):
        verify(altered, [KEY], NOW)


def test_an_expired_token_says_when_it_expired() -> None:
    token = sign(KEY, "cust-1", "m-1", NOW)
    with pytest.raises(InvalidToken, match="expired on 2026-11-28") as caught:
        verify(token, [KEY], NOW)
    assert caught.value.reason == "expired"


def test_a_rotation_keeps_the_old_key_verifying_while_the_new_one_signs() -> None:
    old, new = parse_keys("new:" + "n" * 40 + ",old:" + "o" * 40)[::-1]
    token = sign(old, "cust-1", "m-1", NOW + timedelta(days=1))
    assert verify(token, [new, old], NOW).key_id == "old"
    with pytest.raises(InvalidToken) as caught:
        verify(token, [new], NOW)
    assert caught.value.reason == "unknown_key"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1", "write it as id:secret"),
        ("k1:short", "at least 32 characters"),
        ("k1:" + "a" * 40 + ",k1:" + "b" * 40, "two keys share an id"),
        ("bad id:" + "a" * 40, "write it as id:secret"),
    ],
)
def test_malformed_key_settings_are_refused_without_showing_a_secret(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_keys(text)
    assert "aaaa" not in str(caught.value) and "short" not in str(caught.value)


def test_a_token_spelled_with_its_unused_bits_set_is_refused() -> None:
    # Given a valid token whose last character only carries unused bits of the signature
    token = sign(KEY, "cust-1", "m-1", NOW + timedelta(days=1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    respelled = token[:-1] + alphabet[last ^ 1]  # same signature bytes, another spelling
    # Then it does not pass: one link, one spelling
    with pytest.raises(InvalidToken):
        verify(respelled, [KEY], NOW)
