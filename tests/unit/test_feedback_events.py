"""Reading SES's events: which message they are about, and refusals that name what is wrong."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import EVENTS

from righttime.core.feedback import (
    MAX_TAG_VALUE,
    FeedbackError,
    SesEvent,
    customer_from_reference,
    customer_reference,
    customer_tag,
    link_without_query,
)
from righttime_dev.local.ses_events import Fate, simulator_fate

SAMPLES = sorted(EVENTS.glob("feedback-*.json"))
SES_TAG_VALUE = re.compile(r"^[A-Za-z0-9_-]*$")


@given(st.text(min_size=1, max_size=100))
def test_any_customer_id_travels_in_an_ses_tag_and_comes_back(customer_id: str):
    # Given any customer id an app may send (e-mail addresses, emoji, slashes)
    reference = customer_reference(customer_id)
    # Then it is made only of what SES tags allow, and reads back as the same id
    assert SES_TAG_VALUE.match(reference)
    assert customer_from_reference(reference) == customer_id


def test_an_id_too_long_for_a_tag_travels_in_the_header_only():
    assert customer_tag("x" * 500) is None
    assert customer_tag("x" * 192) is not None and len(customer_tag("x" * 192) or "") <= MAX_TAG_VALUE


def test_a_reference_that_is_not_one_is_refused_naming_it():
    with pytest.raises(FeedbackError, match="not base64url"):
        customer_from_reference("not base64!")


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.stem for s in SAMPLES])
def test_every_sample_event_names_its_message(sample):  # type: ignore[no-untyped-def]
    event = SesEvent.model_validate(json.loads(sample.read_text())["detail"])
    reference = event.reference()
    assert reference is not None
    assert (reference.customer_id, reference.message_id) == ("cust-42", "3f1c2a9e8b7d4c6e9f0a1b2c3d4e5f60")


def test_without_tags_the_headers_name_the_message():
    # Given an event whose tags were lost (local mode has none), but whose headers SES quoted
    detail = json.loads((EVENTS / "feedback-delivery.json").read_text())["detail"]
    detail["mail"]["tags"] = {"ses:configuration-set": ["cs"]}
    reference = SesEvent.model_validate(detail).reference()
    assert reference is not None and reference.customer_id == "cust-42" and reference.attempt_id is None


def test_an_event_missing_its_body_is_refused_naming_the_body():
    detail = json.loads((EVENTS / "feedback-bounce.json").read_text())["detail"]
    del detail["bounce"]
    with pytest.raises(ValidationError, match="a Bounce event needs its 'bounce' object"):
        SesEvent.model_validate(detail)


def test_half_marked_mail_is_an_error_naming_what_is_missing():
    detail = json.loads((EVENTS / "feedback-send.json").read_text())["detail"]
    detail["mail"]["tags"] = {"message_id": ["m1"]}
    detail["mail"]["headers"] = []
    with pytest.raises(FeedbackError, match="names no customer"):
        SesEvent.model_validate(detail).reference()


def test_an_event_happened_when_ses_says():
    detail = json.loads((EVENTS / "feedback-open.json").read_text())["detail"]
    assert SesEvent.model_validate(detail).occurred_at == datetime(2026, 11, 20, 11, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("link", "kept"),
    [
        ("https://shop.example.com/p/1?token=abc&email=a@b.c#top", "https://shop.example.com/p/1"),
        ("javascript:alert(1)", None),
        ("not a link", None),
    ],
)
def test_a_clicked_link_is_kept_without_its_query(link: str, kept: str | None):
    assert link_without_query(link) == kept


@pytest.mark.parametrize(
    ("address", "fate"),
    [
        ("bounce@simulator.amazonses.com", Fate.BOUNCE),
        ("Complaint+test1@Simulator.AmazonSES.com", Fate.COMPLAINT),
        ("ooto@simulator.amazonses.com", Fate.DELIVER),
        ("suppressionlist@simulator.amazonses.com", Fate.SUPPRESSION_LIST),
        ("bounce@example.com", None),
    ],
)
def test_local_mode_plays_the_ses_mailbox_simulator(address: str, fate: Fate | None):
    assert simulator_fate(address) == fate
