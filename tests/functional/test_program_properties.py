"""The hidden-journey check for programs: a generated journey of program traffic (sign-ups at odd hours,
birthdays on 29 February and on days the clocks change, renewal dates, loyalty points hovering at 1,000,
orders at any hour and in store, refunds, survey answers, carts, unsubscribes, moves) for a few hundred
customers in zones from UTC-12 to UTC+14, simulated for 400 days after its last line, so that win-backs and
a year of birthdays happen. Every `sent` decision is then held to the rules of the campaigns folder's own
files, read from the decision's own data (its instant, its zone, its campaign, its customer)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from righttime.core.campaigns import Campaign, Kind
from righttime.core.programs import Program
from righttime.wiring.content import Content
from righttime.wiring.root import install
from righttime_dev.journeys import PROGRAM_ZONES, program_journey, write_journey
from righttime_dev.simulate import simulate
from tests.conftest import ROOT, TEMPLATE

CONTENT = Content(ROOT / "campaigns", ROOT / "templates")
POLICY = CONTENT.policy
CUSTOMERS = 300
ORDER = "Order Completed"


@dataclass(frozen=True)
class Send:
    """A `sent` decision, with what the checks read from it."""

    line: dict[str, Any]
    at: datetime
    local: datetime
    user: str
    campaign: Campaign
    program: Program | None
    step: str | None

    @property
    def promotional(self) -> bool:
        return self.campaign.kind is Kind.PROMOTIONAL

    def __str__(self) -> str:
        return f"{self.local:%a %Y-%m-%d %H:%M:%S %Z} {json.dumps(self.line)}"


@dataclass(frozen=True)
class Event:
    """A line of the journey, as the checks need it."""

    at: datetime
    user: str
    type: str
    name: str | None
    traits: dict[str, Any]


class Run:
    """A simulated journey: its lines, its sends, and each customer's events and program entries."""

    def __init__(self, journey: list[Event], lines: list[dict[str, Any]]) -> None:
        self.lines, self.sends = lines, _sends(lines)
        self._events: dict[str, list[Event]] = defaultdict(list)
        for event in journey:
            self._events[event.user].append(event)
        self._entries: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        for line in lines:
            if line["type"] == "decision" and line["outcome"] == "entered":
                self._entries[(line["user_id"], line["campaign"])].append(datetime.fromisoformat(line["at"]))

    def events(self, user: str, *names: str) -> list[Event]:
        return [e for e in self._events[user] if e.name in names]

    def identifies(self, user: str) -> list[Event]:
        return [e for e in self._events[user] if e.type == "identify"]

    def entries(self, user: str, program: str) -> list[datetime]:
        """When the customer entered `program` (its `entered` decisions)."""
        return self._entries[(user, program)]


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _program_of(campaign_id: str) -> tuple[Program | None, str | None]:
    for program in CONTENT.programs:
        prefix = program.step_campaign_id("")
        if campaign_id.startswith(prefix):
            return program, campaign_id.removeprefix(prefix)
    return None, None


def _sends(lines: Iterable[dict[str, Any]]) -> list[Send]:
    sends = []
    for line in lines:
        if line["type"] != "decision" or line["outcome"] != "sent":
            continue
        at = datetime.fromisoformat(line["at"])
        program, step = _program_of(line["campaign"])
        sends.append(
            Send(
                line,
                at,
                at.astimezone(_zone(line["timezone"])),
                line["user_id"],
                CONTENT.campaigns_by_id[line["campaign"]],
                program,
                step,
            )
        )
    return sends


def _simulated(folder: Path, customers: int, engine: str = "memory") -> Run:
    generated = program_journey(customers, seed=11)
    journey = write_journey(folder / "programs.jsonl", generated)
    lines = simulate(
        journey,
        template=TEMPLATE,
        campaigns=ROOT / "campaigns",
        templates=ROOT / "templates",
        engine_name=engine,
        until="400d",
    ).lines
    events = [Event(at, m["userId"], m["type"], m.get("event"), m.get("traits", {})) for at, m in generated]
    return Run(events, lines)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The journey of CUSTOMERS customers, simulated once for every check of this module (isolated as
    `isolated_env` isolates one test: no metrics published, no AWS endpoint inherited)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        previous = install(None)
        try:
            return _simulated(tmp_path_factory.mktemp("program-journey"), CUSTOMERS)
        finally:
            install(previous)


def _no_violations(violations: list[str], checked: int) -> None:
    assert checked > 0, "the journey gave this check nothing to check"
    shown = "\n".join(violations[:10])
    assert not violations, f"{len(violations)} of {checked} sends break the rule, e.g.:\n{shown}"


def _in_hours(local: datetime, start: time, end: time) -> bool:
    """Whether a wall clock is in [start, end), wrapping midnight when start is after end."""
    wall = local.time().replace(tzinfo=None)
    if start <= end:
        return start <= wall < end
    return wall >= start or wall < end


# -- the tests -----------------------------------------------------------------------------------------------


def test_the_journey_exercises_every_program_step_in_every_zone(run: Run) -> None:
    # Given the generated journey of program traffic, simulated for 400 days after its last line
    # Then every send step of every shipped program sent something, and sends went out in every zone
    sent_campaigns = {s.campaign.id for s in run.sends}
    steps = {c.id for c in CONTENT.campaigns if _program_of(c.id)[0] is not None}
    assert steps - sent_campaigns == set()
    assert {s.line["timezone"] for s in run.sends} >= set(PROGRAM_ZONES)


def _quiet_hours_broken(sends: list[Send]) -> list[str]:
    """The promotional sends that arrived in quiet hours, on the clock of their decision's zone."""
    quiet = POLICY.quiet_hours
    assert quiet is not None
    return [
        f"in quiet hours: {s}" for s in sends if s.promotional and _in_hours(s.local, quiet.start, quiet.end)
    ]


def _windows_broken(sends: list[Send]) -> list[str]:
    """The sends outside their campaign's or step's window: its days and hours, on the customer's clock."""
    broken = []
    for send in sends:
        window = send.campaign.timing.window
        if window is None:
            continue
        # A window that wraps midnight belongs to the day it starts.
        day = send.local.strftime("%a").lower()
        if window.start > window.end and send.local.time() < window.end:
            day = (send.local - timedelta(days=1)).strftime("%a").lower()
        inside = day in {d.value for d in window.days} and (
            window.start == window.end or _in_hours(send.local, window.start, window.end)
        )
        if not inside:
            broken.append(f"outside {window.describe()}: {send}")
    return broken


def test_no_promotional_send_arrives_in_quiet_hours_at_any_step(run: Run) -> None:
    # Given the policy's quiet hours (21:00-08:00 on the customer's clock)
    # When every promotional message of the run was sent
    promotional = [s for s in run.sends if s.promotional]
    # Then none arrived in quiet hours, on the clock of the zone it was decided in, across DST changes
    _no_violations(_quiet_hours_broken(promotional), len(promotional))


def test_a_send_with_a_window_goes_out_inside_its_days_and_hours(run: Run) -> None:
    # Given the campaigns and program steps that have a send window (days and hours)
    windowed = [s for s in run.sends if s.campaign.timing.window is not None]
    # Then each send is on one of its days, between its hours, on the customer's clock
    _no_violations(_windows_broken(windowed), len(windowed))
    assert {s.campaign.id for s in windowed} >= {
        "win_back--v1--we_miss_you",
        "win_back--v1--last_chance",
        "loyalty_milestone--v1--congratulations",
        "post_purchase_series--v1--cross_sell",
        "cart_abandonment",
    }


def test_no_promotional_send_comes_within_the_purchase_cooldown_or_a_follow_ups_min_delay(run: Run) -> None:
    # Given each customer's orders in the journey, from every channel
    bad, checked = [], 0
    for send in (s for s in run.sends if s.promotional):
        orders = [e.at for e in run.events(send.user, ORDER) if e.at < send.at]
        if not orders:
            continue
        checked += 1
        # Then a follow-up waits its own min_delay after the latest order, everything else the cooldown
        follow_up = send.campaign.follow_up
        wait = follow_up.min_delay if follow_up is not None else POLICY.purchase_cooldown
        if send.at - max(orders) < wait:
            bad.append(f"{send.at - max(orders)} after the order at {max(orders)} (needs {wait}): {send}")
    _no_violations(bad, checked)


def test_frequency_caps_hold_per_local_day_and_rolling_period(run: Run) -> None:
    # Given every customer's promotional sends in time order
    by_user: dict[str, list[Send]] = defaultdict(list)
    for send in run.sends:
        if send.promotional:
            by_user[send.user].append(send)
    bad, checked = [], 0
    for sends in by_user.values():
        for index, send in enumerate(sends):
            checked += 1
            before = sends[:index]
            for cap in POLICY.frequency_caps:
                # Then no send exceeds a cap: the calendar day is the send's own, on its own clock
                if cap.calendar_day:
                    day = send.local.date()
                    count = sum(1 for s in before if s.at.astimezone(send.local.tzinfo).date() == day)
                else:
                    count = sum(1 for s in before if s.at > send.at - cap.period)
                if count >= cap.max:
                    bad.append(f"cap {cap.describe()} already full ({count} sent): {send}")
    _no_violations(bad, checked)


def test_an_unsubscribed_customer_gets_no_promotional_send_after_unsubscribing(run: Run) -> None:
    # Given the customers whose identify set `unsubscribed: true` (the journey never subscribes them again)
    bad, checked = [], 0
    for send in (s for s in run.sends if s.promotional):
        unsubscribed = [e.at for e in run.identifies(send.user) if e.traits.get("unsubscribed") is True]
        if not unsubscribed:
            continue
        checked += 1
        # Then nothing promotional was sent to them after that identify
        if send.at > min(unsubscribed):
            bad.append(f"unsubscribed at {min(unsubscribed)}: {send}")
    _no_violations(bad, checked)


def test_nobody_gets_the_same_program_step_twice_in_one_run(run: Run) -> None:
    # Given every program step send, and when its customer entered the program (a run begins there)
    seen: dict[tuple[str, str, datetime, str], Send] = {}
    bad, checked = [], 0
    for send in run.sends:
        if send.program is None or send.step is None:
            continue
        checked += 1
        entries = [at for at in run.entries(send.user, send.program.id) if at <= send.at]
        if not entries:
            bad.append(f"a step of a program the customer never entered: {send}")
            continue
        key = (send.user, send.program.id, max(entries), send.step)
        # Then each step of a run is sent at most once
        if key in seen:
            bad.append(
                f"step sent twice in the run entered at {max(entries)}: first {seen[key]}\n  again {send}"
            )
        seen[key] = send
    _no_violations(bad, checked)


def _birthday_of(run: Run, user: str, at: datetime) -> date | None:
    values = [e.traits["birthday"] for e in run.identifies(user) if "birthday" in e.traits and e.at <= at]
    return date.fromisoformat(values[-1]) if values else None


def test_a_birthday_offer_goes_out_once_a_year_on_the_customers_own_birthday(run: Run) -> None:
    # Given the birthday program's sends and each customer's `birthday` trait
    birthdays = [s for s in run.sends if s.program is not None and s.program.id == "birthday"]
    bad, years = [], defaultdict(list)
    for send in birthdays:
        born = _birthday_of(run, send.user, send.at)
        assert born is not None, f"a birthday offer to a customer with no birthday: {send}"
        # Then it is sent on their birthday on their own clock (29 February on 28 February in common years)
        year = send.local.year
        try:
            expected = born.replace(year=year)
        except ValueError:
            expected = date(year, 2, 28)
        if send.local.date() != expected:
            bad.append(f"born {born}, expected on {expected}: {send}")
        years[(send.user, year)].append(send)
    # And nobody gets it twice in a year
    bad += [
        f"twice in {year}: {' / '.join(map(str, sends))}"
        for (_, year), sends in years.items()
        if len(sends) > 1
    ]
    _no_violations(bad, len(birthdays))
    assert any(str(_birthday_of(run, s.user, s.at)).endswith("02-29") for s in birthdays)


def test_no_win_back_message_follows_an_order_in_the_same_run_or_within_the_inactivity_period(
    run: Run,
) -> None:
    # Given the win-back program: no order for its inactivity period, stopped by any order from any channel
    program = next(p for p in CONTENT.programs if p.id == "win_back")
    assert program.trigger.inactivity is not None
    inactive_for = program.trigger.inactivity.for_
    sends = [s for s in run.sends if s.program is program]
    bad = []
    for send in sends:
        orders = [e.at for e in run.events(send.user, ORDER) if e.at < send.at]
        entered = max((at for at in run.entries(send.user, program.id) if at <= send.at), default=None)
        # Then the customer had ordered before, not within the inactivity period before the send, and not
        # since the run began
        if not orders or send.at - max(orders) < inactive_for:
            last = max(orders) if orders else None
            bad.append(f"last order {last}, under {inactive_for} before: {send}")
        elif entered is None or max(orders) >= entered:
            bad.append(f"an order at {max(orders)} came after the run began at {entered}: {send}")
    _no_violations(bad, len(sends))


def test_no_step_of_a_program_is_sent_after_one_of_its_exit_events_until_the_customer_enters_again(
    run: Run,
) -> None:
    # Given the programs with exit events (the welcome series and the win-back stop at an order, the
    # post-purchase series at a refund), from any channel
    bad, checked = [], 0
    for send in run.sends:
        if send.program is None or not send.program.exit.events:
            continue
        exits = [e.at for e in run.events(send.user, *send.program.exit.events) if e.at < send.at]
        if not exits:
            continue
        checked += 1
        # Then a step sent after an exit event belongs to a run entered after that event
        entered = [at for at in run.entries(send.user, send.program.id) if max(exits) < at <= send.at]
        if not entered:
            bad.append(f"exit event at {max(exits)}, no entry since: {send}")
    _no_violations(bad, checked)


def _identify(user: str, at: str, **traits: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user,
        "messageId": f"{user}-{at}",
        "timestamp": at,
        "traits": traits,
    }


def test_a_customer_who_changes_zone_just_before_a_send_does_not_get_it_in_their_new_quiet_hours(
    isolated_env: None, tmp_path: Path
) -> None:
    # Given customers in Paris who subscribe at 08:58:30 their time (07:58:30 UTC): the welcome series plans
    # its first message at once, and its schedule fires a minute later
    # And who move to London half a minute later, where it is 07:59 and quiet hours end at 08:00
    lines = []
    for n in range(8):
        user = f"ines-{n}"
        email = f"{user}@example.com"
        lines.append(
            _identify(user, "2026-11-20T07:58:30Z", email=email, timezone="Europe/Paris", subscribed=True)
        )
        lines.append(_identify(user, "2026-11-20T07:59:00Z", timezone="Europe/London"))
    journey = tmp_path / "moved.jsonl"
    journey.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    # When the journey is simulated
    simulated = simulate(
        journey, template=TEMPLATE, campaigns=ROOT / "campaigns", templates=ROOT / "templates", until="1d"
    ).lines
    welcomes = [s for s in _sends(simulated) if s.campaign.id == "welcome_series--v1--welcome"]
    # Then each of them gets the welcome, and none before 08:00 on their new clock: the schedule that fires
    # at 07:59:30 defers the message to the end of quiet hours instead of sending it a minute early
    assert sorted(s.user for s in welcomes) == sorted({line["userId"] for line in lines})
    quiet = POLICY.quiet_hours
    assert quiet is not None
    early = [str(s) for s in welcomes if _in_hours(s.local, quiet.start, quiet.end)]
    assert not early, "\n".join(early)


def test_both_engines_give_the_same_lines_for_a_small_program_journey(
    isolated_env: None, tmp_path: Path
) -> None:
    # Given two customers per zone of generated program traffic
    # When it is simulated in memory and on moto (about 30 times slower), 400 days on
    memory = _simulated(tmp_path, customers=2 * len(PROGRAM_ZONES), engine="memory")
    moto = _simulated(tmp_path, customers=2 * len(PROGRAM_ZONES), engine="moto")
    # Then both engines decide and send the same, line for line
    differences = [(a, b) for a, b in zip(memory.lines, moto.lines, strict=False) if a != b]
    assert not differences, f"first difference:\n  memory: {differences[0][0]}\n  moto:   {differences[0][1]}"
    assert len(memory.lines) == len(moto.lines)
    # And moto's program steps keep quiet hours and windows too
    steps = [s for s in moto.sends if s.program is not None]
    assert len({s.program.id for s in steps if s.program}) >= 3
    _no_violations(_quiet_hours_broken(moto.sends) + _windows_broken(moto.sends), len(moto.sends))


def test_a_refund_just_after_the_post_purchase_series_last_wait_cancels_the_review_request(
    isolated_env: None, tmp_path: Path
) -> None:
    # Given Rafa in Kathmandu, whose order starts the post-purchase series: a cross-sell, a 10-day pause,
    # then a review request at 10:00
    order = {"order_id": "r-1", "revenue": 40, "products": [{"product_id": "suit-1", "category": "suits"}]}
    lines = [
        _identify("rafa", "2026-11-01T10:00:00Z", email="rafa@example.com", timezone="Asia/Kathmandu"),
        {"type": "track", "userId": "rafa", "messageId": "rafa-order", "timestamp": "2026-11-06T02:14:00Z"}
        | {"event": "Order Completed", "properties": order},
        # And who returns the order 30 seconds after the pause ended, before the due sweep's next run
        {"type": "track", "userId": "rafa", "messageId": "rafa-refund", "timestamp": "2026-11-16T02:14:30Z"}
        | {"event": "Order Refunded", "properties": {"order_id": "r-1", "revenue": 40}},
    ]
    journey = tmp_path / "refunded.jsonl"
    journey.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    # When the journey is simulated
    simulated = simulate(
        journey, template=TEMPLATE, campaigns=ROOT / "campaigns", templates=ROOT / "templates", until="5d"
    ).lines
    # Then the refund, an exit event of the series, cancels the review request that the end of the pause
    # reached, as it does when the sweep has planned it first: only the cross-sell went out
    sent = [s.campaign.id for s in _sends(simulated) if s.program is not None]
    assert sent == ["post_purchase_series--v1--cross_sell"]
    review = [
        (line["outcome"], [r["code"] for r in line["reasons"]])
        for line in simulated
        if line["type"] == "decision" and line["campaign"] == "post_purchase_series--v1--review"
    ]
    assert review == [("cancelled", ["exit_event"])]
