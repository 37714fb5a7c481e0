"""Decision reasons: every reason code has a named constructor, carries the detail docs/decisions.md
documents, and is documented there."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from righttime.core.calendar import QuietHours, Weekday, Window
from righttime.core.campaigns import ReentryMode
from righttime.core.conditions import Condition, Op
from righttime.core.decisions import Decision, Outcome, Reason, ReasonCode
from righttime.core.global_policy import FrequencyCap, GlobalPolicy
from righttime.core.policy import customer_zone
from righttime.core.profiles import Profile

DOCS = Path(__file__).resolve().parents[2] / "docs" / "decisions.md"
AT = datetime(2026, 11, 20, 9, 10, tzinfo=UTC)
LATER = AT + timedelta(hours=1)
WINDOW = Window(days=[Weekday.MON, Weekday.TUE], start=time(9), end=time(20))
EMPTY_CART = Condition(field="cart_items", op=Op.EQUALS, value=0)

#: each constructor, and the exact detail it writes (what decision records, simulate and explain show)
EXPECTED: list[tuple[Reason, ReasonCode, dict[str, Any]]] = [
    (
        Reason.triggered("Product Added", timedelta(hours=1)),
        ReasonCode.TRIGGERED,
        {"event": "Product Added", "delay": "1h"},
    ),
    (
        Reason.trigger_repeated("Product Added", LATER),
        ReasonCode.TRIGGER_REPEATED,
        {"event": "Product Added", "previous_send_at": LATER.isoformat()},
    ),
    (
        Reason.superseded("cart_id", "c1", "c2"),
        ReasonCode.SUPERSEDED,
        {"key": "cart_id", "previous": "c1", "by": "c2"},
    ),
    (
        Reason.min_delay("Product Viewed", timedelta(minutes=30)),
        ReasonCode.MIN_DELAY,
        {"event": "Product Viewed", "min_delay": "30m"},
    ),
    (
        Reason.local_time(time(10), "Europe/Paris"),
        ReasonCode.LOCAL_TIME,
        {"time": "10:00", "timezone": "Europe/Paris"},
    ),
    (
        Reason.purchase_cooldown(AT, LATER),
        ReasonCode.PURCHASE_COOLDOWN,
        {"order_at": AT.isoformat(), "until": LATER.isoformat()},
    ),
    (
        Reason.follow_up_delay(AT, LATER),
        ReasonCode.FOLLOW_UP_DELAY,
        {"order_at": AT.isoformat(), "until": LATER.isoformat()},
    ),
    (
        Reason.quiet_hours(QuietHours(start=time(21), end=time(8)), "UTC", AT, LATER),
        ReasonCode.QUIET_HOURS,
        {
            "quiet_hours": "21:00-08:00",
            "timezone": "UTC",
            "local_time": AT.isoformat(),
            "until": LATER.isoformat(),
        },
    ),
    (
        Reason.outside_window(WINDOW, "UTC", AT, LATER),
        ReasonCode.OUTSIDE_WINDOW,
        {
            "window": "mon,tue 09:00-20:00",
            "timezone": "UTC",
            "local_time": AT.isoformat(),
            "until": LATER.isoformat(),
        },
    ),
    (
        Reason.outside_window_dropped(WINDOW, "UTC", AT),
        ReasonCode.OUTSIDE_WINDOW,
        {"window": "mon,tue 09:00-20:00", "timezone": "UTC", "local_time": AT.isoformat(), "action": "drop"},
    ),
    (
        Reason.window_never_open(WINDOW, "UTC"),
        ReasonCode.OUTSIDE_WINDOW,
        {"window": "mon,tue 09:00-20:00", "timezone": "UTC", "never_open": True},
    ),
    (
        Reason.frequency_cap(FrequencyCap(max=3, per=timedelta(days=7)), "UTC", LATER),
        ReasonCode.FREQUENCY_CAP,
        {"cap": "3 per rolling 7d", "timezone": "UTC", "until": LATER.isoformat()},
    ),
    (Reason.no_free_slot(timedelta(days=60)), ReasonCode.FREQUENCY_CAP, {"horizon": "60d"}),
    (
        Reason.outranked(["b", "a", "b"], LATER),
        ReasonCode.OUTRANKED,
        {"by": ["a", "b"], "wanted": LATER.isoformat()},
    ),
    (
        Reason.send_by_passed(AT, LATER),
        ReasonCode.SEND_BY_PASSED,
        {"send_by": AT.isoformat(), "earliest": LATER.isoformat()},
    ),
    (
        Reason.send_by_passed_when_fired(AT, LATER),
        ReasonCode.SEND_BY_PASSED,
        {"send_by": AT.isoformat(), "at": LATER.isoformat()},
    ),
    (
        Reason.reentry(ReentryMode.ONCE_PER, AT),
        ReasonCode.REENTRY,
        {"mode": "once_per", "last_sent_at": AT.isoformat()},
    ),
    (Reason.duplicate_key("cart_id", "c1"), ReasonCode.DUPLICATE_KEY, {"key": "cart_id", "value": "c1"}),
    (Reason.pending_limit(20), ReasonCode.PENDING_LIMIT, {"limit": 20}),
    (
        Reason.audience(EMPTY_CART),
        ReasonCode.AUDIENCE,
        {"condition": {"field": "cart_items", "op": "equals", "value": 0}},
    ),
    (
        Reason.recently_bought("shoes", AT),
        ReasonCode.RECENTLY_BOUGHT,
        {"category": "shoes", "bought_at": AT.isoformat()},
    ),
    (
        Reason.cross_sell_variant("shoes", AT, "socks"),
        ReasonCode.CROSS_SELL_VARIANT,
        {"category": "shoes", "bought_at": AT.isoformat(), "template": "socks"},
    ),
    (Reason.no_email(), ReasonCode.NO_EMAIL, {}),
    (Reason.unsubscribed(), ReasonCode.UNSUBSCRIBED, {}),
    (Reason.address_suppressed("bounce"), ReasonCode.ADDRESS_SUPPRESSED, {"suppression": "bounce"}),
    (
        Reason.converted("o-1", AT, event="Order Completed"),
        ReasonCode.CONVERTED,
        {"event": "Order Completed", "order_id": "o-1", "at": AT.isoformat()},
    ),
    (Reason.converted("o-1", AT), ReasonCode.CONVERTED, {"order_id": "o-1", "at": AT.isoformat()}),
    (
        Reason.exit_event("Product Added", AT),
        ReasonCode.EXIT_EVENT,
        {"event": "Product Added", "at": AT.isoformat()},
    ),
    (
        Reason.exit_condition(EMPTY_CART),
        ReasonCode.EXIT_CONDITION,
        {"condition": {"field": "cart_items", "op": "equals", "value": 0}},
    ),
    (Reason.campaign_disabled("cart"), ReasonCode.CAMPAIGN_DISABLED, {"campaign": "cart"}),
    (Reason.delivered_to_ses("ses-1"), ReasonCode.DELIVERED_TO_SES, {"ses_message_id": "ses-1"}),
    (Reason.ses_rejected("MessageRejected"), ReasonCode.SES_REJECTED, {"error": "MessageRejected"}),
    (
        Reason.ses_unavailable("Throttling", 2, LATER),
        ReasonCode.SES_UNAVAILABLE,
        {"error": "Throttling", "attempts": 2, "retry_at": LATER.isoformat()},
    ),
    (
        Reason.ses_gave_up("Throttling", 6),
        ReasonCode.SES_UNAVAILABLE,
        {"error": "Throttling", "attempts": 6, "gave_up": True},
    ),
    (
        Reason.render_failed("'x' is undefined", "UndefinedError"),
        ReasonCode.RENDER_FAILED,
        {"error": "'x' is undefined", "error_type": "UndefinedError"},
    ),
    (
        Reason.ses_outcome_unknown("ReadTimeoutError"),
        ReasonCode.SES_OUTCOME_UNKNOWN,
        {"error": "ReadTimeoutError"},
    ),
    (
        Reason.converted_during_send("o-1", LATER),
        ReasonCode.CONVERTED_DURING_SEND,
        {"order_id": "o-1", "at": LATER.isoformat()},
    ),
    (
        Reason.invocation_deadline(9.04, LATER),
        ReasonCode.INVOCATION_DEADLINE,
        {"seconds_left": 9.0, "retry_at": LATER.isoformat()},
    ),
    (
        Reason.release_spread(timedelta(minutes=5), timedelta(seconds=137)),
        ReasonCode.RELEASE_SPREAD,
        {"spread": "5m", "offset_seconds": 137},
    ),
    (
        Reason.send_time_optimised(19, 12, "customer", "Europe/Paris", timedelta(hours=24), AT),
        ReasonCode.SEND_TIME_OPTIMISED,
        {
            "hour": 19,
            "evidence": 12,
            "fallback": "customer",
            "timezone": "Europe/Paris",
            "max_delay": "1d",
            "until": AT.isoformat(),
        },
    ),
    (
        Reason.lease_expired("attempt-1", AT, None),
        ReasonCode.LEASE_EXPIRED,
        {
            "attempt_id": "attempt-1",
            "lease_until": AT.isoformat(),
            "ses_called": False,
            "ses_called_at": None,
        },
    ),
    (
        Reason.lease_expired("attempt-1", LATER, AT),
        ReasonCode.LEASE_EXPIRED,
        {
            "attempt_id": "attempt-1",
            "lease_until": LATER.isoformat(),
            "ses_called": True,
            "ses_called_at": AT.isoformat(),
        },
    ),
    (
        Reason.schedule_missing(AT, timedelta(minutes=15)),
        ReasonCode.SCHEDULE_MISSING,
        {"send_at": AT.isoformat(), "grace": "15m"},
    ),
    (
        Reason.ses_outcome_unresolved_resend(AT, timedelta(minutes=30), 1),
        ReasonCode.SES_OUTCOME_UNKNOWN,
        {"unknown_since": AT.isoformat(), "waited": "30m", "resend": 1},
    ),
    (
        Reason.ses_outcome_unresolved_gave_up(AT, 1),
        ReasonCode.SES_OUTCOME_UNKNOWN,
        {"unknown_since": AT.isoformat(), "resends": 1, "gave_up": True},
    ),
    # SES's events (feedback)
    (
        Reason.accepted_by_ses("ses-1", "Delivery", "unknown"),
        ReasonCode.ACCEPTED_BY_SES,
        {"ses_message_id": "ses-1", "event": "Delivery", "previous_status": "unknown"},
    ),
    (Reason.ses_delivered("ses-1"), ReasonCode.SES_DELIVERED, {"ses_message_id": "ses-1"}),
    (
        Reason.hard_bounce("General", "5.1.1", "bounce"),
        ReasonCode.HARD_BOUNCE,
        {"sub_type": "General", "status": "5.1.1", "suppression": "bounce"},
    ),
    (
        Reason.soft_bounce("MailboxFull", "4.2.2", 3, 3, "soft_bounces"),
        ReasonCode.SOFT_BOUNCE,
        {
            "sub_type": "MailboxFull",
            "status": "4.2.2",
            "in_a_row": 3,
            "threshold": 3,
            "suppression": "soft_bounces",
        },
    ),
    (
        Reason.complaint("abuse", "complaint"),
        ReasonCode.COMPLAINT,
        {"feedback_type": "abuse", "suppression": "complaint", "unsubscribed": True},
    ),
    (Reason.ses_reject_event("Bad content"), ReasonCode.SES_REJECT_EVENT, {"reason": "Bad content"}),
    (Reason.ses_rendering_failure("no data"), ReasonCode.SES_RENDERING_FAILURE, {"error": "no data"}),
    (
        Reason.delivery_delay("MailboxFull", LATER),
        ReasonCode.DELIVERY_DELAY,
        {"delay_type": "MailboxFull", "expires_at": LATER.isoformat()},
    ),
    (Reason.opened(), ReasonCode.OPENED, {}),
    (Reason.clicked("https://shop.example/p/1"), ReasonCode.CLICKED, {"link": "https://shop.example/p/1"}),
    (
        Reason.order_credited("o-1", Decimal("49.90"), "EUR", "clicked", LATER, "m-1"),
        ReasonCode.ORDER_CREDITED,
        {
            "order_id": "o-1",
            "revenue": "49.90",
            "currency": "EUR",
            "touch": "clicked",
            "touched_at": LATER.isoformat(),
            "message_id": "m-1",
            "held_out": False,
        },
    ),
    (
        Reason.credit_refunded("o-1", Decimal("-49.90"), "EUR", False),
        ReasonCode.CREDIT_REFUNDED,
        {"order_id": "o-1", "revenue": "-49.90", "currency": "EUR", "held_out": False},
    ),
    (Reason.topic_opted_out("offers"), ReasonCode.TOPIC_OPTED_OUT, {"topic": "offers"}),
    (
        Reason.holdout("cart_abandonment", Decimal("2.5")),
        ReasonCode.HOLDOUT,
        {"group": "cart_abandonment", "percent": "2.5%"},
    ),
    (
        Reason.program_triggered("welcome", 2, "trait", {"trait": "subscribed", "to": True}),
        ReasonCode.PROGRAM_TRIGGERED,
        {"program": "welcome", "version": 2, "trigger": "trait", "trait": "subscribed", "to": True},
    ),
    (
        Reason.program_step("welcome", 2, "tips", "0f3a"),
        ReasonCode.PROGRAM_STEP,
        {"program": "welcome", "version": 2, "step": "tips", "run": "0f3a"},
    ),
    (
        Reason.in_program("welcome", "pause", LATER),
        ReasonCode.IN_PROGRAM,
        {"program": "welcome", "step": "pause", "since": LATER.isoformat()},
    ),
    (
        Reason.wait("pause", LATER, "2d"),
        ReasonCode.WAIT,
        {"step": "pause", "until": LATER.isoformat(), "rule": "2d"},
    ),
    (
        Reason.wait_for("survey", ["Survey Answered"], LATER),
        ReasonCode.WAIT_FOR,
        {"step": "survey", "events": ["Survey Answered"], "until": LATER.isoformat()},
    ),
    (
        Reason.event_arrived("survey", "Survey Answered", LATER, "thanks"),
        ReasonCode.EVENT_ARRIVED,
        {"step": "survey", "event": "Survey Answered", "at": LATER.isoformat(), "goto": "thanks"},
    ),
    (
        Reason.timed_out("survey", LATER, None),
        ReasonCode.TIMED_OUT,
        {"step": "survey", "at": LATER.isoformat(), "goto": None},
    ),
    (Reason.branch("vip", 1, "gift"), ReasonCode.BRANCH, {"step": "vip", "case": 1, "goto": "gift"}),
    (Reason.exit_step("stop"), ReasonCode.EXIT_STEP, {"step": "stop"}),
    (Reason.program_end("review"), ReasonCode.PROGRAM_END, {"step": "review"}),
    (Reason.version_retired("welcome", 1), ReasonCode.VERSION_RETIRED, {"program": "welcome", "version": 1}),
    (
        Reason.no_date("remind", "renewal_date"),
        ReasonCode.NO_DATE,
        {"step": "remind", "date": "renewal_date"},
    ),
    (Reason.one_click(), ReasonCode.ONE_CLICK, {}),
    (Reason.out_of_stock(["lamp"]), ReasonCode.OUT_OF_STOCK, {"product_ids": ["lamp"]}),
    (Reason.out_of_stock_removed(["mug"]), ReasonCode.OUT_OF_STOCK_REMOVED, {"product_ids": ["mug"]}),
    (Reason.recommended("co_purchase", 3), ReasonCode.RECOMMENDED, {"source": "co_purchase", "count": 3}),
    (
        Reason.merged("anon-1", "ann", cart_lines=2, moved=1, cancelled=0, replayed=1, consent_changed=True),
        ReasonCode.MERGED,
        {
            "anonymous_id": "anon-1",
            "into": "ann",
            "cart_lines": 2,
            "moved": 1,
            "cancelled": 0,
            "replayed": 1,
            "consent_changed": True,
        },
    ),
    (
        Reason.moved_on_merge("anon-1", "ann", "m2"),
        ReasonCode.MOVED_ON_MERGE,
        {"from_customer": "anon-1", "into": "ann", "message_id": "m2"},
    ),
    (Reason.merged_duplicate("ann", "m1"), ReasonCode.MERGED_DUPLICATE, {"into": "ann", "message_id": "m1"}),
    (Reason.both_known("kai"), ReasonCode.BOTH_KNOWN, {"other_id": "kai"}),
    (
        Reason.merged_elsewhere("anon-1", "bob"),
        ReasonCode.MERGED_ELSEWHERE,
        {"other_id": "anon-1", "merged_into": "bob"},
    ),
]


@pytest.mark.parametrize(
    ("reason", "code", "detail"),
    EXPECTED,
    ids=[f"{code.value}-{n}" for n, (_, code, _) in enumerate(EXPECTED)],
)
def test_a_named_constructor_writes_the_documented_detail(
    reason: Reason, code: ReasonCode, detail: dict[str, Any]
) -> None:
    # Given a reason built by its named constructor
    # When it is written to a decision record as JSON
    written = reason.model_dump(mode="json")
    # Then its code and detail, keys in order, are the ones docs/decisions.md documents
    assert written["code"] == code.value
    assert list(written["detail"].items()) == list(detail.items())


def test_every_reason_code_has_a_named_constructor() -> None:
    # Given every reason code a decision can carry
    # When the constructors above are listed by the code they build
    built = {code for _, code, _ in EXPECTED}
    # Then no code is left to be built inline
    assert built == set(ReasonCode)


def test_every_reason_code_is_documented() -> None:
    # Given the reason-code tables of docs/decisions.md
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(encoding="utf-8"), re.MULTILINE))
    # Then they list every code
    assert {code.value for code in ReasonCode} <= documented


def test_a_decision_records_the_zone_the_timing_rules_used() -> None:
    # Given a customer whose zone comes from their trait
    zone = customer_zone(Profile(customer_id="c", timezone="Europe/Paris"), GlobalPolicy())
    # When a decision is made
    decision = Decision.made(
        Outcome.SUPPRESSED, [Reason.no_email()], customer_id="c", campaign_id="cart", at=AT, zone=zone
    )
    # Then it says when, for whom, why, and in which zone
    assert (decision.decided_at, decision.customer_id, decision.campaign_id) == (AT, "c", "cart")
    assert (decision.reason_codes, decision.timezone, decision.timezone_source) == (
        ["no_email"],
        "Europe/Paris",
        "trait",
    )
    assert decision.message_id is None and decision.send_at is None


@pytest.mark.parametrize(
    "reason", [reason for reason, _, _ in EXPECTED], ids=[c.value for _, c, _ in EXPECTED]
)
def test_a_reason_reads_back_from_its_record_as_the_same_reason(reason: Reason) -> None:
    # Given a reason built by its named constructor (most skip validating values they built themselves)
    # When its decision record is read back
    read = Reason.model_validate_json(reason.model_dump_json())
    # Then it is the same reason, and stays immutable
    assert read == reason
    assert read.model_dump_json() == reason.model_dump_json()
    with pytest.raises(ValueError, match="frozen"):
        setattr(reason, "code", ReasonCode.OPENED)  # noqa: B010 (the assignment itself is the test)
