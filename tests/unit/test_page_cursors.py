"""The read API's page cursors: opaque, read back exactly, and anything else refused as `cursor`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from righttime.adapters.privacy import decode_cursor, encode_cursor
from righttime.stages.ports import InvalidCursor


@given(st.text(max_size=200).map(lambda t: "DEC#" + t), st.integers(min_value=0, max_value=10_000))
def test_a_cursor_reads_back_as_the_position_it_was_made_from(sort_key: str, given_count: int):
    cursor = encode_cursor(sort_key, given_count)
    assert cursor.isascii() and "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor) == (sort_key, given_count)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "%%%",
        encode_cursor("DEC#x", 1)[:-3],  # cut short
        encode_cursor("MSG#abc", 0),  # a position outside the decisions
        encode_cursor("DEC#x", -1),
        encode_cursor("DEC#x", 10_001),
        "W10",  # valid base64 of valid JSON, but a list
    ],
)
def test_anything_else_is_refused_naming_the_parameter(cursor: str):
    with pytest.raises(InvalidCursor, match="'cursor'"):
        decode_cursor(cursor)
