"""E-mail addresses: one plain addr-spec each, normalised, and hashed where they travel outside the tables."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache


def normalise_address(address: str) -> str:
    return address.strip().lower()


def address_key(address: str) -> str:
    """The suppression list's key for an address: a hash, so schedules can carry it without the address."""
    return hashlib.sha256(normalise_address(address).encode()).hexdigest()


#: the prefix that keeps an erased customer's key apart from the hashed addresses on the suppression list
ERASED_CUSTOMER_PREFIX = "customer#"


def erased_customer_key(customer_id: str) -> str:
    """The suppression list's key for an erased customer id (docs/privacy.md): a hash, so the list keeps no
    id in clear; the prefix keeps it apart from any address's key."""
    return ERASED_CUSTOMER_PREFIX + hashlib.sha256(customer_id.encode()).hexdigest()


_ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def parse_address(text: str) -> str:
    """One plain addr-spec (`local@domain`), normalised for sending: surrounding spaces dropped, the domain
    in lower-case ASCII (an international domain as punycode, IDNA 2003 as Python's `idna` codec does).

    Refused with ValueError naming the problem: lists, display names, comments, quoted or non-ASCII local
    parts (SES does not support SMTPUTF8), IP-literal domains, and any control character or line separator.
    """
    address = text.strip(" \t")
    if not address:
        raise ValueError("an e-mail address is required")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Zs", "Cs", "Co", "Cn") for c in address):
        raise ValueError("contains a space, control character or line separator")
    if len(address) > 254:
        raise ValueError("longer than 254 characters")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("not an e-mail address: one local part, '@', one domain")
    if len(local) > 64:
        raise ValueError("the local part is longer than 64 characters")
    if not all(_ATEXT.match(atom) for atom in local.split(".")):
        raise ValueError(
            "not one plain address: the part before '@' may hold only ASCII letters, digits, dots and "
            "!#$%&'*+/=?^_`{|}~- (no lists, names, quotes or non-ASCII)"
        )
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError(f"the domain is not a valid (international) domain name: {exc}") from exc
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            "the domain must be a host name such as example.com (letters, digits, hyphens, dots)"
        )
    if labels[-1].isdigit():
        raise ValueError("the domain must be a host name, not an IP address")
    return f"{local}@{ascii_domain}"


@lru_cache(maxsize=1_024)
def usable_address(text: str | None) -> str | None:
    """`text` as a sendable address, or None when it is not one plain address (a profile stored before
    addresses were checked at ingest may hold a list or a line break). Cached: the policy asks once per
    campaign an event triggers."""
    if text is None:
        return None
    try:
        return parse_address(text)
    except ValueError:
        return None
