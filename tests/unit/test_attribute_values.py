"""DynamoDB attribute values read back as the plain Python that righttime's models validate."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from righttime.adapters.items import from_item, plain, to_item, to_values
from righttime.core.profiles import Profile


def test_every_attribute_type_reads_as_plain_python():
    # Given an item with each type DynamoDB stores (as a read or a stream record returns it)
    item = {
        "null": {"NULL": True},
        "flag": {"BOOL": False},
        "count": {"N": "3"},
        "price": {"N": "49.90"},
        "name": {"S": "Ada"},
        "body": {"B": b"\x00\x01"},
        "tags": {"SS": ["vip", "new"]},
        "scores": {"NS": ["1", "2.5"]},
        "blobs": {"BS": [b"a"]},
        "cart": {"L": [{"M": {"sku": {"S": "sku-1"}, "qty": {"N": "2"}}}]},
    }

    # When it is read
    values = from_item(item)

    # Then whole numbers are ints, others floats, sets become lists and nesting is kept
    assert values["null"] is None
    assert values["flag"] is False
    assert values["count"] == 3
    assert isinstance(values["count"], int)
    assert values["price"] == 49.9
    assert values["name"] == "Ada"
    assert values["body"] == b"\x00\x01"
    assert sorted(values["tags"]) == ["new", "vip"]
    assert sorted(values["scores"]) == [1, 2.5]
    assert values["blobs"] == [b"a"]
    assert values["cart"] == [{"sku": "sku-1", "qty": 2}]


def test_a_model_stored_attribute_by_attribute_reads_back_equal():
    # Given a profile with decimals, timestamps and nested lists, stored as an item
    profile = Profile(
        customer_id="cust-1",
        email="ada@example.com",
        orders_count=2,
        lifetime_value=Decimal("49.90"),
        last_seen_at=datetime(2026, 11, 28, 19, 40, tzinfo=UTC),
        version=3,
    )

    # When the item is read back
    again = Profile.model_validate(from_item(to_item(profile)))

    # Then it is the same profile
    assert again == profile


def test_an_unknown_attribute_type_is_refused():
    # Given an attribute in a type DynamoDB does not have
    # When it is read, Then it fails rather than passing the raw value on
    with pytest.raises(TypeError):
        from_item({"odd": {"X": "1"}})


def test_expression_values_take_floats_as_exact_decimals():
    # Given a float and a nested list for an update expression
    # When they are converted
    values = to_values({":p": 0.1, ":l": [1, None]})

    # Then the float is stored by its shortest decimal form, not its binary expansion
    assert values[":p"] == {"N": "0.1"}
    assert values[":l"] == {"L": [{"N": "1"}, {"NULL": True}]}


def test_a_stream_image_already_deserialised_gets_plain_numbers():
    # Given an image whose numbers are Decimals (Powertools' stream record deserialises them)
    image = {"generation": Decimal("2"), "weight": Decimal("0.5"), "ids": {"a"}}

    # When it is made plain
    # Then numbers are ints or floats, as the models expect
    assert plain(image) == {"generation": 2, "weight": 0.5, "ids": ["a"]}
