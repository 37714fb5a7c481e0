"""Profiles as DynamoDB stores them: compressed with a preset dictionary, readable forever."""

from __future__ import annotations

import base64
import zlib
from decimal import Decimal

import pytest

from righttime.adapters.dynamodb import profile_from_item, profile_item
from righttime.adapters.items import to_item
from righttime.core.profiles import Profile

#: a body written on 2026-11-28 (commit of the preset dictionary): it must decode as long as righttime runs
STORED_BODY = "eLvrs0kjg6ceYF5IdEitAJqQk6qXnJ+rhJqUlBxTEpWGTFoywpKWTCz1LEfTE1p6AgB1m7cT"


def test_a_profile_written_with_the_first_dictionary_still_reads():
    # Given a profile body as the first release of the compressed layout stored it
    item = {
        "customer_id": {"S": "cust-1"},
        "version": {"N": "3"},
        "body": {"B": base64.b64decode(STORED_BODY)},
    }

    # When it is read today
    profile = profile_from_item(item)

    # Then every field comes back (a changed dictionary would fail here)
    assert (profile.email, profile.first_name, profile.orders_count) == ("ada@example.com", "Ada", 2)
    assert (profile.lifetime_value, profile.version) == (Decimal("49.90"), 3)


@pytest.mark.parametrize("layout", ["attributes", "plain zlib"])
def test_profiles_stored_in_earlier_layouts_still_read(layout: str):
    # Given the same profile stored attribute by attribute (0.x), or compressed without a dictionary
    profile = Profile(customer_id="cust-1", email="ada@example.com", orders_count=2, version=3)
    if layout == "attributes":
        item = to_item(profile)
    else:
        body = zlib.compress(profile.model_dump_json(exclude={"customer_id", "version"}).encode())
        item = {"customer_id": {"S": "cust-1"}, "version": {"N": "3"}, "body": {"B": body}}

    # When it is read, Then it is the same profile
    assert profile_from_item(item) == profile


def test_a_body_naming_an_unknown_dictionary_is_refused_with_its_checksum():
    # Given a body compressed with a dictionary righttime never had
    packer = zlib.compressobj(6, zdict=b"some other dictionary")
    body = packer.compress(b"{}") + packer.flush()
    item = {"customer_id": {"S": "cust-1"}, "version": {"N": "1"}, "body": {"B": body}}

    # When it is read, Then the error names the dictionary instead of returning garbage
    with pytest.raises(ValueError, match="unknown dictionary"):
        profile_from_item(item)


def test_a_round_trip_keeps_the_profile_and_shrinks_it():
    # Given a profile with a cart and history
    profile = Profile.model_validate(
        {
            "customer_id": "cust-1",
            "email": "ada@example.com",
            "cart": [{"product_id": f"p{i}", "name": f"Lamp {i}", "price": "49.00"} for i in range(5)],
            "version": 4,
        }
    )

    # When it is stored and read back
    item = profile_item(profile)

    # Then it is unchanged, and its body is far smaller than its JSON
    assert profile_from_item(item) == profile
    assert len(item["body"]["B"]) < len(profile.model_dump_json()) / 2
