"""Hostile input at ingest and in templates: refused with 400 naming the field, never an exception, never
accepted and dead-lettered later; links in emails are http(s) only."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from righttime.core.addresses import parse_address
from righttime.core.errors import InvalidRequestError, QueueUnavailableError
from righttime.core.events import IdentifyMessage, QueuedEvent
from righttime.core.profiles import CartItem
from righttime.stages.ingest import (
    MAX_NESTING,
    MAX_REPORTED_ERRORS,
    enqueue_in_lanes,
    parse,
)
from righttime.stages.rendering import Renderer, safe_url, template_context
from righttime_dev.samples import sample_profile

RECEIVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def refused(endpoint: str, raw: bytes | dict[str, Any]) -> dict[str, str]:
    """The fields (and their messages) ingest names when it refuses `raw`; fails if it accepts it."""
    body = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    with pytest.raises(InvalidRequestError) as caught:
        parse(endpoint, body, RECEIVED)  # type: ignore[arg-type]
    assert caught.value.status == 400
    return {e.field: e.message for e in caught.value.errors}


def track(properties: str) -> bytes:
    return b'{"userId": "u1", "event": "Viewed", "properties": ' + properties.encode() + b"}"


# --- JSON that Python, DynamoDB or SQS cannot take ------------------------------------------------------


def test_a_value_nested_past_the_limit_is_refused_naming_where() -> None:
    # Given properties nested 500 objects deep (Python's json still parses that)
    body = track('{"a": ' * 500 + "1" + "}" * 500)
    # When ingest parses it, Then it is a 400 naming the path down to the limit, with the limit in the message
    (field, message), *_ = refused("track", body).items()
    assert field == "properties" + ".a" * MAX_NESTING
    assert f"nested more than {MAX_NESTING} levels" in message


def test_nesting_too_deep_for_the_json_parser_is_a_400_not_a_recursion_error() -> None:
    # Given 100,000 nested arrays, past the parser's own recursion limit
    body = track('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    # Then the answer is a 400 about the body
    assert "body" in refused("track", body)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e309", "-1e309"])
def test_a_non_finite_number_is_refused_naming_its_field(literal: str) -> None:
    # Given a property Python's json would read as nan or inf (and pydantic would silently queue as null)
    fields = refused("track", track('{"score": ' + literal + "}"))
    # Then the field is named
    assert list(fields) == ["properties.score"]


def test_an_integer_of_5000_digits_is_refused_not_a_value_error() -> None:
    # Given an integer literal past Python's 4,300-digit int() limit
    fields = refused("track", track('{"n": ' + "9" * 5000 + "}"))
    # Then it is a 400 naming the field, with the literal shortened in the message
    assert "DynamoDB" in fields["properties.n"] and len(fields["properties.n"]) < 200


@pytest.mark.parametrize(
    "literal",
    [
        pytest.param("1" * 39, id="39 significant digits"),
        pytest.param("1.00000000000000000000000000000000000001", id="39 digits after rounding nothing"),
        pytest.param("1e126", id="over 9.99E+125"),
        pytest.param("9.9999999999999999999999999999999999999E+125", id="rounds to 1E+126 as a float"),
        pytest.param("1e-131", id="under 1E-130"),
        pytest.param("-1e-200", id="negative, under 1E-130"),
    ],
)
def test_a_number_dynamodb_cannot_store_is_refused_naming_its_field(literal: str) -> None:
    # Given an identify in a batch whose trait DynamoDB could not store
    body = b'{"batch": [{"type": "identify", "userId": "u1", "traits": {"loyalty_points": ' + literal.encode()
    body += b"}}]}"
    # Then the batch is refused with the trait named, instead of a 200 and a dead letter at evaluate
    assert list(refused("batch", body)) == ["batch.0.traits.loyalty_points"]


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("9" * 38, int("9" * 38)),
        ("1" + "0" * 125, 10**125),
        ("1e-130", 1e-130),
        ("1.5e125", 1.5e125),
        ("0", 0),
        ("-0.0", -0.0),
    ],
)
def test_a_number_dynamodb_can_store_is_accepted_as_sent(literal: str, value: float) -> None:
    (event,) = parse("track", track('{"n": ' + literal + "}"), RECEIVED)
    assert event.message.properties["n"] == value  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b'{"userId": "u\\ud800", "event": "e"}', "userId", id="in an id"),
        pytest.param(track('{"a": "x\\udfff"}'), "properties.a", id="in a value"),
        pytest.param(track('{"k\\ud800": 1}'), "properties.k\ufffd", id="in a key"),
        pytest.param(track('{"a": ["\\uffff"]}'), "properties.a.0", id="U+FFFF, which SQS refuses"),
        pytest.param(track('{"a": {"": 1}}'), "properties.a", id="an empty key, which DynamoDB refuses"),
    ],
)
def test_strings_that_cannot_be_stored_or_queued_are_refused(body: bytes, field: str) -> None:
    # Given a lone UTF-16 surrogate (or a non-character) escaped in the JSON
    # Then the field is named; nothing reaches pydantic's serialiser or SQS
    assert field in refused("track", body)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        pytest.param({"timestamp": "0000-01-01T00:00:00Z"}, "timestamp", id="year 0"),
        pytest.param({"timestamp": "10000-01-01T00:00:00Z"}, "timestamp", id="year 10000"),
        pytest.param({"timestamp": "0001-01-01T00:00:00+14:00"}, "timestamp", id="year 0 in UTC"),
        pytest.param({"timestamp": "1969-12-31T23:59:59Z"}, "timestamp", id="before 1970"),
        pytest.param({"timestamp": "2100-01-01T00:00:01Z"}, "timestamp", id="after 2100"),
        pytest.param(
            {"timestamp": "2026-01-01T00:00:00Z", "sentAt": "9999-12-31T23:59:59-14:00"},
            "sentAt",
            id="skew correction would overflow",
        ),
        pytest.param({"timestamp": "2026-01-01T00:00:00+99:00"}, "timestamp", id="offset of 99 hours"),
        pytest.param({"timestamp": 10**17}, "timestamp", id="epoch number past 9999"),
    ],
)
def test_an_absurd_timestamp_is_refused_naming_it(fields: dict[str, Any], named: str) -> None:
    assert named in refused("track", {"userId": "u1", "event": "e", **fields})


@pytest.mark.parametrize("event", [{"a": 1}, ["Product Added"], 7, None])
def test_an_event_name_that_is_not_a_string_is_a_400_not_a_type_error(event: Any) -> None:
    # Found by make fuzz: an object as the event name was looked up in a set of names and raised
    assert "event" in refused("track", {"userId": "u1", "event": event, "properties": {"url": "x"}})


def test_a_batch_sent_at_out_of_range_is_named() -> None:
    body = {"sentAt": "0001-01-01T00:00:00Z", "batch": [{"type": "track", "userId": "u", "event": "e"}]}
    assert "sentAt" in refused("batch", body)


def test_a_batch_of_bad_messages_lists_at_most_100_fields() -> None:
    # Given 150 messages each with a non-finite number
    body = (
        b'{"batch": ['
        + b",".join([b'{"type": "track", "userId": "u", "event": "e", "x": NaN}'] * 150)
        + b"]}"
    )
    with pytest.raises(InvalidRequestError) as caught:
        parse("batch", body, RECEIVED)
    # Then the answer stays small and says how many there were
    assert len(caught.value.errors) == MAX_REPORTED_ERRORS
    assert caught.value.message.startswith("150 invalid fields")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_body_is_either_accepted_or_refused_with_400(body: bytes) -> None:
    # Given any bytes at all as a body (including lone surrogates encoded with surrogatepass)
    # When ingest parses it, Then it returns events or raises InvalidRequestError: nothing else
    for endpoint in ("track", "identify", "batch"):
        try:
            parse(endpoint, body, RECEIVED)
        except InvalidRequestError as exc:
            assert exc.status == 400


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=30,
    )
)
def test_any_json_value_in_properties_and_traits_is_accepted_or_refused_with_400(value: Any) -> None:
    # Given any JSON value (NaN and infinities included) as a property and as a trait
    for endpoint, document in (
        ("track", {"userId": "u", "event": "e", "properties": {"v": value}}),
        ("identify", {"userId": "u", "traits": {"v": value}}),
    ):
        body = json.dumps(document).encode()
        try:
            (event,) = parse(endpoint, body, RECEIVED)  # type: ignore[arg-type]
        except InvalidRequestError as exc:
            assert exc.status == 400
        else:
            # Then what is accepted can be queued: it serialises to JSON SQS takes
            event.model_dump_json().encode()


# --- e-mail addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("a@x.com, evil@example.com", id="a list"),
        pytest.param("a@x.com,evil@example.com", id="a list without a space"),
        pytest.param("Jane <jane@example.com>", id="a display name"),
        pytest.param("jane@example.com (Jane)", id="a comment"),
        pytest.param('"jane doe"@example.com', id="a quoted local part"),
        pytest.param("jane@example.com\r\nBcc: evil@example.com", id="CR LF"),
        pytest.param("jane@example.com\n", id="a trailing LF"),
        pytest.param("jane@exa\u2028mple.com", id="U+2028"),
        pytest.param("jane@example.com\x85", id="U+0085"),
        pytest.param("jane\x00@example.com", id="NUL"),
        pytest.param("ja\u200bne@example.com", id="a zero-width space"),
        pytest.param("jäne@example.com", id="a UTF-8 local part"),
        pytest.param("jane@[192.0.2.1]", id="an IP literal"),
        pytest.param("jane@192.0.2.1", id="an IP address"),
        pytest.param("jane@localhost", id="a host without a dot"),
        pytest.param("jane..doe@example.com", id="two dots"),
        pytest.param("jane@-example.com", id="a label starting with a hyphen"),
        pytest.param("@example.com", id="no local part"),
        pytest.param("jane@", id="no domain"),
        pytest.param("not-an-email", id="no @"),
        pytest.param("", id="empty"),
        pytest.param("a" * 65 + "@example.com", id="a local part over 64"),
    ],
)
def test_an_identify_with_anything_but_one_plain_address_is_refused(address: str) -> None:
    # Given an identify whose email trait is not exactly one addr-spec
    # Then it is refused at ingest, naming the trait: it can never become extra recipients or a stuck message
    assert "traits.email" in refused("identify", {"userId": "u1", "traits": {"email": address}})
    batch = {"batch": [{"type": "identify", "userId": "u1", "traits": {"email": address}}]}
    assert "batch.0.traits.email" in refused("batch", batch)


def test_an_email_that_is_not_a_string_is_refused() -> None:
    assert "traits.email" in refused("identify", {"userId": "u1", "traits": {"email": ["a@x.com"]}})


@pytest.mark.parametrize(
    ("address", "queued"),
    [
        ("jane@example.com", "jane@example.com"),
        ("  Jane.Doe+promo@Example.COM ", "Jane.Doe+promo@example.com"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("jane@münchen.de", "jane@xn--mnchen-3ya.de"),
        ("jane@例え.テスト", "jane@xn--r8jz45g.xn--zckzah"),
    ],
)
def test_a_plain_address_is_queued_normalised_with_an_international_domain_as_punycode(
    address: str, queued: str
) -> None:
    (event,) = parse(
        "identify", json.dumps({"userId": "u1", "traits": {"email": address}}).encode(), RECEIVED
    )
    assert isinstance(event.message, IdentifyMessage)
    assert event.message.traits["email"] == queued
    assert parse_address(address) == queued


def test_an_identify_without_an_email_or_with_null_is_accepted() -> None:
    parse("identify", b'{"userId": "u1", "traits": {"email": null, "plan": "gold"}}', RECEIVED)
    parse("identify", b'{"userId": "u1", "traits": {"plan": "gold"}}', RECEIVED)


# --- profile caps ------------------------------------------------------------------------------------


def test_an_identify_with_more_than_100_traits_is_refused() -> None:
    traits = {f"t{i}": i for i in range(101)}
    assert "traits" in refused("identify", {"userId": "u1", "traits": traits})


def test_a_trait_name_over_100_characters_is_refused() -> None:
    fields = refused("identify", {"userId": "u1", "traits": {"k" * 101: 1}})
    assert list(fields) == ["traits." + "k" * 101]


def test_a_trait_value_over_2_kb_is_refused() -> None:
    fields = refused(
        "batch", {"batch": [{"type": "identify", "userId": "u1", "traits": {"bio": "x" * 2049}}]}
    )
    assert list(fields) == ["batch.0.traits.bio"]


def test_traits_at_the_caps_are_accepted() -> None:
    traits: dict[str, Any] = {f"t{i:03d}" + "k" * 96: i for i in range(100)}
    traits["t000" + "k" * 96] = "x" * 2046  # 2,048 bytes of JSON with its quotes
    parse("identify", json.dumps({"userId": "u1", "traits": traits}).encode(), RECEIVED)


@pytest.mark.parametrize("name", ["product_id", "sku", "name", "category", "url", "image_url"])
def test_a_cart_line_field_over_1_kb_is_refused(name: str) -> None:
    document = {"userId": "u1", "event": "Product Added", "properties": {"product_id": "p", name: "é" * 513}}
    assert list(refused("track", document)) == [f"properties.{name}"]


def test_an_order_product_category_over_1_kb_is_refused() -> None:
    products = [{"product_id": "p1", "category": "ok"}, {"product_id": "p2", "category": "c" * 1025}]
    document = {"userId": "u1", "event": "Order Completed", "properties": {"products": products}}
    assert list(refused("track", document)) == ["properties.products.1.category"]


def test_long_fields_on_other_events_are_not_cart_lines() -> None:
    # A page-view style event keeps nothing on the profile: a long URL there is fine
    parse(
        "track",
        json.dumps({"userId": "u", "event": "Page Viewed", "properties": {"url": "x" * 5000}}).encode(),
        RECEIVED,
    )


# --- queueing a large request ------------------------------------------------------------------------


def events_for(customers: int, count: int) -> list[QueuedEvent]:
    batch = [
        {"type": "track", "userId": f"c{i % customers}", "event": "e", "messageId": f"m{i}"}
        for i in range(count)
    ]
    return parse("batch", json.dumps({"batch": batch}).encode(), RECEIVED)


def test_a_large_request_is_queued_in_concurrent_lanes_keeping_each_customers_order() -> None:
    # Given 2,000 events of 37 customers
    events = events_for(37, 2000)
    calls: list[list[str]] = []
    threads: set[int] = set()
    lock = threading.Lock()

    def enqueue(lane: Sequence[QueuedEvent]) -> None:
        with lock:
            calls.append([e.message_id for e in lane])
            threads.add(threading.get_ident())

    # When they are queued
    enqueue_in_lanes(events, enqueue)
    # Then every event is queued once, each customer's in one lane and in the order sent
    assert sorted(m for call in calls for m in call) == sorted(e.message_id for e in events)
    lane_of = {m: i for i, call in enumerate(calls) for m in call}
    for customer in {e.customer_id for e in events}:
        mine = [e.message_id for e in events if e.customer_id == customer]
        assert len({lane_of[m] for m in mine}) == 1
        assert [m for m in calls[lane_of[mine[0]]] if m in set(mine)] == mine
    assert len(calls) > 1


def test_a_small_request_is_one_enqueue_call() -> None:
    calls: list[int] = []
    enqueue_in_lanes(events_for(3, 100), lambda lane: calls.append(len(lane)))
    assert calls == [100]


def test_a_lane_that_cannot_queue_fails_the_request_after_every_lane_finished() -> None:
    events = events_for(50, 500)
    finished: list[int] = []

    def enqueue(lane: Sequence[QueuedEvent]) -> None:
        if any(e.customer_id == "c7" for e in lane):
            raise QueueUnavailableError("SQS is down")
        finished.append(len(lane))

    with pytest.raises(QueueUnavailableError):
        enqueue_in_lanes(events, enqueue)
    assert finished  # the other lanes ran to the end: a retry is de-duplicated by messageId


# --- links in templates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "https:evil",
        "https://shop.example/\u2028x",
        "https://[broken",
        None,
        42,
    ],
)
def test_safe_url_replaces_anything_but_an_absolute_http_url(url: object) -> None:
    assert safe_url(url) == "#"
    assert safe_url(url, "") == ""


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://shop.example/p/1?a=1&b=2", "https://shop.example/p/1?a=1&b=2"),
        ("HTTP://shop.example/p", "HTTP://shop.example/p"),
        ("  https://shop.example/p\n", "https://shop.example/p"),
    ],
)
def test_safe_url_keeps_http_and_https(url: str, kept: str) -> None:
    assert safe_url(url) == kept


def test_every_href_and_src_in_the_templates_goes_through_safe_url() -> None:
    # Given the shipped templates, Then no link attribute writes a value without the filter
    import re

    attribute = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for value in attribute.findall(path.read_text()):
            assert "{{" not in value or "safe_url" in value or value.strip() == "{{ link }}", (path, value)


def test_a_javascript_product_link_never_reaches_the_cart_email() -> None:
    # Given a cart line whose url and image_url are javascript: and data: URLs
    profile = sample_profile()
    profile.cart = [
        CartItem(
            product_id="p1", name="Mug", price=Decimal(5), url="javascript:alert(1)", image_url="data:x"
        ),
        CartItem(product_id="p2", name="Cup", price=Decimal(5), url="https://shop.example/cup"),
    ]
    # When the cart reminder is rendered
    rendered = Renderer(ROOT / "templates").render("cart_abandonment", template_context(profile, "c", "m"))
    # Then neither appears, and the http link is kept
    assert "javascript:" not in rendered.html and "data:" not in rendered.html
    assert 'href="https://shop.example/cup"' in rendered.html


def test_a_javascript_browse_link_is_left_out_of_both_bodies() -> None:
    context = template_context(
        sample_profile(), "c", "m", event=("Product Viewed", {"name": "Mug", "url": "javascript:alert(1)"})
    )
    rendered = Renderer(ROOT / "templates").render("browse_abandonment", context)
    assert "javascript:" not in rendered.html and "javascript:" not in rendered.text
    assert "Take another look" not in rendered.text
