"""One-click unsubscribe tokens (RFC 8058): what a promotional e-mail's `List-Unsubscribe` URL carries, so
that a `POST` to it unsubscribes the customer at once, with no login, and nothing else can (pure).

A token is `<payload>.<signature>`, both base64url without padding. The payload is compact JSON: the key id
(`k`), the customer id (`c`), the message it came in (`m`) and when the token expires (`e`, Unix seconds). The
signature is HMAC-SHA256 of the payload's bytes with the key `k` names. Keys come as `id:secret` pairs: the
first signs new tokens, every one verifies, so a key is rotated by putting a new one first and removing the
old one once the mail it signed has expired (docs/operations.md, "Unsubscribe keys").

A forged, tampered, expired or unreadable token raises `InvalidToken`, whose message says which, and changes
nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from righttime.core.errors import RighttimeError

#: how long an unsubscribe link works after the message was sent: long enough for old mail in an inbox
TOKEN_LIFETIME = timedelta(days=180)
#: the shortest secret a key may have, in characters
MIN_SECRET = 32
MAX_TOKEN = 2048


class InvalidToken(RighttimeError):
    """The token cannot be trusted: `reason` is `malformed`, `unknown_key`, `bad_signature` or `expired`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Claims:
    customer_id: str
    message_id: str
    expires_at: datetime
    key_id: str


@dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: str
    secret: bytes


def parse_keys(text: str) -> list[SigningKey]:
    """`id:secret,id:secret` (the first signs). Raises ValueError naming what is wrong, never the secret."""
    keys: list[SigningKey] = []
    for index, item in enumerate(part.strip() for part in text.split(",")):
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id or not key_id.isalnum() or len(key_id) > 16:
            raise ValueError(
                f"unsubscribe key {index + 1}: write it as id:secret, with an id of 1-16 letters or digits"
            )
        if len(secret) < MIN_SECRET:
            raise ValueError(f"unsubscribe key {key_id}: the secret needs at least {MIN_SECRET} characters")
        keys.append(SigningKey(key_id, secret.encode()))
    if len({k.key_id for k in keys}) != len(keys):
        raise ValueError("unsubscribe keys: two keys share an id")
    return keys


def sign(key: SigningKey, customer_id: str, message_id: str, expires_at: datetime) -> str:
    payload = json.dumps(
        {"k": key.key_id, "c": customer_id, "m": message_id, "e": int(expires_at.timestamp())},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    signature = hmac.new(key.secret, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def verify(token: str, keys: list[SigningKey], now: datetime) -> Claims:
    """The token's claims, if one of `keys` signed it and it has not expired."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise InvalidToken("malformed", "this unsubscribe link is incomplete or damaged")
    encoded, signature_text = token.split(".")
    try:
        payload, signature = _unb64(encoded), _unb64(signature_text)
        claims = json.loads(payload)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("malformed", "this unsubscribe link is incomplete or damaged") from exc
    if not isinstance(claims, dict) or not all(
        isinstance(claims.get(k), t) for k, t in (("k", str), ("c", str), ("m", str), ("e", int))
    ):
        raise InvalidToken("malformed", "this unsubscribe link is incomplete or damaged")
    key = next((k for k in keys if k.key_id == claims["k"]), None)
    if key is None:
        raise InvalidToken(
            "unknown_key", "this unsubscribe link was signed with a key that is no longer in use"
        )
    expected = hmac.new(key.secret, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise InvalidToken("bad_signature", "this unsubscribe link was not issued by us or has been altered")
    expires_at = datetime.fromtimestamp(claims["e"], UTC)
    if now >= expires_at:
        raise InvalidToken("expired", f"this unsubscribe link expired on {expires_at:%Y-%m-%d}")
    return Claims(claims["c"], claims["m"], expires_at, key.key_id)


_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or any(
        c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text
    ):
        raise ValueError("not base64url")
    decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(decoded) != text:  # only the canonical spelling: unused bits set would be another token
        raise ValueError("not canonical base64url")
    return decoded
