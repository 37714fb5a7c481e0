"""Programs as a marketer sees them run: who enters, which step's message is planned for when, what waits,
what branches, what ends a run and takes its waiting message with it, through `plan_event` as evaluation
calls it (the profile after the event, and as it was before)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from righttime.core.calendar import QuietHours
from righttime.core.campaigns import Campaign
from righttime.core.decisions import Decision, Outcome, ReasonCode
from righttime.core.events import IdentifyMessage, QueuedEvent, TrackMessage, due_event
from righttime.core.global_policy import FrequencyCap, GlobalPolicy
from righttime.core.policy import plan_event
from righttime.core.policy.plan import Plan
from righttime.core.profiles import MAX_RUN_PROPERTIES_BYTES, Profile, apply_event
from righttime.core.programs import MAX_PROGRAMS, Program

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
#: a Monday, 10:00 UTC
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PLAIN = GlobalPolicy(release_spread=timedelta(0))
QUIET = GlobalPolicy(quiet_hours=QuietHours(start=time(21), end=time(8)), release_spread=timedelta(0))


def program(id_: str = "welcome", **fields: Any) -> Program:
    return Program.model_validate({"id": id_, "name": id_.replace("_", " ").title(), **fields})


def campaign(**fields: Any) -> Campaign:
    return Campaign.model_validate(fields)


class Customer:
    """One customer whose events and due instants go through planning in turn, as evaluation runs them: the
    profile after the event, the stored one as `before`, and the planned profile stored for the next."""

    def __init__(
        self,
        programs: Sequence[Program],
        *,
        policy: GlobalPolicy = PLAIN,
        campaigns: Sequence[Campaign] = (),
        timezone: str | None = None,
        **profile: Any,
    ) -> None:
        self.programs = list(programs)
        self.policy = policy
        self.campaigns = list(campaigns)
        self.profile = Profile(customer_id="cust-1", email="ana@example.com", timezone=timezone, **profile)
        self._sequence = 0

    def _apply(self, event: QueuedEvent, now: datetime) -> Plan:
        stored = self.profile
        plan = plan_event(
            apply_event(stored, event), event, self.campaigns, self.policy, now, self.programs, before=stored
        )
        self.profile = plan.profile
        return plan

    def _id(self) -> str:
        self._sequence += 1
        return f"msg-{self._sequence}"

    def identify(self, at: datetime, **traits: Any) -> Plan:
        message = IdentifyMessage(userId="cust-1", messageId=self._id(), traits=traits)
        return self._apply(QueuedEvent(message=message, received_at=at, occurred_at=at), at)

    def track(self, at: datetime, event: str, *, received: datetime | None = None, **props: Any) -> Plan:
        message = TrackMessage(userId="cust-1", messageId=self._id(), event=event, properties=props)
        now = received or at
        return self._apply(QueuedEvent(message=message, received_at=now, occurred_at=at), now)

    def due(self, late: timedelta = timedelta(0)) -> Plan:
        """The due sweep's event for the profile's `due_at`, processed `late` after it."""
        due_at = self.profile.due_at
        assert due_at is not None, "nothing is due"
        return self._apply(due_event("cust-1", due_at, due_at + late), due_at + late)

    def sent(self, plan: Plan) -> None:
        """The sender sent what `plan` scheduled: it no longer waits."""
        for message in plan.schedule:
            self.profile.pending.pop(message.campaign_id, None)


def decided(plan: Plan, outcome: Outcome, campaign_id: str | None = None) -> list[Decision]:
    return [
        d
        for d in plan.decisions
        if d.outcome is outcome and (campaign_id is None or d.campaign_id == campaign_id)
    ]


def scheduled(plan: Plan) -> dict[str, datetime]:
    """Step (or campaign) id -> when its message is planned."""
    return {d.campaign_id: d.send_at for d in decided(plan, Outcome.SCHEDULED) if d.send_at is not None}


def codes(decision: Decision) -> list[str]:
    return decision.reason_codes


WELCOME = program(
    trigger={"trait": {"trait": "subscribed", "to": True}},
    steps=[
        {"id": "hello", "send": "welcome_hello"},
        {"id": "pause", "wait": "2d"},
        {"id": "tips", "send": "welcome_tips"},
    ],
)


# --- entering, steps, waits ------------------------------------------------------------------------------


def test_a_sign_up_or_an_opt_in_enters_a_program_triggered_by_any_of_them() -> None:
    # Given a welcome program entered by a Signed Up event or by subscribed becoming true
    either = program(
        trigger={"any": [{"event": "Signed Up"}, {"trait": {"trait": "subscribed", "to": True}}]},
        steps=[{"id": "hello", "send": "welcome_hello"}, {"id": "pause", "wait": "2d"}],
    )
    signed_up, opted_in = Customer([either]), Customer([either])
    # When one customer signs up and the other opts in
    first = signed_up.track(T0, "Signed Up")
    second = opted_in.identify(T0, subscribed=True)
    # Then each enters, and the reason names the trigger that fired
    for plan, kind in ((first, "event"), (second, "trait")):
        (entered,) = decided(plan, Outcome.ENTERED, "welcome")
        assert entered.reasons[0].detail["trigger"] == kind
    # And the one who signed up and then opts in is not entered twice
    again = signed_up.identify(T0 + HOUR, subscribed=True)
    (refused,) = decided(again, Outcome.SUPPRESSED, "welcome")
    assert codes(refused) == ["program_triggered", "in_program"]


def test_any_combines_events_traits_and_stages_only() -> None:
    # Given a program that would combine a birthday with an event
    # When it is validated
    with pytest.raises(ValueError, match="date cannot be one of any's triggers"):
        program(
            trigger={"any": [{"event": "Signed Up"}, {"date": {"date": "birthday"}}]},
            steps=[{"id": "hello", "send": "welcome_hello"}],
        )


def test_a_welcome_program_enters_on_opt_in_sends_then_waits_then_sends_again() -> None:
    # Given a welcome program triggered when `subscribed` becomes true
    ana = Customer([WELCOME])
    # When she subscribes
    plan = ana.identify(T0, subscribed=True)
    # Then she enters, and the first step's message is planned now, named after its step
    [entered] = decided(plan, Outcome.ENTERED, "welcome")
    assert entered.reasons[0].code is ReasonCode.PROGRAM_TRIGGERED
    assert entered.reasons[0].detail["trigger"] == "trait"
    [hello] = decided(plan, Outcome.SCHEDULED, "welcome--v1--hello")
    assert hello.send_at == T0
    assert hello.reasons[0].code is ReasonCode.PROGRAM_STEP
    assert hello.reasons[0].detail["step"] == "hello"
    # And the two-day wait is what is due next
    assert ana.profile.due_at == T0 + 2 * DAY
    ana.sent(plan)
    # When the due sweep finds her two days later
    plan = ana.due()
    # Then the next message is planned, and the program is complete
    assert scheduled(plan) == {"welcome--v1--tips": T0 + 2 * DAY}
    assert decided(plan, Outcome.COMPLETED, "welcome")
    assert ana.profile.programs == {}
    assert ana.profile.due_at is None


def test_saying_subscribed_again_does_not_enter_again() -> None:
    # Given a customer who entered the welcome program on subscribing
    ana = Customer([WELCOME])
    ana.identify(T0, subscribed=True)
    # When her app identifies her again with the same trait
    plan = ana.identify(T0 + HOUR, subscribed=True)
    # Then nothing happens: the trait did not change
    assert plan.decisions == []
    assert ana.profile.programs["welcome"].step == "pause"


def test_a_program_entered_once_is_not_entered_again_after_it_completes() -> None:
    # Given a customer who went through the welcome program (re-entry `once`, the default)
    ana = Customer([WELCOME])
    ana.sent(ana.identify(T0, subscribed=True))
    ana.sent(ana.due())
    # When she unsubscribes and subscribes again
    ana.identify(T0 + 3 * DAY, subscribed=False)
    plan = ana.identify(T0 + 4 * DAY, subscribed=True)
    # Then the trigger fires but re-entry refuses her, and no message is planned
    [refused] = decided(plan, Outcome.SUPPRESSED, "welcome")
    assert codes(refused) == ["program_triggered", "reentry"]
    assert plan.schedule == []


# --- the policy applies to every step ----------------------------------------------------------------------


NIGHTLY = program(
    "evening_note",
    trigger={"event": "Signed Up"},
    steps=[
        {"id": "late", "wait": {"until_local_time": "23:00"}},
        {"id": "note", "send": "evening_note"},
    ],
)


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("America/New_York", date(2026, 3, 7)),  # clocks go forward at 02:00 on the 8th
        ("Europe/London", date(2026, 10, 24)),  # clocks go back at 02:00 on the 25th
        ("Asia/Kolkata", date(2026, 3, 2)),
        ("Pacific/Kiritimati", date(2026, 3, 2)),
    ],
)
def test_a_step_due_in_quiet_hours_is_planned_for_when_they_end_on_the_customers_clock(
    zone: str, day: date
) -> None:
    # Given quiet hours from 21:00 to 08:00, and a customer whose clock is in `zone`
    tz = ZoneInfo(zone)
    ana = Customer([NIGHTLY], policy=QUIET, timezone=zone)
    # When she signs up at noon her time, and the program waits until 23:00 her time
    ana.track(datetime.combine(day, time(12), tz), "Signed Up")
    assert ana.profile.due_at == datetime.combine(day, time(23), tz)
    plan = ana.due()
    # Then the step's message is planned for 08:00 the next morning on her clock, whatever the clocks did
    [note] = decided(plan, Outcome.SCHEDULED, "evening_note--v1--note")
    assert note.send_at is not None
    assert note.send_at.astimezone(tz).replace(tzinfo=None) == datetime.combine(day + DAY, time(8))
    assert "quiet_hours" in codes(note)


def test_a_step_in_a_window_waits_for_the_window() -> None:
    # Given a step that may only go on weekdays from 10:00 to 12:00
    weekly = program(
        "weekly",
        trigger={"event": "Signed Up"},
        steps=[
            {
                "id": "digest",
                "send": "digest",
                "timing": {
                    "window": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "10:00", "end": "12:00"}
                },
            }
        ],
    )
    ana = Customer([weekly])
    # When she signs up on a Saturday afternoon
    plan = ana.track(datetime(2026, 3, 7, 15, tzinfo=UTC), "Signed Up")
    # Then the message is planned for Monday 10:00
    assert scheduled(plan) == {"weekly--v1--digest": datetime(2026, 3, 9, 10, tzinfo=UTC)}


CAPPED = GlobalPolicy(frequency_caps=[FrequencyCap(max=1, per="day")], release_spread=timedelta(0))


def promo(priority: int) -> Campaign:
    return campaign(
        id="promo",
        name="Promo",
        priority=priority,
        trigger={"events": ["Product Viewed"]},
        timing={"delay": "4h"},
        template="promo",
    )


def test_a_step_of_a_higher_priority_program_takes_the_days_only_slot_from_a_campaign() -> None:
    # Given one promotional message a day, a campaign message waiting for 14:00, a program of higher priority
    onboarding = program(
        "onboarding", priority=9, trigger={"event": "Signed Up"}, steps=[{"id": "hi", "send": "hi"}]
    )
    ana = Customer([onboarding], policy=CAPPED, campaigns=[promo(priority=5)])
    ana.track(T0, "Product Viewed")
    # When the program's step is due at 11:00
    plan = ana.track(T0 + HOUR, "Signed Up")
    # Then the step goes at 11:00, and the campaign's message moves to the next day, outranked
    assert scheduled(plan) == {"onboarding--v1--hi": T0 + HOUR}
    [moved] = decided(plan, Outcome.DEFERRED, "promo")
    assert moved.send_at is not None and moved.send_at.date() == (T0 + DAY).date()
    assert "outranked" in codes(moved)


def test_a_step_of_a_lower_priority_program_waits_for_the_next_free_slot() -> None:
    # Given the same, with the program below the campaign
    onboarding = program(
        "onboarding", priority=1, trigger={"event": "Signed Up"}, steps=[{"id": "hi", "send": "hi"}]
    )
    ana = Customer([onboarding], policy=CAPPED, campaigns=[promo(priority=5)])
    ana.track(T0, "Product Viewed")
    # When the program's step is due
    plan = ana.track(T0 + HOUR, "Signed Up")
    # Then the step's message waits for the next day, and the campaign keeps its slot
    [hi] = decided(plan, Outcome.SCHEDULED, "onboarding--v1--hi")
    assert hi.send_at is not None and hi.send_at.date() == (T0 + DAY).date()
    assert decided(plan, Outcome.DEFERRED) == []


# --- waiting for an event, branching, exit steps -----------------------------------------------------------


REVIEW = program(
    "review",
    trigger={"event": "Order Shipped"},
    steps=[
        {"id": "ask", "send": "review_ask"},
        {"id": "settle", "wait": "1d"},
        {"id": "listen", "wait_for": {"event": "Review Written", "within": "3d"}, "on_event": "thanks"},
        {"id": "nudge", "send": "review_nudge"},
        {"id": "stop", "exit": True},
        {"id": "thanks", "send": "review_thanks"},
    ],
)


def test_the_awaited_event_arriving_in_time_takes_the_on_event_branch() -> None:
    # Given a customer asked for a review, now waiting for one for three days
    ana = Customer([REVIEW])
    ana.sent(ana.track(T0, "Order Shipped"))
    ana.due()
    assert ana.profile.due_at == T0 + 4 * DAY
    # When she writes one two days later
    plan = ana.track(T0 + 3 * DAY, "Review Written")
    # Then the run says why it moved, thanks her, and the nudge never comes
    [arrived] = decided(plan, Outcome.ADVANCED, "review")
    assert arrived.reasons[0].code is ReasonCode.EVENT_ARRIVED
    assert arrived.reasons[0].detail["goto"] == "thanks"
    assert scheduled(plan) == {"review--v1--thanks": T0 + 3 * DAY}
    assert decided(plan, Outcome.COMPLETED, "review")


def test_without_the_awaited_event_the_timeout_branch_runs_when_it_is_due() -> None:
    # Given a customer waiting for a review
    ana = Customer([REVIEW])
    ana.sent(ana.track(T0, "Order Shipped"))
    ana.due()
    # When nothing comes, and the sweep finds her when the three days are over
    plan = ana.due()
    # Then she is nudged, and the exit step ends her run
    [timed_out] = decided(plan, Outcome.ADVANCED, "review")
    assert timed_out.reasons[0].code is ReasonCode.TIMED_OUT
    assert scheduled(plan) == {"review--v1--nudge": T0 + 4 * DAY}
    [ended] = decided(plan, Outcome.EXITED, "review")
    assert codes(ended) == ["exit_step"]


def test_an_exit_step_or_the_end_of_a_program_leaves_its_waiting_messages_alone() -> None:
    # Given a customer whose review request is still waiting (quiet hours hold it until the morning)
    ana = Customer([REVIEW], policy=QUIET)
    ana.track(datetime(2026, 3, 2, 22, tzinfo=UTC), "Order Shipped")
    assert "review--v1--ask" in ana.profile.pending
    ana.due()
    # When the program reaches its exit step
    plan = ana.due()
    # Then the request still goes: an exit step stops the run, it does not take back what it planned
    assert decided(plan, Outcome.CANCELLED) == []
    assert "review--v1--ask" in ana.profile.pending


def test_an_event_that_happened_before_the_wait_began_does_not_count() -> None:
    # Given a customer asked for a review, in the day's pause before the program listens
    ana = Customer([REVIEW])
    ana.sent(ana.track(T0, "Order Shipped"))
    # When she writes a review during the pause
    ana.track(T0 + HOUR, "Review Written")
    # And one written during the pause reaches us (an offline phone) after the program began listening
    ana.due()
    plan = ana.track(T0 + 2 * HOUR, "Review Written", received=T0 + 2 * DAY)
    # Then neither counts: the program still waits, and times out into the nudge
    assert decided(plan, Outcome.ADVANCED) == []
    assert ana.profile.programs["review"].step == "listen"
    assert "review--v1--nudge" in scheduled(ana.due())


def test_an_event_after_the_wait_began_counts_even_when_the_sweep_is_late() -> None:
    # Given a customer whose pause ended at T0 + 1d, and a sweep that has not come round yet
    ana = Customer([REVIEW])
    ana.sent(ana.track(T0, "Order Shipped"))
    # When she writes a review an hour after the pause ended, before the sweep's due event
    plan = ana.track(T0 + DAY + HOUR, "Review Written")
    # Then the program was listening by then: she is thanked
    assert "review--v1--thanks" in scheduled(plan)


def test_an_event_after_the_timeout_does_not_count_even_when_the_sweep_is_late() -> None:
    # Given a customer whose wait for a review timed out at T0 + 4d, before the sweep came round
    ana = Customer([REVIEW])
    ana.sent(ana.track(T0, "Order Shipped"))
    ana.due()
    # When she writes a review an hour after the timeout
    plan = ana.track(T0 + 4 * DAY + HOUR, "Review Written")
    # Then it came too late: she gets the nudge, not the thanks
    assert "review--v1--nudge" in scheduled(plan)
    assert "review--v1--thanks" not in scheduled(plan)


REPEAT = program(
    "second_order",
    trigger={"event": "Order Completed"},
    steps=[
        {
            "id": "which",
            "branch": [
                {"when": [{"field": "orders_count", "op": "gte", "value": 3}], "goto": "vip"},
                {"when": [{"field": "orders_count", "op": "equals", "value": 2}], "goto": "second"},
            ],
            "otherwise": "first",
        },
        {"id": "first", "send": "first_order", "next": "done"},
        {"id": "second", "send": "second_order", "next": "done"},
        {"id": "vip", "exit": True},
        {"id": "done", "exit": True},
    ],
    reentry={"mode": "every_time"},
)


@pytest.mark.parametrize(
    ("orders", "step", "case"),
    [(1, "first", None), (2, "second", 2), (5, None, 1)],
)
def test_a_branch_follows_the_customers_facts(orders: int, step: str | None, case: int | None) -> None:
    # Given a customer with `orders - 1` orders
    ana = Customer([REPEAT], orders_count=orders - 1)
    # When she completes another order
    plan = ana.track(T0, "Order Completed", order_id="o-1", revenue=10)
    # Then the branch took the case her order count matches (or `otherwise`), and planned that step only
    [branch] = [d for d in decided(plan, Outcome.ADVANCED, "second_order") if codes(d) == ["branch"]]
    assert branch.reasons[0].detail["case"] == case
    assert list(scheduled(plan)) == ([f"second_order--v1--{step}"] if step else [])
    # And the run is over
    assert ana.profile.programs == {}


# --- exits ------------------------------------------------------------------------------------------------


WINBACK_STEPS = [
    {"id": "wait", "wait": "3d"},
    {"id": "offer", "send": "winback_offer", "timing": {"at_local_time": "10:00"}},
    {"id": "later", "wait": "7d"},
    {"id": "last", "send": "winback_last"},
]


def test_an_exit_event_from_any_channel_ends_the_run_and_cancels_its_waiting_message() -> None:
    # Given a customer in a program whose offer is waiting, and which ends on an order
    series = program(
        "series", trigger={"event": "Signed Up"}, exit={"events": ["Order Completed"]}, steps=WINBACK_STEPS
    )
    ana = Customer([series])
    ana.track(T0, "Signed Up")
    ana.due()
    assert "series--v1--offer" in ana.profile.pending
    # When she orders in the shop (a server-side event)
    plan = ana.track(T0 + 3 * DAY - HOUR + 2 * HOUR, "Order Completed", order_id="o-9", revenue=20)
    # Then the offer is cancelled as converted, and she leaves the program
    [cancelled] = decided(plan, Outcome.CANCELLED, "series--v1--offer")
    assert codes(cancelled) == ["converted"]
    assert cancelled.reasons[0].detail["order_id"] == "o-9"
    assert decided(plan, Outcome.EXITED, "series")
    assert ana.profile.programs == {} and ana.profile.pending == {}
    assert ana.profile.due_at is None


def test_an_exit_event_that_is_not_an_order_cancels_with_the_event_named() -> None:
    series = program(
        "series", trigger={"event": "Signed Up"}, exit={"events": ["Account Deleted"]}, steps=WINBACK_STEPS
    )
    ana = Customer([series])
    ana.track(T0, "Signed Up")
    ana.due()
    plan = ana.track(T0 + 3 * DAY + HOUR, "Account Deleted")
    [cancelled] = decided(plan, Outcome.CANCELLED, "series--v1--offer")
    assert codes(cancelled) == ["exit_event"]
    assert cancelled.reasons[0].detail["event"] == "Account Deleted"


def test_an_exit_condition_ends_the_run_at_the_next_evaluation() -> None:
    # Given a program that stops once the customer is on the pro plan, and a customer waiting in it
    series = program(
        "series",
        trigger={"event": "Signed Up"},
        exit={"conditions": [{"field": "traits.plan", "op": "equals", "value": "pro"}]},
        steps=WINBACK_STEPS,
    )
    ana = Customer([series])
    ana.track(T0, "Signed Up")
    ana.due()
    assert "series--v1--offer" in ana.profile.pending
    # When she upgrades
    plan = ana.identify(T0 + 3 * DAY + HOUR, plan="pro")
    # Then she leaves the program, and its waiting offer is cancelled, saying which condition held
    [exited] = decided(plan, Outcome.EXITED, "series")
    assert codes(exited) == ["exit_condition"]
    [cancelled] = decided(plan, Outcome.CANCELLED, "series--v1--offer")
    assert codes(cancelled) == ["exit_condition"]
    assert ana.profile.programs == {}


# --- recurring dates ----------------------------------------------------------------------------------------


TOKYO = ZoneInfo("Asia/Tokyo")
BIRTHDAY = program(
    "birthday",
    trigger={"date": {"date": "birthday", "at": "09:00"}},
    reentry={"mode": "every_time"},
    steps=[{"id": "wishes", "send": "birthday_wishes"}],
)


def at_tokyo(day: date, wall: time = time(9)) -> datetime:
    return datetime.combine(day, wall, TOKYO)


def test_a_birthday_program_fires_at_nine_on_the_customers_birthday_once_a_year() -> None:
    # Given a customer in Tokyo born on 20 March, known since 2 March 2026
    ana = Customer([BIRTHDAY], timezone="Asia/Tokyo")
    ana.identify(T0, birthday="1990-03-20")
    # Then her birthday at 09:00 Tokyo time is due
    assert ana.profile.due_at == at_tokyo(date(2026, 3, 20))
    # When the sweep finds her then
    plan = ana.due()
    # Then she enters and the wishes are planned for that instant
    [entered] = decided(plan, Outcome.ENTERED, "birthday")
    assert entered.reasons[0].detail["occurrence"] == "2026-03-20"
    assert scheduled(plan) == {"birthday--v1--wishes": at_tokyo(date(2026, 3, 20))}
    # And next year's birthday is what is due next
    assert ana.profile.due_at == at_tokyo(date(2027, 3, 20))
    ana.sent(plan)


def test_a_second_due_event_on_the_birthday_sends_nothing_again() -> None:
    # Given a customer whose birthday program ran this morning
    ana = Customer([BIRTHDAY], timezone="Asia/Tokyo")
    ana.identify(T0, birthday="1990-03-20")
    ana.sent(ana.due())
    # When a second due event for the same morning arrives (a sweep that ran twice), and another at noon
    again = ana._apply(
        due_event("cust-1", at_tokyo(date(2026, 3, 20)), at_tokyo(date(2026, 3, 20), time(9, 5))),
        at_tokyo(date(2026, 3, 20), time(9, 5)),
    )
    noon = ana.identify(at_tokyo(date(2026, 3, 20), time(12)), plan="free")
    # Then neither enters nor plans anything
    assert again.decisions == [] and noon.decisions == []
    assert ana.profile.due_at == at_tokyo(date(2027, 3, 20))


def test_a_29_february_birthday_fires_on_28_february_in_a_common_year() -> None:
    ana = Customer([BIRTHDAY], timezone="Asia/Tokyo")
    ana.identify(T0, birthday="2000-02-29")
    assert ana.profile.due_at == at_tokyo(date(2027, 2, 28))
    ana.sent(ana.due())
    assert ana.profile.due_at == at_tokyo(date(2028, 2, 29))


def test_a_renewal_reminder_fires_a_week_before_the_date_held_in_a_trait() -> None:
    # Given a program a week before the renewal date a trait holds
    renewal = program(
        "renewal",
        trigger={"date": {"date": "renewal_date", "offset": "-7d", "at": "10:00"}},
        reentry={"mode": "every_time"},
        steps=[{"id": "remind", "send": "renewal_reminder"}],
    )
    ana = Customer([renewal], timezone="Europe/Paris")
    # When the app says her subscription renews on 15 June
    ana.identify(T0, renewal_date="2026-06-15")
    # Then 8 June at 10:00 Paris time is due, and the sweep then plans the reminder
    eight_june = datetime(2026, 6, 8, 10, tzinfo=ZoneInfo("Europe/Paris"))
    assert ana.profile.due_at == eight_june
    assert scheduled(ana.due()) == {"renewal--v1--remind": eight_june}


# --- thresholds ---------------------------------------------------------------------------------------------


def points_program(**threshold: Any) -> Program:
    return program(
        "points",
        trigger={"threshold": {"fact": "traits.loyalty_points", **threshold}},
        reentry={"mode": "every_time"},
        steps=[{"id": "reward", "send": "reward"}],
    )


def fired_along(points: Program, values: list[int]) -> list[bool]:
    """Whether each identify setting `loyalty_points` to the next value enters the program."""
    ana = Customer([points])
    fired = []
    for number, value in enumerate(values):
        plan = ana.identify(T0 + number * HOUR, loyalty_points=value)
        fired.append(bool(decided(plan, Outcome.ENTERED, "points")))
    return fired


def test_crossing_above_a_threshold_fires_once_until_the_figure_falls_back_past_the_hysteresis() -> None:
    # Given "1,000 points or more", with a hysteresis of 100
    points = points_program(above=1000, hysteresis=100)
    # When the points go 900, 1000, 1200, 950, 850, 1000
    # Then the first crossing fires; 1200 is no new crossing; 950 is not back far enough; 850 re-arms it
    assert fired_along(points, [900, 1000, 1200, 950, 1000, 850, 1000]) == [
        False,
        True,
        False,
        False,
        False,
        False,
        True,
    ]


def test_crossing_below_a_threshold_fires_the_same_way() -> None:
    points = points_program(below=100, hysteresis=50)
    assert fired_along(points, [300, 100, 40, 140, 90, 151, 99]) == [
        False,
        True,
        False,
        False,
        False,
        False,
        True,
    ]


def test_a_customer_first_seen_past_the_threshold_never_crossed_it() -> None:
    # Given a customer whose first known figure is 5,000 points (an import)
    # Then that does not fire; only a crossing seen happening does
    assert fired_along(points_program(above=1000), [5000, 6000, 500, 1000]) == [False, False, False, True]


# --- inactivity ---------------------------------------------------------------------------------------------


DORMANT = program(
    "dormant",
    trigger={"inactivity": {"event": "Order Completed", "for": "180d"}},
    reentry={"mode": "every_time"},
    steps=[{"id": "miss_you", "send": "miss_you"}],
)


def test_inactivity_is_due_180_days_after_the_last_order_and_fires_once_for_it() -> None:
    # Given a customer who ordered at T0
    ana = Customer([DORMANT])
    ana.track(T0, "Order Completed", order_id="o-1", revenue=10)
    # Then 180 days later is due
    assert ana.profile.due_at == T0 + 180 * DAY
    # When she orders again 100 days later, it moves
    ana.track(T0 + 100 * DAY, "Order Completed", order_id="o-2", revenue=10)
    assert ana.profile.due_at == T0 + 280 * DAY
    # When the sweep finds her then, she enters and is written to
    plan = ana.due()
    assert decided(plan, Outcome.ENTERED, "dormant")
    assert "dormant--v1--miss_you" in scheduled(plan)
    # And nothing more is due for that last order: it fired once
    assert ana.profile.due_at is None
    later = ana.identify(T0 + 300 * DAY, plan="free")
    assert decided(later, Outcome.ENTERED) == []


# --- lifecycle stages ---------------------------------------------------------------------------------------


WIN_BACK = program(
    "win_back",
    trigger={"stage": {"entered": "lapsed"}},
    exit={"events": ["Order Completed"]},
    reentry={"mode": "every_time"},
    steps=[
        {"id": "offer", "send": "winback_offer", "timing": {"delay": "1d"}},
        {"id": "pause", "wait": "14d"},
        {"id": "last", "send": "winback_last"},
    ],
)


def test_the_lapse_instant_is_due_only_when_a_program_triggers_on_a_stage() -> None:
    # Given a first-time customer and a program that does not care about stages
    ana = Customer([WELCOME])
    ana.track(T0, "Order Completed", order_id="o-1", revenue=10)
    # Then nothing is due
    assert ana.profile.due_at is None
    # Given the win-back program too, she is due when she lapses, 180 days after the order
    ana = Customer([WELCOME, WIN_BACK])
    ana.track(T0, "Order Completed", order_id="o-1", revenue=10)
    assert ana.profile.due_at == T0 + 180 * DAY


def test_lapsing_enters_the_win_back_and_an_order_ends_it_with_its_offer() -> None:
    # Given a customer who ordered once
    ana = Customer([WIN_BACK])
    ana.track(T0, "Order Completed", order_id="o-1", revenue=10)
    # When 180 days pass without an order
    plan = ana.due()
    # Then she lapses and enters the win-back; the offer waits a day
    assert ana.profile.stage == "lapsed"
    [entered] = decided(plan, Outcome.ENTERED, "win_back")
    assert entered.reasons[0].detail["stage"] == "lapsed"
    assert scheduled(plan) == {"win_back--v1--offer": T0 + 181 * DAY}
    # When she orders before it goes
    plan = ana.track(T0 + 180 * DAY + HOUR, "Order Completed", order_id="o-2", revenue=30)
    # Then the offer is cancelled, and she leaves the win-back
    [cancelled] = decided(plan, Outcome.CANCELLED, "win_back--v1--offer")
    assert codes(cancelled) == ["converted"]
    assert decided(plan, Outcome.EXITED, "win_back")
    assert ana.profile.programs == {} and ana.profile.pending == {}


# --- loops --------------------------------------------------------------------------------------------------


def test_a_step_visited_again_through_a_loop_plans_a_message_of_its_own() -> None:
    # Given a program that reminds every week until the customer orders
    nag = program(
        "nag",
        trigger={"event": "Trial Started"},
        steps=[
            {"id": "remind", "send": "trial_reminder"},
            {"id": "week", "wait": "7d"},
            {
                "id": "bought",
                "branch": [
                    {"when": [{"field": "orders_count", "op": "equals", "value": 0}], "goto": "remind"}
                ],
            },
        ],
    )
    ana = Customer([nag])
    first = ana.track(T0, "Trial Started")
    ana.sent(first)
    # When a week passes without an order
    second = ana.due()
    # Then a second reminder is planned, as a new message rather than the one already sent
    [one], [two] = first.schedule, second.schedule
    assert two.campaign_id == one.campaign_id == "nag--v1--remind"
    assert two.message_id != one.message_id
    assert two.send_at == T0 + 7 * DAY


# --- versions -----------------------------------------------------------------------------------------------


def series_v(version: int, last_template: str) -> Program:
    return program(
        "series",
        version=version,
        trigger={"event": "Signed Up"},
        steps=[
            {"id": "first", "send": "series_first"},
            {"id": "pause", "wait": "3d"},
            {"id": "last", "send": last_template},
        ],
    )


V1, V2 = series_v(1, "series_last"), series_v(2, "series_last_v2")


def test_customers_mid_way_finish_the_version_they_started_and_new_ones_start_the_newest() -> None:
    # Given a customer half-way through version 1
    ana = Customer([V1])
    ana.sent(ana.track(T0, "Signed Up"))
    # When version 2 is deployed beside it
    ana.programs = [V1, V2]
    bob = Customer([V1, V2])
    # Then she finishes version 1's steps
    plan = ana.due()
    [last] = plan.schedule
    assert (last.campaign_id, last.template) == ("series--v1--last", "series_last")
    # And a new customer starts version 2
    entered = bob.track(T0 + DAY, "Signed Up")
    assert decided(entered, Outcome.ENTERED, "series")[0].reasons[0].detail["version"] == 2
    assert [m.campaign_id for m in entered.schedule] == ["series--v2--first"]


def test_a_run_of_a_version_no_longer_deployed_exits_and_its_waiting_message_is_cancelled() -> None:
    # Given a customer in version 1 whose first message is still waiting (quiet hours)
    ana = Customer([V1], policy=QUIET)
    ana.track(datetime(2026, 3, 2, 22, tzinfo=UTC), "Signed Up")
    assert "series--v1--first" in ana.profile.pending
    # When only version 2 is deployed, and she is evaluated again
    ana.programs = [V2]
    plan = ana.identify(datetime(2026, 3, 2, 23, tzinfo=UTC), plan="free")
    # Then she leaves version 1, saying it was retired, and its message is cancelled the same way
    [exited] = decided(plan, Outcome.EXITED, "series")
    assert codes(exited) == ["version_retired"]
    [cancelled] = decided(plan, Outcome.CANCELLED, "series--v1--first")
    assert codes(cancelled) == ["version_retired"]
    assert ana.profile.programs == {} and ana.profile.pending == {}


# --- bounds -------------------------------------------------------------------------------------------------


def test_a_run_keeps_its_trigger_properties_only_while_they_are_small() -> None:
    ana = Customer([REVIEW])
    ana.track(T0, "Order Shipped", order_id="o-1")
    assert ana.profile.programs["review"].properties == {"order_id": "o-1"}
    bob = Customer([REVIEW])
    bob.track(T0, "Order Shipped", notes="x" * MAX_RUN_PROPERTIES_BYTES)
    assert bob.profile.programs["review"].properties == {}


def test_what_a_program_no_longer_deployed_remembered_is_dropped() -> None:
    # Given a customer who went through the welcome program
    ana = Customer([WELCOME])
    ana.sent(ana.identify(T0, subscribed=True))
    assert "welcome" in ana.profile.program_memory
    # When it is no longer deployed
    ana.programs = [REVIEW]
    ana.identify(T0 + HOUR, plan="free")
    # Then the profile forgets it
    assert "welcome" not in ana.profile.program_memory


def test_the_profile_stays_small_with_the_most_programs_a_deployment_may_have() -> None:
    # Given as many programs as a deployment may have, each a threshold and a birthday program
    many = [
        program(
            f"p{number:03d}",
            trigger={"threshold": {"fact": "traits.points", "above": number}}
            if number % 2
            else {"date": {"date": "birthday"}},
            reentry={"mode": "every_time"},
            steps=[
                {"id": "hello", "send": "hello"},
                {"id": "pause", "wait": "30d"},
                {"id": "bye", "send": "bye"},
            ],
        )
        for number in range(MAX_PROGRAMS)
    ]
    ana = Customer(many, birthday=date(1990, 3, 2))
    # When she crosses every threshold on her birthday
    ana.identify(T0 - DAY, points=0)
    ana.identify(T0, points=1000)
    # Then she is in every program, and her profile is still a small fraction of DynamoDB's 400 KB item
    assert len(ana.profile.programs) == MAX_PROGRAMS
    assert len(ana.profile.model_dump_json()) < 100_000


def test_planning_leaves_the_profile_it_was_given_untouched() -> None:
    # Given a customer in a program, waiting
    ana = Customer([REVIEW, V1])
    ana.track(T0, "Order Shipped")
    ana.track(T0, "Signed Up")
    stored = ana.profile
    snapshot = json.loads(stored.model_dump_json())
    # When the sweep advances her
    ana.due()
    # Then the stored profile is as it was
    assert json.loads(stored.model_dump_json()) == snapshot
    assert ana.profile.programs != stored.programs


# --- filters and audiences ----------------------------------------------------------------------------------


def test_an_awaited_event_counts_only_when_its_properties_match() -> None:
    # Given a program that waits for a five-star review
    stars = program(
        "stars",
        trigger={"event": "Order Shipped"},
        steps=[
            {
                "id": "listen",
                "wait_for": {
                    "event": "Review Written",
                    "where": [{"field": "rating", "op": "gte", "value": 5}],
                    "within": "3d",
                },
                "on_event": "thanks",
            },
            {"id": "stop", "exit": True},
            {"id": "thanks", "send": "thanks"},
        ],
    )
    ana = Customer([stars])
    ana.track(T0, "Order Shipped")
    # When a three-star review comes, then a five-star one
    three = ana.track(T0 + HOUR, "Review Written", rating=3)
    five = ana.track(T0 + 2 * HOUR, "Review Written", rating=5)
    # Then only the second moves the run on
    assert three.decisions == []
    assert list(scheduled(five)) == ["stars--v1--thanks"]


def test_an_exit_event_that_happened_before_the_customer_entered_does_not_end_the_run() -> None:
    # Given a customer who entered a program that ends on an order
    series = program(
        "series", trigger={"event": "Signed Up"}, exit={"events": ["Order Completed"]}, steps=WINBACK_STEPS
    )
    ana = Customer([series])
    ana.track(T0, "Signed Up")
    # When an order placed the day before reaches us late (an offline phone)
    plan = ana.track(T0 - DAY, "Order Completed", received=T0 + HOUR, order_id="o-0", revenue=5)
    # Then she stays in the program
    assert decided(plan, Outcome.EXITED) == []
    assert "series" in ana.profile.programs


def test_a_customer_outside_the_audience_does_not_enter() -> None:
    vip = program(
        "vip",
        trigger={"event": "Signed Up"},
        audience=[{"field": "orders_count", "op": "gte", "value": 3}],
        steps=[{"id": "hello", "send": "vip_hello"}],
    )
    ana = Customer([vip])
    plan = ana.track(T0, "Signed Up")
    [refused] = decided(plan, Outcome.SUPPRESSED, "vip")
    assert codes(refused) == ["program_triggered", "audience"]
    assert ana.profile.programs == {} and plan.schedule == []


def test_inactivity_on_another_event_counts_from_its_latest_occurrence() -> None:
    # Given a program for customers who have not opened the app for 30 days
    idle = program(
        "idle",
        trigger={"inactivity": {"event": "App Opened", "for": "30d"}},
        reentry={"mode": "every_time"},
        steps=[{"id": "nudge", "send": "come_back"}],
    )
    ana = Customer([idle])
    ana.track(T0, "App Opened")
    assert ana.profile.due_at == T0 + 30 * DAY
    # When she opens it again ten days later, the clock restarts
    ana.track(T0 + 10 * DAY, "App Opened")
    assert ana.profile.due_at == T0 + 40 * DAY
    # And 30 quiet days later she is nudged, once
    assert list(scheduled(ana.due())) == ["idle--v1--nudge"]
    assert ana.profile.due_at is None
