"""Decisions and outbound messages: what righttime decided for a customer and campaign, and why."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any, Protocol, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from righttime.core.calendar import QuietHours, Window
from righttime.core.campaigns import Kind, ReentryMode
from righttime.core.conditions import Condition
from righttime.core.durations import format_duration
from righttime.core.global_policy import FrequencyCap


class Outcome(StrEnum):
    #: a message is planned for `send_at`
    SCHEDULED = "scheduled"
    #: a planned message was moved later (a higher priority took its slot, quiet hours at fire time, ...)
    DEFERRED = "deferred"
    SENT = "sent"
    #: the customer may not get it (consent, suppression, audience, caps, re-entry)
    SUPPRESSED = "suppressed"
    #: it no longer makes sense (converted, exit event, campaign disabled)
    CANCELLED = "cancelled"
    #: it could not go out before its send-by deadline
    EXPIRED = "expired"
    FAILED = "failed"
    #: SES may have accepted it (the call timed out or the connection dropped); SES's own events will tell
    UNKNOWN = "unknown"
    # What SES's events said about a sent message (the feedback function records these):
    #: the recipient's mail server accepted it
    DELIVERED = "delivered"
    #: it bounced, for good or for now
    BOUNCED = "bounced"
    #: the recipient marked it as spam
    COMPLAINED = "complained"
    #: delivery is taking longer than usual; SES keeps trying
    DELAYED = "delayed"
    #: first opened, first clicked
    OPENED = "opened"
    CLICKED = "clicked"
    #: the customer is in the campaign's (or program's, or the global) holdout group: never sent, counted
    HELD_OUT = "held_out"
    #: an order was credited to the campaign or program step (or taken back by a refund): docs/reporting.md
    ATTRIBUTED = "attributed"
    #: the customer unsubscribed from promotional mail through this message's link (one-click or the page)
    UNSUBSCRIBED = "unsubscribed"
    # Programs and lifecycle stages (docs/programs.md):
    #: the customer entered a program
    ENTERED = "entered"
    #: a program step that sends nothing ran: a wait began or ended, an awaited event came, a branch was taken
    ADVANCED = "advanced"
    #: the customer left a program before its end (an exit event or condition, an exit step, a retired
    #: version)
    EXITED = "exited"
    #: the customer ran a program to its last step
    COMPLETED = "completed"
    # Identity (docs/identity.md):
    #: an anonymous profile was merged into a known one (on both profiles), or one of its waiting messages
    #: moved with it
    MERGED = "merged"
    #: an alias (or an event naming two ids) that did not merge the two profiles, and why
    NOT_MERGED = "not_merged"


class ReasonCode(StrEnum):
    """Every reason a decision can carry; docs/decisions.md explains each."""

    TRIGGERED = "triggered"
    TRIGGER_REPEATED = "trigger_repeated"
    SUPERSEDED = "superseded"
    MIN_DELAY = "min_delay"
    LOCAL_TIME = "local_time"
    QUIET_HOURS = "quiet_hours"
    OUTSIDE_WINDOW = "outside_window"
    FREQUENCY_CAP = "frequency_cap"
    OUTRANKED = "outranked"
    PURCHASE_COOLDOWN = "purchase_cooldown"
    FOLLOW_UP_DELAY = "follow_up_delay"
    RECENTLY_BOUGHT = "recently_bought"
    CROSS_SELL_VARIANT = "cross_sell_variant"
    SEND_BY_PASSED = "send_by_passed"
    REENTRY = "reentry"
    DUPLICATE_KEY = "duplicate_key"
    PENDING_LIMIT = "pending_limit"
    AUDIENCE = "audience"
    EXIT_CONDITION = "exit_condition"
    CONVERTED = "converted"
    EXIT_EVENT = "exit_event"
    NO_EMAIL = "no_email"
    UNSUBSCRIBED = "unsubscribed"
    ADDRESS_SUPPRESSED = "address_suppressed"
    CAMPAIGN_DISABLED = "campaign_disabled"
    DELIVERED_TO_SES = "delivered_to_ses"
    SES_REJECTED = "ses_rejected"
    SES_UNAVAILABLE = "ses_unavailable"
    RENDER_FAILED = "render_failed"
    SES_OUTCOME_UNKNOWN = "ses_outcome_unknown"
    INVOCATION_DEADLINE = "invocation_deadline"
    LEASE_EXPIRED = "lease_expired"
    RELEASE_SPREAD = "release_spread"
    SEND_TIME_OPTIMISED = "send_time_optimised"
    SCHEDULE_MISSING = "schedule_missing"
    CONVERTED_DURING_SEND = "converted_during_send"

    HOLDOUT = "holdout"
    TOPIC_OPTED_OUT = "topic_opted_out"
    ONE_CLICK = "one_click"
    # The catalog (docs/content.md):
    OUT_OF_STOCK = "out_of_stock"
    OUT_OF_STOCK_REMOVED = "out_of_stock_removed"
    RECOMMENDED = "recommended"
    ORDER_CREDITED = "order_credited"
    CREDIT_REFUNDED = "credit_refunded"
    # programs and lifecycle stages
    PROGRAM_TRIGGERED = "program_triggered"
    PROGRAM_STEP = "program_step"
    IN_PROGRAM = "in_program"
    WAIT = "wait"
    WAIT_FOR = "wait_for"
    EVENT_ARRIVED = "event_arrived"
    TIMED_OUT = "timed_out"
    BRANCH = "branch"
    EXIT_STEP = "exit_step"
    PROGRAM_END = "program_end"
    VERSION_RETIRED = "version_retired"
    NO_DATE = "no_date"

    # SES's events (the feedback function)
    ACCEPTED_BY_SES = "accepted_by_ses"
    SES_DELIVERED = "ses_delivered"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    SES_REJECT_EVENT = "ses_reject_event"
    SES_RENDERING_FAILURE = "ses_rendering_failure"
    DELIVERY_DELAY = "delivery_delay"
    OPENED = "opened"
    CLICKED = "clicked"

    # Identity (docs/identity.md)
    MERGED = "merged"
    MOVED_ON_MERGE = "moved_on_merge"
    MERGED_DUPLICATE = "merged_duplicate"
    BOTH_KNOWN = "both_known"
    MERGED_ELSEWHERE = "merged_elsewhere"


_Model = TypeVar("_Model", bound=BaseModel)


def _unvalidated(model: type[_Model], fields: dict[str, Any], given: set[str]) -> _Model:
    """The `model` that validating `fields` would make (every field, in the order the model declares them,
    each of its type already; `given` the ones the caller set), without validating them: what pydantic's
    `model_construct` does, at a fraction of the cost of validating rather than a little more."""
    made = object.__new__(model)
    object.__setattr__(made, "__dict__", fields)
    object.__setattr__(made, "__pydantic_fields_set__", given)
    object.__setattr__(made, "__pydantic_extra__", None)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


#: the text of instants that reasons name, by instant, zone and fold: the same instant reads differently in
#: another zone, and on the other side of a clock change
_ISO_TEXTS: dict[tuple[datetime, object, int], str] = {}
_ISO_TEXTS_KEPT = 4096


def _iso(at: datetime) -> str:
    """`at.isoformat()`, remembered: planning one event names the same few instants (the send-by deadline,
    the window's next opening) in the reasons of campaign after campaign."""
    key = (at, at.tzinfo, at.fold)
    text = _ISO_TEXTS.get(key)
    if text is None:
        if len(_ISO_TEXTS) >= _ISO_TEXTS_KEPT:
            _ISO_TEXTS.clear()
        text = _ISO_TEXTS[key] = at.isoformat()
    return text


class Reason(BaseModel):
    """One reason a decision carries: a code and the values that led to it.

    Build reasons with the named constructors below, one (or one per variant) for each code: each fixes the
    `detail` keys docs/decisions.md documents, so a reason reads the same wherever it is made.
    """

    model_config = ConfigDict(frozen=True)

    code: ReasonCode
    detail: dict[str, JsonValue] = Field(default_factory=dict)

    @classmethod
    def _unchecked(cls, *, code: ReasonCode, detail: dict[str, JsonValue] | None = None) -> Reason:
        """The reason `cls(code=code, detail=detail)` validates, field for field, without validating it.

        For the named constructors whose `detail` is a new dict of strings, numbers, booleans, None and new
        lists, which is valid by construction: validating it again (a call back into Python for every JSON
        value) cost more than the rest of making it, and planning one event at 500 campaigns makes about 150
        reasons. A constructor that puts a caller's value in `detail` (a condition) validates instead.
        """
        if detail is None:
            return _unvalidated(cls, {"code": code, "detail": {}}, {"code"})
        return _unvalidated(cls, {"code": code, "detail": detail}, {"code", "detail"})

    # --- triggers ---------------------------------------------------------------------------------------

    @classmethod
    def triggered(cls, event: str, delay: timedelta) -> Reason:
        """`event` matched the campaign's trigger and a new message is planned `delay` after it."""
        return cls._unchecked(
            code=ReasonCode.TRIGGERED, detail={"event": event, "delay": format_duration(delay)}
        )

    @classmethod
    def trigger_repeated(cls, event: str, previous_send_at: datetime) -> Reason:
        """`event` triggered again while the campaign's message waited for `previous_send_at`: it moves."""
        return cls._unchecked(
            code=ReasonCode.TRIGGER_REPEATED,
            detail={"event": event, "previous_send_at": _iso(previous_send_at)},
        )

    @classmethod
    def superseded(cls, key: str | None, previous: str | None, by: str | None) -> Reason:
        """A trigger with `dedupe_key` (`key`) value `by` replaced the waiting message about `previous`."""
        return cls._unchecked(code=ReasonCode.SUPERSEDED, detail={"key": key, "previous": previous, "by": by})

    # --- timing -----------------------------------------------------------------------------------------

    @classmethod
    def min_delay(cls, event: str, minimum: timedelta) -> Reason:
        """The global minimum delay after `event` is longer than the campaign's own delay."""
        return cls._unchecked(
            code=ReasonCode.MIN_DELAY, detail={"event": event, "min_delay": format_duration(minimum)}
        )

    @classmethod
    def local_time(cls, wall: time, zone_name: str) -> Reason:
        """The campaign's `at_local_time` moved the message to `wall` on the customer's clock."""
        return cls._unchecked(
            code=ReasonCode.LOCAL_TIME, detail={"time": wall.strftime("%H:%M"), "timezone": zone_name}
        )

    @classmethod
    def purchase_cooldown(cls, order_at: datetime, until: datetime) -> Reason:
        """The customer ordered at `order_at`: no promotion before `until`."""
        return cls._unchecked(
            code=ReasonCode.PURCHASE_COOLDOWN,
            detail={"order_at": _iso(order_at), "until": _iso(until)},
        )

    @classmethod
    def follow_up_delay(cls, order_at: datetime, until: datetime) -> Reason:
        """A post-purchase follow-up waits until `until` after the order at `order_at`."""
        return cls._unchecked(
            code=ReasonCode.FOLLOW_UP_DELAY,
            detail={"order_at": _iso(order_at), "until": _iso(until)},
        )

    @classmethod
    def quiet_hours(cls, quiet: QuietHours, zone_name: str, local_time: datetime, until: datetime) -> Reason:
        """The planned `local_time` falls in the policy's quiet hours; the message waits until `until`."""
        return cls._unchecked(
            code=ReasonCode.QUIET_HOURS,
            detail={
                "quiet_hours": quiet.describe(),
                "timezone": zone_name,
                "local_time": _iso(local_time),
                "until": _iso(until),
            },
        )

    @classmethod
    def outside_window(cls, window: Window, zone_name: str, local_time: datetime, until: datetime) -> Reason:
        """The planned `local_time` is outside the campaign's window; the message waits until `until`."""
        return cls._unchecked(
            code=ReasonCode.OUTSIDE_WINDOW,
            detail={
                "window": window.describe(),
                "timezone": zone_name,
                "local_time": _iso(local_time),
                "until": _iso(until),
            },
        )

    @classmethod
    def outside_window_dropped(cls, window: Window, zone_name: str, local_time: datetime) -> Reason:
        """The planned `local_time` is outside the window, and the campaign drops such messages."""
        return cls._unchecked(
            code=ReasonCode.OUTSIDE_WINDOW,
            detail={
                "window": window.describe(),
                "timezone": zone_name,
                "local_time": _iso(local_time),
                "action": "drop",
            },
        )

    @classmethod
    def window_never_open(
        cls, window: Window | None, zone_name: str, at_local_time: time | None = None
    ) -> Reason:
        """No instant (or no occurrence of `at_local_time`) is ever inside the window and outside quiet
        hours: the message can never go."""
        detail: dict[str, JsonValue] = {
            "window": window.describe() if window else None,
            "timezone": zone_name,
            "never_open": True,
        }
        if at_local_time is not None:
            detail["at_local_time"] = at_local_time.strftime("%H:%M")
        return cls._unchecked(code=ReasonCode.OUTSIDE_WINDOW, detail=detail)

    @classmethod
    def release_spread(cls, spread: timedelta, offset: timedelta) -> Reason:
        """The message waited for the window to open (or quiet hours to end), with every other one of that
        moment: it goes `offset` after the opening, its own place within the policy's `spread`."""
        return cls._unchecked(
            code=ReasonCode.RELEASE_SPREAD,
            detail={"spread": format_duration(spread), "offset_seconds": int(offset.total_seconds())},
        )

    @classmethod
    def send_time_optimised(
        cls,
        hour: int,
        evidence: int,
        fallback: str,
        zone_name: str,
        max_delay: timedelta,
        until: datetime,
    ) -> Reason:
        """`send_time: optimal` put the message at `until`, in local `hour`, the most engaged hour within
        `max_delay` that the window and quiet hours allow, read from `evidence` opens and clicks: the
        customer's own, or (`fallback`) the population's; `none`: too few of either, the time is unchanged."""
        return cls._unchecked(
            code=ReasonCode.SEND_TIME_OPTIMISED,
            detail={
                "hour": hour,
                "evidence": evidence,
                "fallback": fallback,
                "timezone": zone_name,
                "max_delay": format_duration(max_delay),
                "until": _iso(until),
            },
        )

    @classmethod
    def frequency_cap(cls, cap: FrequencyCap, zone_name: str, until: datetime) -> Reason:
        """`cap` is full at the planned time; the next free slot is at `until`."""
        return cls._unchecked(
            code=ReasonCode.FREQUENCY_CAP,
            detail={"cap": cap.describe(), "timezone": zone_name, "until": _iso(until)},
        )

    @classmethod
    def no_free_slot(cls, horizon: timedelta) -> Reason:
        """No slot is free under the caps within `horizon`."""
        return cls._unchecked(code=ReasonCode.FREQUENCY_CAP, detail={"horizon": format_duration(horizon)})

    @classmethod
    def outranked(cls, by: Sequence[str], wanted: datetime | None) -> Reason:
        """Higher-priority campaigns `by` took the slots; alone, the message would have had `wanted`."""
        campaigns: list[JsonValue] = [*sorted(set(by))]
        return cls._unchecked(
            code=ReasonCode.OUTRANKED,
            detail={"by": campaigns, "wanted": _iso(wanted) if wanted else None},
        )

    # --- refusals ---------------------------------------------------------------------------------------

    @classmethod
    def send_by_passed(cls, send_by: datetime, earliest: datetime) -> Reason:
        """When planning: the earliest allowed instant is after the `send_by` deadline."""
        return cls._unchecked(
            code=ReasonCode.SEND_BY_PASSED,
            detail={"send_by": _iso(send_by), "earliest": _iso(earliest)},
        )

    @classmethod
    def send_by_passed_when_fired(cls, send_by: datetime, at: datetime) -> Reason:
        """At send time: the schedule fired at `at`, after the `send_by` deadline."""
        return cls._unchecked(
            code=ReasonCode.SEND_BY_PASSED, detail={"send_by": _iso(send_by), "at": _iso(at)}
        )

    @classmethod
    def reentry(cls, mode: ReentryMode, last_sent_at: datetime) -> Reason:
        """The campaign's re-entry rule forbids another message since the one sent at `last_sent_at`."""
        return cls._unchecked(
            code=ReasonCode.REENTRY, detail={"mode": mode.value, "last_sent_at": _iso(last_sent_at)}
        )

    @classmethod
    def duplicate_key(cls, key: str | None, value: str) -> Reason:
        """A message with `dedupe_key` (`key`) value `value` was already sent for this campaign."""
        return cls._unchecked(code=ReasonCode.DUPLICATE_KEY, detail={"key": key, "value": value})

    @classmethod
    def pending_limit(cls, limit: int) -> Reason:
        """`limit` messages of this transactional campaign already wait for the customer: a bound that keeps
        the profile small, which no genuine customer reaches."""
        return cls._unchecked(code=ReasonCode.PENDING_LIMIT, detail={"limit": limit})

    @classmethod
    def audience(cls, condition: Condition) -> Reason:
        """The audience `condition` fails for this customer."""
        return cls(code=ReasonCode.AUDIENCE, detail={"condition": condition.describe()})

    @classmethod
    def recently_bought(cls, category: str, bought_at: datetime) -> Reason:
        """The customer bought `category` recently, and the campaign has no cross-sell variant."""
        return cls._unchecked(
            code=ReasonCode.RECENTLY_BOUGHT, detail={"category": category, "bought_at": _iso(bought_at)}
        )

    @classmethod
    def cross_sell_variant(cls, category: str, bought_at: datetime, template: str) -> Reason:
        """The customer bought `category` recently: the cross-sell `template` goes instead."""
        return cls._unchecked(
            code=ReasonCode.CROSS_SELL_VARIANT,
            detail={"category": category, "bought_at": _iso(bought_at), "template": template},
        )

    @classmethod
    def no_email(cls) -> Reason:
        """The profile has no email address."""
        return cls._unchecked(code=ReasonCode.NO_EMAIL)

    @classmethod
    def unsubscribed(cls) -> Reason:
        """The customer unsubscribed, and the campaign is promotional."""
        return cls._unchecked(code=ReasonCode.UNSUBSCRIBED)

    @classmethod
    def address_suppressed(cls, suppression: str) -> Reason:
        """The address is on the suppression list, for `suppression`."""
        return cls(code=ReasonCode.ADDRESS_SUPPRESSED, detail={"suppression": suppression})

    @classmethod
    def converted(cls, order_id: str | None, at: datetime, event: str | None = None) -> Reason:
        """The customer ordered at `at`. `event` is the exit event, when an evaluated event converted them;
        at send time it is None (the profile's last order decides)."""
        detail: dict[str, JsonValue] = {} if event is None else {"event": event}
        return cls._unchecked(
            code=ReasonCode.CONVERTED, detail={**detail, "order_id": order_id, "at": _iso(at)}
        )

    @classmethod
    def exited_by(cls, event: str, at: datetime, order_id: str | None) -> Reason:
        """Why an exit event ends a message or a run: `converted` for an order (`order_id`), `exit_event` for
        anything else."""
        if event == "Order Completed":
            return cls.converted(order_id, at, event=event)
        return cls.exit_event(event, at)

    @classmethod
    def exit_event(cls, event: str, at: datetime) -> Reason:
        """`event`, one of the campaign's exit events, happened at `at`."""
        return cls._unchecked(code=ReasonCode.EXIT_EVENT, detail={"event": event, "at": _iso(at)})

    @classmethod
    def exit_condition(cls, condition: Condition) -> Reason:
        """At send time, the exit `condition` holds."""
        return cls(code=ReasonCode.EXIT_CONDITION, detail={"condition": condition.describe()})

    @classmethod
    def campaign_disabled(cls, campaign_id: str) -> Reason:
        """At send time, the campaign is disabled or gone."""
        return cls(code=ReasonCode.CAMPAIGN_DISABLED, detail={"campaign": campaign_id})

    # --- delivery ---------------------------------------------------------------------------------------

    @classmethod
    def delivered_to_ses(cls, ses_message_id: str) -> Reason:
        """SES accepted the message as `ses_message_id`."""
        return cls(code=ReasonCode.DELIVERED_TO_SES, detail={"ses_message_id": ses_message_id})

    @classmethod
    def ses_rejected(cls, error: str) -> Reason:
        """SES refused the message for good."""
        return cls(code=ReasonCode.SES_REJECTED, detail={"error": error})

    @classmethod
    def ses_unavailable(cls, error: str, attempts: int, retry_at: datetime) -> Reason:
        """SES could not take the message after `attempts` tries; it is tried again at `retry_at`."""
        return cls(
            code=ReasonCode.SES_UNAVAILABLE,
            detail={"error": error, "attempts": attempts, "retry_at": retry_at.isoformat()},
        )

    @classmethod
    def ses_gave_up(cls, error: str, attempts: int) -> Reason:
        """SES could not take the message after `attempts` tries, the last allowed: it fails."""
        return cls(
            code=ReasonCode.SES_UNAVAILABLE, detail={"error": error, "attempts": attempts, "gave_up": True}
        )

    @classmethod
    def render_failed(cls, error: str, error_type: str = "RenderError") -> Reason:
        """The template could not be rendered: a template error, or any error raised while rendering
        (`error_type` names its class); a retry would fail the same way."""
        return cls(code=ReasonCode.RENDER_FAILED, detail={"error": error, "error_type": error_type})

    @classmethod
    def ses_outcome_unknown(cls, error: str) -> Reason:
        """The call to SES ended without an answer (a timeout, a dropped connection, a server error): SES
        may have accepted the message, so it is not sent again until SES's events or the sweeper settle it."""
        return cls(code=ReasonCode.SES_OUTCOME_UNKNOWN, detail={"error": error})

    @classmethod
    def converted_during_send(cls, order_id: str | None, at: datetime) -> Reason:
        """The customer ordered at `at`, after the message was claimed for sending and before its send was
        recorded: too late to stop it, so the record says so."""
        return cls(code=ReasonCode.CONVERTED_DURING_SEND, detail={"order_id": order_id, "at": at.isoformat()})

    @classmethod
    def invocation_deadline(cls, seconds_left: float, retry_at: datetime) -> Reason:
        """Too little of the sender's invocation was left to call SES and record the outcome: it tries again
        at `retry_at` rather than risk a send it could not record."""
        return cls(
            code=ReasonCode.INVOCATION_DEADLINE,
            detail={"seconds_left": round(seconds_left, 1), "retry_at": retry_at.isoformat()},
        )

    # --- recovery (the sweeper) -------------------------------------------------------------------------

    @classmethod
    def lease_expired(
        cls, attempt_id: str | None, lease_until: datetime, ses_called_at: datetime | None
    ) -> Reason:
        """The sending attempt `attempt_id` held the message until `lease_until` and never settled it. If it
        never called SES the message goes again; if it did (`ses_called_at`), the outcome is unknown."""
        return cls(
            code=ReasonCode.LEASE_EXPIRED,
            detail={
                "attempt_id": attempt_id,
                "lease_until": lease_until.isoformat(),
                "ses_called": ses_called_at is not None,
                "ses_called_at": ses_called_at.isoformat() if ses_called_at else None,
            },
        )

    @classmethod
    def schedule_missing(cls, send_at: datetime, grace: timedelta) -> Reason:
        """The message was due at `send_at` and no schedule fired within `grace`: it gets a new one."""
        return cls(
            code=ReasonCode.SCHEDULE_MISSING,
            detail={"send_at": send_at.isoformat(), "grace": format_duration(grace)},
        )

    @classmethod
    def ses_outcome_unresolved_resend(
        cls, unknown_since: datetime, waited: timedelta, resends: int
    ) -> Reason:
        """No SES event said what became of the attempt whose outcome was unknown since `unknown_since`
        within `waited`: the message is sent once more (copy number `resends`), with the same Message-ID."""
        return cls(
            code=ReasonCode.SES_OUTCOME_UNKNOWN,
            detail={
                "unknown_since": unknown_since.isoformat(),
                "waited": format_duration(waited),
                "resend": resends,
            },
        )

    @classmethod
    def ses_outcome_unresolved_gave_up(cls, unknown_since: datetime, resends: int) -> Reason:
        """The resent copy's outcome is unknown too, since `unknown_since`: the message fails rather than go a
        third time."""
        return cls(
            code=ReasonCode.SES_OUTCOME_UNKNOWN,
            detail={"unknown_since": unknown_since.isoformat(), "resends": resends, "gave_up": True},
        )

    @classmethod
    def topic_opted_out(cls, topic: str) -> Reason:
        """The customer opted out of the message's topic (on the preference page)."""
        return cls._unchecked(code=ReasonCode.TOPIC_OPTED_OUT, detail={"topic": topic})

    @classmethod
    def holdout(cls, group: str, percent: Decimal) -> Reason:
        """The customer is in `group`'s holdout of `percent` (the campaign's or program's id, or `global`)."""
        return cls._unchecked(
            code=ReasonCode.HOLDOUT, detail={"group": group, "percent": f"{percent.normalize():f}%"}
        )

    @classmethod
    def order_credited(
        cls,
        order_id: str,
        revenue: Decimal,
        currency: str | None,
        touch: str,
        touched_at: datetime,
        message_id: str | None,
    ) -> Reason:
        """The order `order_id` is credited to the campaign: its last touch (`touch`: sent, clicked or
        held_out, at `touched_at`) was within the attribution window."""
        return cls._unchecked(
            code=ReasonCode.ORDER_CREDITED,
            detail={
                "order_id": order_id,
                "revenue": str(revenue),
                "currency": currency,
                "touch": touch,
                "touched_at": _iso(touched_at),
                "message_id": message_id,
                "held_out": touch == "held_out",
            },
        )

    @classmethod
    def credit_refunded(cls, order_id: str, revenue: Decimal, currency: str | None, held_out: bool) -> Reason:
        """The order credited to the campaign was refunded: `revenue` (negative) takes the credit back."""
        return cls._unchecked(
            code=ReasonCode.CREDIT_REFUNDED,
            detail={
                "order_id": order_id,
                "revenue": str(revenue),
                "currency": currency,
                "held_out": held_out,
            },
        )

    # --- programs and lifecycle stages (docs/programs.md) ------------------------------------------------

    @classmethod
    def program_triggered(
        cls, program: str, version: int, trigger: str, detail: dict[str, JsonValue]
    ) -> Reason:
        """The program's trigger (`trigger`: event, trait, stage, date, threshold or inactivity) fired, with
        what fired it."""
        return cls(
            code=ReasonCode.PROGRAM_TRIGGERED,
            detail={"program": program, "version": version, "trigger": trigger, **detail},
        )

    @classmethod
    def program_step(cls, program: str, version: int, step: str, run_id: str) -> Reason:
        """The message is the send step `step` of the program's run `run_id`."""
        return cls._unchecked(
            code=ReasonCode.PROGRAM_STEP,
            detail={"program": program, "version": version, "step": step, "run": run_id},
        )

    @classmethod
    def in_program(cls, program: str, step: str, since: datetime) -> Reason:
        """The customer is in the program already (at `step`, since `since`): one run at a time."""
        return cls._unchecked(
            code=ReasonCode.IN_PROGRAM, detail={"program": program, "step": step, "since": _iso(since)}
        )

    @classmethod
    def wait(cls, step: str, until: datetime, rule: str) -> Reason:
        """The wait step `step` holds the customer until `until` (`rule` says how it was worked out)."""
        return cls._unchecked(code=ReasonCode.WAIT, detail={"step": step, "until": _iso(until), "rule": rule})

    @classmethod
    def wait_for(cls, step: str, events: list[str], until: datetime) -> Reason:
        """The step `step` waits for one of `events` until `until`, then times out."""
        return cls._unchecked(
            code=ReasonCode.WAIT_FOR, detail={"step": step, "events": list(events), "until": _iso(until)}
        )

    @classmethod
    def event_arrived(cls, step: str, event: str, at: datetime, goto: str | None) -> Reason:
        """`event`, awaited by `step`, came at `at`: the run goes to `goto` (None: it ends)."""
        return cls._unchecked(
            code=ReasonCode.EVENT_ARRIVED, detail={"step": step, "event": event, "at": _iso(at), "goto": goto}
        )

    @classmethod
    def timed_out(cls, step: str, at: datetime, goto: str | None) -> Reason:
        """What `step` waited for did not come by `at`: the run goes to `goto` (None: it ends)."""
        return cls._unchecked(code=ReasonCode.TIMED_OUT, detail={"step": step, "at": _iso(at), "goto": goto})

    @classmethod
    def branch(cls, step: str, case: int | None, goto: str | None) -> Reason:
        """The branch `step` took its case number `case` (1-based; None: none held, `otherwise`)."""
        return cls._unchecked(code=ReasonCode.BRANCH, detail={"step": step, "case": case, "goto": goto})

    @classmethod
    def exit_step(cls, step: str) -> Reason:
        """The run reached the exit step `step`."""
        return cls._unchecked(code=ReasonCode.EXIT_STEP, detail={"step": step})

    @classmethod
    def program_end(cls, step: str) -> Reason:
        """The run finished after its last step, `step`."""
        return cls._unchecked(code=ReasonCode.PROGRAM_END, detail={"step": step})

    @classmethod
    def version_retired(cls, program: str, version: int) -> Reason:
        """The version the customer started is no longer deployed, or its current step no longer exists in
        it."""
        return cls._unchecked(
            code=ReasonCode.VERSION_RETIRED, detail={"program": program, "version": version}
        )

    @classmethod
    def no_date(cls, step: str, date: str) -> Reason:
        """The step waits until a date the customer does not have (`date`: a trait, birthday, first_order)."""
        return cls._unchecked(code=ReasonCode.NO_DATE, detail={"step": step, "date": date})

    # --- SES's events (feedback) -----------------------------------------------------------------------

    @classmethod
    def accepted_by_ses(cls, ses_message_id: str, event: str, previous_status: str) -> Reason:
        """SES's `event` proves it accepted the message, which was `previous_status` (its outcome unknown, or
        its sending attempt gone): it is settled as sent, and never sent again."""
        return cls(
            code=ReasonCode.ACCEPTED_BY_SES,
            detail={"ses_message_id": ses_message_id, "event": event, "previous_status": previous_status},
        )

    @classmethod
    def ses_delivered(cls, ses_message_id: str) -> Reason:
        """The recipient's mail server accepted the message SES sent as `ses_message_id`."""
        return cls(code=ReasonCode.SES_DELIVERED, detail={"ses_message_id": ses_message_id})

    @classmethod
    def hard_bounce(cls, sub_type: str, status: str | None, suppression: str) -> Reason:
        """The address bounced for good (`sub_type` as SES names it, `status` the SMTP status code): it is on
        the suppression list as `suppression`."""
        return cls(
            code=ReasonCode.HARD_BOUNCE,
            detail={"sub_type": sub_type, "status": status, "suppression": suppression},
        )

    @classmethod
    def soft_bounce(
        cls, sub_type: str, status: str | None, in_a_row: int, threshold: int, suppression: str | None
    ) -> Reason:
        """SES gave up on the message for now; it is the address's `in_a_row`th transient bounce since its
        last delivery, and `threshold` in a row suppress it (`suppression`, or null while under it)."""
        return cls(
            code=ReasonCode.SOFT_BOUNCE,
            detail={
                "sub_type": sub_type,
                "status": status,
                "in_a_row": in_a_row,
                "threshold": threshold,
                "suppression": suppression,
            },
        )

    @classmethod
    def complaint(cls, feedback_type: str | None, suppression: str) -> Reason:
        """The recipient marked the message as spam: the address is suppressed as `suppression` and the
        customer unsubscribed from promotional mail."""
        return cls(
            code=ReasonCode.COMPLAINT,
            detail={"feedback_type": feedback_type, "suppression": suppression, "unsubscribed": True},
        )

    @classmethod
    def ses_reject_event(cls, reason: str) -> Reason:
        """SES accepted the message, then refused to deliver it (it found a virus)."""
        return cls(code=ReasonCode.SES_REJECT_EVENT, detail={"reason": reason})

    @classmethod
    def ses_rendering_failure(cls, error: str) -> Reason:
        """SES could not render the message's SES template."""
        return cls(code=ReasonCode.SES_RENDERING_FAILURE, detail={"error": error})

    @classmethod
    def delivery_delay(cls, delay_type: str, expires_at: datetime | None) -> Reason:
        """The recipient's server has not taken the message yet (`delay_type` as SES names it); SES tries
        until `expires_at`."""
        return cls(
            code=ReasonCode.DELIVERY_DELAY,
            detail={"delay_type": delay_type, "expires_at": expires_at.isoformat() if expires_at else None},
        )

    @classmethod
    def opened(cls) -> Reason:
        """The recipient opened the message (SES's open pixel loaded) for the first time."""
        return cls(code=ReasonCode.OPENED)

    @classmethod
    def clicked(cls, link: str | None) -> Reason:
        """The recipient clicked a link in the message for the first time (`link` without its query)."""
        return cls(code=ReasonCode.CLICKED, detail={"link": link})

    @classmethod
    def one_click(cls) -> Reason:
        """The customer unsubscribed from all promotional mail with the message's signed link: the RFC 8058
        POST a mail client makes, or the preference page's "unsubscribe from everything"."""
        return cls._unchecked(code=ReasonCode.ONE_CLICK)

    @classmethod
    def out_of_stock(cls, product_ids: Sequence[str]) -> Reason:
        """Every product the message would show is out of stock, as the catalog stands when it is sent."""
        return cls._unchecked(code=ReasonCode.OUT_OF_STOCK, detail={"product_ids": list(product_ids)})

    @classmethod
    def out_of_stock_removed(cls, product_ids: Sequence[str]) -> Reason:
        """The message is sent without these products: they ran out since it was planned."""
        return cls._unchecked(code=ReasonCode.OUT_OF_STOCK_REMOVED, detail={"product_ids": list(product_ids)})

    @classmethod
    def recommended(cls, source: str, count: int) -> Reason:
        """The template showed `count` recommendations from `source`: `co_purchase` (what others bought with
        the items), `category` (categories bought together), `fallback` (the campaign's hand-written map) or
        `none` (nothing to suggest)."""
        return cls._unchecked(code=ReasonCode.RECOMMENDED, detail={"source": source, "count": count})

    @classmethod
    def merged(
        cls,
        anonymous_id: str,
        known_id: str,
        *,
        cart_lines: int,
        moved: int,
        cancelled: int,
        replayed: int,
        consent_changed: bool,
    ) -> Reason:
        """The anonymous profile `anonymous_id` was merged into `known_id`'s: how many cart lines came, how
        many waiting messages moved or were cancelled as duplicates, how many triggers it could not act on
        were planned again, and whether the stricter consent changed the known profile's."""
        detail: dict[str, JsonValue] = {
            "anonymous_id": anonymous_id,
            "into": known_id,
            "cart_lines": cart_lines,
            "moved": moved,
            "cancelled": cancelled,
            "replayed": replayed,
            "consent_changed": consent_changed,
        }
        return cls._unchecked(code=ReasonCode.MERGED, detail=detail)

    @classmethod
    def moved_on_merge(cls, from_customer: str, into: str, message_id: str) -> Reason:
        """A waiting message moved from the anonymous profile `from_customer` to the known one `into`, as the
        message `message_id` (a new id: its own schedule), at the same time."""
        detail: dict[str, JsonValue] = {
            "from_customer": from_customer,
            "into": into,
            "message_id": message_id,
        }
        return cls._unchecked(code=ReasonCode.MOVED_ON_MERGE, detail=detail)

    @classmethod
    def merged_duplicate(cls, into: str, message_id: str) -> Reason:
        """The anonymous profile's waiting message was cancelled: the known profile `into` already waits for
        `message_id` of the same campaign (empty: a step of a program it is in itself), and one reminder is
        all the customer gets."""
        return cls._unchecked(
            code=ReasonCode.MERGED_DUPLICATE, detail={"into": into, "message_id": message_id}
        )

    @classmethod
    def both_known(cls, other_id: str) -> Reason:
        """`other_id` has been addressed by a userId too: two known people are never merged automatically."""
        return cls._unchecked(code=ReasonCode.BOTH_KNOWN, detail={"other_id": other_id})

    @classmethod
    def merged_elsewhere(cls, other_id: str, merged_into: str) -> Reason:
        """`other_id` was merged into `merged_into`'s profile already (one device, two accounts)."""
        detail: dict[str, JsonValue] = {"other_id": other_id, "merged_into": merged_into}
        return cls._unchecked(code=ReasonCode.MERGED_ELSEWHERE, detail=detail)


class DecidingZone(Protocol):
    """The customer's zone as a decision records it (`righttime.core.policy.CustomerZone`)."""

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str: ...


class Decision(BaseModel):
    """One explained outcome for one customer and one campaign at one instant."""

    customer_id: str
    campaign_id: str
    outcome: Outcome
    decided_at: AwareDatetime
    reasons: list[Reason]
    message_id: str | None = None
    send_at: AwareDatetime | None = None
    trigger_event: str | None = None
    trigger_message_id: str | None = None
    #: the customer's zone the timing rules used, and where it came from (trait, context, default)
    timezone: str | None = None
    timezone_source: str | None = None

    @property
    def reason_codes(self) -> list[str]:
        return [reason.code.value for reason in self.reasons]

    @classmethod
    def made(
        cls,
        outcome: Outcome,
        reasons: Sequence[Reason],
        *,
        customer_id: str,
        campaign_id: str,
        at: datetime,
        zone: DecidingZone | None,
        message_id: str | None = None,
        send_at: datetime | None = None,
        trigger_event: str | None = None,
        trigger_message_id: str | None = None,
    ) -> Decision:
        """The one way to record a decision, when an event is planned and when a schedule fires: `outcome`
        for `campaign_id`, decided `at`, with the zone the timing rules used."""
        return cls(
            customer_id=customer_id,
            campaign_id=campaign_id,
            outcome=outcome,
            decided_at=at,
            reasons=list(reasons),
            message_id=message_id,
            send_at=send_at,
            trigger_event=trigger_event,
            trigger_message_id=trigger_message_id,
            timezone=zone.name if zone else None,
            timezone_source=zone.source if zone else None,
        )

    @classmethod
    def about(
        cls,
        message: OutboundMessage,
        outcome: Outcome,
        reasons: Sequence[Reason],
        *,
        at: datetime,
        zone: DecidingZone | None = None,
        send_at: datetime | None = None,
    ) -> Decision:
        """A decision about a message that exists (at send time, by the sweeper, from SES's events): its
        campaign, trigger and send time come from the message."""
        return cls.made(
            outcome,
            reasons,
            customer_id=message.customer_id,
            campaign_id=message.campaign_id,
            at=at,
            zone=zone,
            message_id=message.message_id,
            send_at=send_at or message.send_at,
            trigger_event=message.trigger_event,
            trigger_message_id=message.trigger_message_id,
        )


class MessageStatus(StrEnum):
    PENDING = "pending"
    #: claimed by a sender invocation: SES is being (or was) called
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"
    EXPIRED = "expired"
    FAILED = "failed"
    #: an attempt called SES and cannot tell whether SES took it: settled from SES's events
    UNKNOWN = "unknown"


#: the statuses a message never leaves
FINAL_STATUSES = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.CANCELLED,
        MessageStatus.SUPPRESSED,
        MessageStatus.EXPIRED,
        MessageStatus.FAILED,
    }
)


def status_for(outcome: Outcome) -> MessageStatus:
    """The final message status an outcome settles it in."""
    return MessageStatus(outcome.value)


class OutboundMessage(BaseModel):
    """A message righttime intends to send; the sender finds it by customer and message id."""

    message_id: str
    customer_id: str
    campaign_id: str
    kind: Kind
    template: str
    status: MessageStatus = MessageStatus.PENDING
    send_at: AwareDatetime
    created_at: AwareDatetime
    updated_at: AwareDatetime
    trigger_event: str
    trigger_message_id: str
    trigger_at: AwareDatetime
    to: str | None = None
    ses_message_id: str | None = None
    reasons: list[Reason] = Field(default_factory=list)
    priority: int = 0
    desired_at: AwareDatetime | None = None
    send_by: AwareDatetime | None = None
    dedupe_key: str | None = None
    category: str | None = None
    #: tries to hand the message to SES that failed with a temporary error
    attempts: int = 0
    #: the trigger event's properties, for templates (an order confirmation lists the order's products)
    trigger_properties: dict[str, JsonValue] = Field(default_factory=dict)
    #: the customer's zone when it was planned: the local hour its opens and clicks count in
    timezone: str | None = None
    #: bumped whenever send_at moves: each generation has its own schedule, so a schedule that is firing
    #: while the message moves can never delete or overwrite the new one
    generation: int = 0
    #: the sending attempt that holds (or last held) the message, and until when its claim holds
    attempt_id: str | None = None
    lease_until: AwareDatetime | None = None
    #: set just before the attempt called SES: a lease that expires after this may have sent the message
    ses_called_at: AwareDatetime | None = None
    #: when an attempt's outcome became unknown (status `unknown`)
    unknown_since: AwareDatetime | None = None
    #: when SES's events first said so (the feedback function); each is written once
    delivered_at: AwareDatetime | None = None
    bounced_at: AwareDatetime | None = None
    complained_at: AwareDatetime | None = None
    rejected_at: AwareDatetime | None = None
    rendering_failed_at: AwareDatetime | None = None
    delayed_at: AwareDatetime | None = None
    opened_at: AwareDatetime | None = None
    clicked_at: AwareDatetime | None = None
    #: when the customer unsubscribed with this message's signed link (written once, by the read API)
    unsubscribed_at: AwareDatetime | None = None
    #: copies sent by the sweeper after an outcome stayed unknown (at most one)
    resends: int = 0
    #: while the message is in flight: when the sweeper should look at it (the in-flight index's sort key;
    #: stores set and clear it, never a model dump)
    inflight_at: AwareDatetime | None = None

    @classmethod
    def planned(
        cls,
        *,
        message_id: str,
        customer_id: str,
        campaign_id: str,
        kind: Kind,
        template: str,
        send_at: datetime,
        created_at: datetime,
        updated_at: datetime,
        trigger_event: str,
        trigger_message_id: str,
        trigger_at: datetime,
        to: str | None,
        priority: int,
        desired_at: datetime | None,
        send_by: datetime | None,
        dedupe_key: str | None,
        generation: int,
        category: str | None,
        trigger_properties: dict[str, JsonValue],
        reasons: list[Reason],
        timezone: str | None = None,
    ) -> OutboundMessage:
        """The message `cls(...)` validates with these fields, without validating them: the planner makes
        them from values of these types already (its own aware instants, the campaign's, the trigger
        event's properties, validated when the event was), and validating a message again cost 4 µs of the
        5 it took. `trigger_properties` and `reasons` are kept, not copied: nothing changes them."""
        given = {
            "message_id": message_id,
            "customer_id": customer_id,
            "campaign_id": campaign_id,
            "kind": kind,
            "template": template,
            "send_at": send_at,
            "created_at": created_at,
            "updated_at": updated_at,
            "trigger_event": trigger_event,
            "trigger_message_id": trigger_message_id,
            "trigger_at": trigger_at,
            "to": to,
            "priority": priority,
            "desired_at": desired_at,
            "send_by": send_by,
            "dedupe_key": dedupe_key,
            "generation": generation,
            "category": category,
            "trigger_properties": trigger_properties,
            "reasons": reasons,
        }
        if timezone is not None:
            given["timezone"] = timezone
        fields = dict(_message_defaults())
        fields.update(given)  # in the order the fields are declared, as validating would
        return _unvalidated(cls, fields, set(given))


@cache
def _message_defaults() -> dict[str, Any]:
    """Every field of `OutboundMessage` with its default, in declaration order (a placeholder for those
    `planned` always sets): the others all have plain defaults (None, 0, `pending`), never a new list."""
    return {name: field.get_default() for name, field in OutboundMessage.model_fields.items()}


_NAMESPACE = uuid.UUID("5f0e9d2c-7a43-4c41-9a8e-2b1f6c0de0a1")
_NAMESPACE_BYTES = _NAMESPACE.bytes


def message_id_for(customer_id: str, campaign_id: str, trigger_message_id: str) -> str:
    """A deterministic message id: re-processing the same trigger yields the same message, never a second.

    It is the hex of `uuid.uuid5(_NAMESPACE, "customer\\x1fcampaign\\x1ftrigger")`, which stored messages
    carry; computed on the digest directly (RFC 4122, section 4.3), a third of what building a `UUID` costs.
    """
    name = f"{customer_id}\x1f{campaign_id}\x1f{trigger_message_id}".encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # the RFC 4122 variant
    return digest.hex()
