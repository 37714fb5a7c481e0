"""Optimal send time: a campaign with `send_time: optimal` goes at the customer's most engaged local hour
within its `max_delay`, read from their opens and clicks, else from the population's, and says so; never in
quiet hours, outside its window or past its send-by deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from righttime.core.campaigns import Campaign, CampaignError, load_campaigns
from righttime.core.decisions import Outcome, ReasonCode
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.global_policy import FrequencyCap, GlobalPolicy
from righttime.core.policy import Action, decide_at_send, plan_event
from righttime.core.profiles import Engagement, Profile, SendRecord
from righttime.core.programs import load_programs, step_campaigns
from righttime.core.send_time import HourCounts

PARIS = ZoneInfo("Europe/Paris")
# Monday 2 March 2026, 10:00 in Paris (UTC+1)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: the shipped quiet hours; no release spread, so that each test reads the chosen instant itself
QUIET = {"quiet_hours": {"start": "21:00", "end": "08:00"}, "release_spread": "0s"}


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def campaign(**timing: Any) -> Campaign:
    return Campaign.model_validate(
        {
            "id": "browse",
            "name": "Browse reminder",
            "trigger": {"event": "Product Viewed"},
            "template": "browse",
            "timing": {"delay": "0s", "send_time": "optimal", **timing},
        }
    )


def customer(opened_at: list[datetime], **fields: Any) -> Profile:
    engagement = [
        Engagement(kind="open", at=at, message_id=f"m{n}", campaign_id="other")
        for n, at in enumerate(opened_at)
    ]
    return Profile(
        customer_id="c1",
        email="c1@example.com",
        timezone="Europe/Paris",
        engagement=engagement,
        version=1,
        **fields,
    )


def viewed(at: datetime = NOW) -> QueuedEvent:
    return QueuedEvent(
        message=TrackMessage(userId="c1", messageId="view-1", event="Product Viewed"),
        received_at=at,
        occurred_at=at,
    )


def opens_at(hour: int, count: int, *, days_ago_from: int = 1) -> list[datetime]:
    """`count` opens at `hour`:10 on the customer's clock, on the days before 2 March."""
    start = datetime(2026, 3, 2, hour, 10, tzinfo=PARIS)
    return [(start - timedelta(days=days_ago_from + n)).astimezone(UTC) for n in range(count)]


def population(peak: int, total: int = 480) -> HourCounts:
    counts = [1] * 24
    counts[peak] = total - 23
    return HourCounts(tuple(counts))


def planned(profile: Profile, offer: Campaign, policy: GlobalPolicy | None = None, **kw: Any) -> Any:
    plan = plan_event(profile, viewed(), [offer], policy or GlobalPolicy.model_validate(QUIET), NOW, **kw)
    (decision,) = plan.decisions
    return plan, decision


def optimised(decision: Any) -> dict[str, Any]:
    (reason,) = [r for r in decision.reasons if r.code is ReasonCode.SEND_TIME_OPTIMISED]
    return dict(reason.detail)


# -- the customer's own hours -----------------------------------------------------------------------------


def test_the_message_goes_at_the_hour_the_customer_opens_mail() -> None:
    # Given a customer who opened six messages at about 19:10 in Paris, and none at other hours
    profile = customer(opens_at(19, 6))
    # When a browse at 10:00 triggers a campaign with send_time: optimal (up to 24h later)
    plan, decision = planned(profile, campaign())
    # Then it is planned for 19:00 the same day, on their clock, and the reason says why
    assert decision.outcome is Outcome.SCHEDULED
    assert decision.send_at == paris(2, 19)
    assert optimised(decision) == {
        "hour": 19,
        "evidence": 6,
        "fallback": "customer",
        "timezone": "Europe/Paris",
        "max_delay": "1d",
        "until": paris(2, 19).isoformat(),
    }
    # And the message remembers the zone its opens will be counted in
    (message,) = plan.schedule
    assert message.timezone == "Europe/Paris"
    assert message.desired_at == paris(2, 19)


def test_a_best_hour_earlier_in_the_day_is_tomorrows_within_the_max_delay() -> None:
    # Given a customer who reads mail at 08:xx, and a trigger at 10:00
    profile = customer(opens_at(8, 5))
    # When planned with the default max_delay of 24h
    _, decision = planned(profile, campaign())
    # Then it waits for 08:00 tomorrow (the end of quiet hours)
    assert decision.send_at == paris(3, 8)
    assert optimised(decision)["hour"] == 8


def test_a_best_hour_past_the_max_delay_is_not_waited_for() -> None:
    # Given a customer who reads mail at 08:xx, mostly, and at 12:xx sometimes
    profile = customer(opens_at(8, 6) + opens_at(12, 2))
    # When the campaign waits at most 6 hours
    _, decision = planned(profile, campaign(send_time={"mode": "optimal", "max_delay": "6h"}))
    # Then it goes at 12:00 today, the best hour within reach
    assert decision.send_at == paris(2, 12)
    assert optimised(decision)["hour"] == 12


def test_the_best_hour_in_quiet_hours_is_never_chosen() -> None:
    # Given a customer whose opens are mostly at 23:xx (quiet hours 21:00-08:00), some at 20:xx
    profile = customer(opens_at(23, 9) + opens_at(20, 3))
    # When planned
    _, decision = planned(profile, campaign())
    # Then it goes at 20:00, the most engaged hour outside quiet hours
    assert decision.send_at == paris(2, 20)


def test_the_campaigns_window_bounds_the_choice() -> None:
    # Given a customer who reads at 19:xx, and a campaign whose window is 09:30-18:00 with some opens at 09:xx
    profile = customer(opens_at(19, 8) + opens_at(9, 2))
    offer = campaign(window={"start": "09:30", "end": "18:00"})
    # When triggered at 10:00 on Monday
    _, decision = planned(profile, offer)
    # Then it goes at 09:30 on Tuesday, the first allowed instant of the best hour inside the window
    assert decision.send_at == paris(3, 9, 30)
    assert optimised(decision)["hour"] == 9


def test_send_by_bounds_the_choice() -> None:
    # Given a customer who reads at 19:xx, and a campaign that must go within 6 hours of the trigger
    profile = customer(opens_at(19, 8) + opens_at(14, 1))
    # When planned
    _, decision = planned(profile, campaign(send_by="6h"))
    # Then the deadline wins: 14:00, the best hour before 16:00
    assert decision.send_at == paris(2, 14)


def test_a_tie_goes_to_the_earliest_hour() -> None:
    # Given as many opens at 13:xx as at 17:xx
    profile = customer(opens_at(13, 3) + opens_at(17, 3))
    _, decision = planned(profile, campaign())
    assert decision.send_at == paris(2, 13)


def test_opens_older_than_90_days_are_not_evidence() -> None:
    # Given a customer whose five 19:xx opens are all more than 90 days old
    profile = customer(opens_at(19, 5, days_ago_from=91))
    # When planned without population data
    _, decision = planned(profile, campaign())
    # Then nothing moves it, and the reason says there was too little evidence
    assert decision.send_at == NOW
    assert optimised(decision) | {"until": None} == {
        "hour": 10,
        "evidence": 0,
        "fallback": "none",
        "timezone": "Europe/Paris",
        "max_delay": "1d",
        "until": None,
    }


def test_customers_who_read_at_the_same_hour_are_spread_over_the_release_spread() -> None:
    # Given many customers who all read at 19:xx, and the policy's release spread of 5 minutes
    policy = GlobalPolicy.model_validate({**QUIET, "release_spread": "5m"})
    sends = []
    for number in range(40):
        profile = customer(opens_at(19, 6)).model_copy(update={"customer_id": f"c{number}"})
        _, decision = planned(profile, campaign(), policy)
        # Then each goes at its own offset after 19:00, and says so after the optimal hour
        assert optimised(decision)["until"] == paris(2, 19).isoformat()
        assert decision.reason_codes[-2:] == [
            "send_time_optimised",
            "release_spread",
        ] or decision.send_at == paris(2, 19)
        assert paris(2, 19) <= decision.send_at < paris(2, 19, 5)
        sends.append(decision.send_at)
    # And not in the same minute
    assert len({at.replace(second=0) for at in sends}) == 5


# -- the population's hours ---------------------------------------------------------------------------------


def test_thin_evidence_falls_back_to_the_populations_hours() -> None:
    # Given a customer with only four opens (at 19:xx), and a population that opens most at 12:xx
    profile = customer(opens_at(19, 4))
    asked: list[int] = []

    def hours() -> HourCounts:
        asked.append(1)
        return population(12)

    # When planned
    _, decision = planned(profile, campaign(), population=hours)
    # Then the population's best hour is used, and the reason says so
    assert decision.send_at == paris(2, 12)
    assert optimised(decision)["fallback"] == "population"
    assert optimised(decision)["evidence"] == 480
    assert asked == [1]


def test_enough_evidence_of_the_customer_never_asks_for_the_populations() -> None:
    profile = customer(opens_at(19, 5))
    asked: list[int] = []

    def hours() -> HourCounts:
        asked.append(1)
        return population(12)

    _, decision = planned(profile, campaign(), population=hours)
    assert decision.send_at == paris(2, 19)
    assert asked == []


def test_a_thin_population_keeps_the_campaigns_own_time() -> None:
    # Given a customer with two opens and a population with only 239
    profile = customer(opens_at(19, 2))
    _, decision = planned(profile, campaign(), population=lambda: population(12, total=239))
    # Then the message goes when its own timing says, and the reason says `none`
    assert decision.send_at == NOW
    assert optimised(decision)["fallback"] == "none"
    assert optimised(decision)["evidence"] == 2


# -- caps apply after, the sender agrees ------------------------------------------------------------------


def test_a_full_cap_still_pushes_an_optimised_message() -> None:
    # Given a customer who reads at 19:xx and got a promotion at 18:30 today, with a cap of 1 per 4 hours
    sent = SendRecord(campaign_id="other", at=paris(2, 18, 30), promotional=True)
    profile = customer(opens_at(19, 6), sends=[sent])
    policy = GlobalPolicy(
        frequency_caps=[FrequencyCap(max=1, per=timedelta(hours=4))], release_spread=timedelta(0)
    )
    # When planned
    _, decision = planned(profile, campaign(), policy)
    # Then the optimal hour comes first, and the cap moves it on from there
    assert decision.reason_codes[-2:] == ["send_time_optimised", "frequency_cap"]
    assert decision.send_at == paris(2, 22, 30)


def test_when_the_schedule_fires_at_the_chosen_hour_the_sender_sends() -> None:
    # Given a message optimised to 19:00
    profile = customer(opens_at(19, 6))
    offer = campaign()
    plan, _ = planned(profile, offer)
    (message,) = plan.schedule
    # When its schedule fires at 19:00
    verdict = decide_at_send(
        plan.profile, message, offer, GlobalPolicy.model_validate(QUIET), None, paris(2, 19)
    )
    # Then it goes: the sender does not move it again
    assert verdict.action is Action.SEND


# -- declaring it -------------------------------------------------------------------------------------------


def write(tmp_path: Any, text: str) -> Any:
    (tmp_path / "offer.yaml").write_text(text, encoding="utf-8")
    return tmp_path


BASE = """
id: offer
name: Offer
trigger: {event: Product Viewed}
template: browse
"""


def test_the_compact_and_the_full_form_are_read() -> None:
    assert campaign().timing.send_time is not None
    assert campaign().timing.send_time.max_delay == timedelta(hours=24)  # type: ignore[union-attr]
    full = campaign(send_time={"mode": "optimal", "max_delay": "12h"})
    assert full.timing.send_time.max_delay == timedelta(hours=12)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("timing", "problem"),
    [
        ("send_time: soonish", "timing.send_time: Value error, 'soonish': write `optimal`"),
        (
            "send_time: {mode: optimal, max_delay: 30d}",
            "timing.send_time.max_delay: Value error, max_delay must",
        ),
        (
            "{send_time: optimal, at_local_time: '10:00'}",
            "timing: Value error, send_time: optimal picks the hour",
        ),
    ],
)
def test_a_bad_send_time_is_refused_naming_the_field(tmp_path: Any, timing: str, problem: str) -> None:
    text = BASE + ("timing:\n  " + timing if not timing.startswith("{") else "timing: " + timing) + "\n"
    with pytest.raises(CampaignError) as raised:
        load_campaigns(write(tmp_path, text))
    assert any(problem in line for line in raised.value.problems), raised.value.problems


def test_a_transactional_campaign_refuses_an_optimal_send_time(tmp_path: Any) -> None:
    text = BASE + "kind: transactional\ntiming: {send_time: optimal}\n"
    with pytest.raises(CampaignError) as raised:
        load_campaigns(write(tmp_path, text))
    assert "a transactional message (a receipt) goes at once" in raised.value.problems[0]


PROGRAM = """
id: series
name: Series
kind: {kind}
trigger: {{event: Signed Up}}
steps:
  - id: hello
    send: welcome
    timing: {{send_time: {{mode: optimal, max_delay: 12h}}}}
"""


def test_a_program_step_may_declare_it_and_its_campaign_carries_it(tmp_path: Any) -> None:
    (tmp_path / "series.yaml").write_text(PROGRAM.format(kind="promotional"), encoding="utf-8")
    (program,) = load_programs(tmp_path)
    (step,) = step_campaigns(program)
    assert step.timing.send_time is not None
    assert step.timing.send_time.max_delay == timedelta(hours=12)


def test_a_transactional_program_step_refuses_it(tmp_path: Any) -> None:
    (tmp_path / "series.yaml").write_text(PROGRAM.format(kind="transactional"), encoding="utf-8")
    with pytest.raises(CampaignError) as raised:
        load_programs(tmp_path)
    assert "steps.0(hello).timing.send_time" in raised.value.problems[0], raised.value.problems


def test_a_program_step_with_an_optimal_send_time_waits_for_the_customers_hour(tmp_path: Any) -> None:
    # Given a promotional program whose first step sends at the customer's best hour
    text = PROGRAM.format(kind="promotional").replace("Signed Up", "Product Viewed")
    (tmp_path / "series.yaml").write_text(text, encoding="utf-8")
    (program,) = load_programs(tmp_path)
    # When a customer who reads at 15:xx enters it at 10:00
    plan = plan_event(
        customer(opens_at(15, 6)),
        viewed(),
        [],
        GlobalPolicy.model_validate(QUIET),
        NOW,
        programs=[program],
    )
    # Then the step's message is planned for 15:00, and its decision names the step, then the optimal hour
    (step,) = [d for d in plan.decisions if d.outcome is Outcome.SCHEDULED]
    assert step.send_at == paris(2, 15)
    assert step.reason_codes == ["program_step", "send_time_optimised"]
    assert optimised(step)["fallback"] == "customer"
