"""E-mail addresses as keys: normalised, and hashed where they travel outside the tables."""

from __future__ import annotations

import hashlib


def normalise_address(address: str) -> str:
    return address.strip().lower()


def address_key(address: str) -> str:
    """The suppression list's key for an address: a hash, so schedules can carry it without the address."""
    return hashlib.sha256(normalise_address(address).encode()).hexdigest()
