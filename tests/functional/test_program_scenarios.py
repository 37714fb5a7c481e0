"""The shipped programs (campaigns/*.yaml with steps), each through its journey in events/journeys/ and
`righttime simulate` on a virtual clock that follows the due sweep for as long as the journey needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from righttime_dev.simulate import simulate
from tests.conftest import EVENTS, ROOT, TEMPLATE

JOURNEYS = EVENTS / "journeys"


def _run(name: str, until: str = "200d") -> list[dict[str, Any]]:
    return simulate(
        JOURNEYS / name,
        template=TEMPLATE,
        campaigns=ROOT / "campaigns",
        templates=ROOT / "templates",
        until=until,
    ).lines


def _sent(lines: list[dict[str, Any]], user: str, program: str) -> list[tuple[str, str]]:
    """(step, local time of the send) for each message of `program` the customer got."""
    found = []
    for line in lines:
        if line["type"] == "decision" and line["outcome"] == "sent" and line["user_id"] == user:
            program_id, _, step = line["campaign"].partition("--v1--")
            if program_id == program:
                local = datetime.fromisoformat(line["at"]).astimezone(ZoneInfo(line["timezone"]))
                found.append((step, local.strftime("%a %Y-%m-%d %H:%M")))
    return found


def _outcomes(lines: list[dict[str, Any]], user: str, campaign: str) -> list[tuple[str, list[str]]]:
    return [
        (d["outcome"], [r["code"] for r in d["reasons"]])
        for d in lines
        if d["type"] == "decision" and d["user_id"] == user and d["campaign"] == campaign
    ]


def test_the_welcome_series_sends_four_messages_and_the_survey_answer_brings_the_offer_forward():
    # Given Lena, who subscribes at 22:30 in Berlin, and answers the survey on the evening it arrives
    lines = _run("welcome-series.jsonl")
    # Then she gets four messages over about nine days, none in quiet hours: the welcome when they end,
    # tips and survey at 10:00, and the offer the morning after her answer instead of five days later
    assert _sent(lines, "lena", "welcome_series") == [
        ("welcome", "Tue 2026-11-03 08:04"),
        ("tips", "Fri 2026-11-06 10:00"),
        ("survey", "Tue 2026-11-10 10:00"),
        ("offer", "Wed 2026-11-11 10:00"),
    ]
    assert ("advanced", ["event_arrived"]) in _outcomes(lines, "lena", "welcome_series")
    # And the offer thanks her for answering (her answer is kept on her profile)
    subjects = [s["subject"] for s in lines if s["type"] == "sent" and s["user_id"] == "lena"]
    assert subjects[-1] == "Thank you: 10% off for your first order"
    # And repeating `subscribed: true` did not start the series again
    assert [o for o, _ in _outcomes(lines, "lena", "welcome_series")].count("entered") == 1


def test_a_sign_up_starts_the_welcome_series_too_and_without_an_answer_the_offer_waits_five_days():
    # Given Ines, who signs up on the website at 20:31 in Sao Paulo and never answers the survey
    lines = _run("welcome-series.jsonl")
    # Then her series runs from the sign-up: the welcome at once (20:31 is before quiet hours), and the offer
    # five days after the survey, when the wait for her answer times out
    assert _sent(lines, "ines", "welcome_series") == [
        ("welcome", "Thu 2026-11-05 20:32"),
        ("tips", "Mon 2026-11-09 10:00"),
        ("survey", "Fri 2026-11-13 10:00"),
        ("offer", "Wed 2026-11-18 10:00"),
    ]
    assert ("advanced", ["timed_out"]) in _outcomes(lines, "ines", "welcome_series")


def test_a_purchase_ends_the_welcome_series_after_its_first_message():
    # Given Kenji, who subscribes and buys the next day
    lines = _run("welcome-series.jsonl")
    # Then he got the welcome only, and the series says why it stopped
    assert [step for step, _ in _sent(lines, "kenji", "welcome_series")] == ["welcome"]
    assert ("exited", ["converted"]) in _outcomes(lines, "kenji", "welcome_series")


def test_birthdays_go_out_on_the_customers_own_morning_from_utc_minus_12_to_plus_14():
    # Given customers in India, Kiritimati (UTC+14), UTC-12, and one born on 29 February
    lines = _run("birthday.jsonl", until="120d")
    # Then each gets the offer at 09:00 on their birthday on their own clock (the due sweep at 09:00 plans
    # it, and its schedule fires within the minute); Pat on 28 February in 2027
    assert _sent(lines, "maya", "birthday") == [("offer", "Thu 2026-12-03 09:01")]
    assert _sent(lines, "teuea", "birthday") == [("offer", "Tue 2026-12-01 09:01")]
    assert _sent(lines, "hal", "birthday") == [("offer", "Tue 2026-12-01 09:01")]
    assert _sent(lines, "pat", "birthday") == [("offer", "Sun 2027-02-28 09:01")]


def test_the_birthday_comes_back_every_year_and_once_a_year():
    # Given the same customers over two years
    lines = _run("birthday.jsonl", until="400d")
    # Then Maya gets one offer per birthday, never two on the same day
    assert [when[4:14] for _, when in _sent(lines, "maya", "birthday")] == ["2026-12-03", "2027-12-03"]


def test_the_renewal_reminder_goes_a_week_before_the_date_in_the_trait_and_follows_it():
    # Given Ben, whose plan renews on 15 January and then, once renewed, on 20 January 2028
    lines = _run("renewal-reminder.jsonl", until="400d")
    # Then the reminder goes on 8 January at 10:00 in Chicago, and next year a week before the new date
    assert _sent(lines, "ben", "renewal_reminder") == [
        ("reminder", "Fri 2027-01-08 10:01"),
        ("reminder", "Thu 2028-01-13 10:01"),
    ]


def test_the_loyalty_milestone_fires_once_per_crossing_not_while_hovering():
    # Given Chloe's points: 900, 1,010 (crossing), 980, 1,020 (hovering), 850 (re-armed), 1,005 weeks later
    lines = _run("loyalty-milestone.jsonl", until="30d")
    # Then she hears about it at the first crossing, and again only after falling back under 900
    assert [when[4:14] for _, when in _sent(lines, "chloe", "loyalty_milestone")] == [
        "2026-11-05",
        "2026-12-28",
    ]


def test_the_win_back_sends_two_steps_and_any_purchase_including_in_store_stops_it():
    # Given Dana and Eli, who last ordered in early March; Eli buys in store between the two messages
    lines = _run("win-back.jsonl")
    # Then after 180 days each gets the first message on a Tuesday to Thursday at 10:00 their time
    assert _sent(lines, "dana", "win_back") == [
        ("we_miss_you", "Tue 2026-09-01 10:00"),
        ("last_chance", "Tue 2026-09-15 10:00"),
    ]
    # And Eli's point-of-sale order ended his run before the second one; lapsing again 180 days after that
    # order, he is won back again, at 10:00 on either side of the clock change in Denver
    assert _sent(lines, "eli", "win_back") == [
        ("we_miss_you", "Tue 2026-09-01 10:00"),
        ("we_miss_you", "Wed 2027-03-10 10:00"),
        ("last_chance", "Wed 2027-03-24 10:00"),
    ]
    assert ("exited", ["converted"]) in _outcomes(lines, "eli", "win_back")


def test_the_post_purchase_series_cross_sells_then_asks_for_a_review_and_a_refund_ends_it():
    # Given Noor (Dubai), who buys a lamp, and Omar, who refunds his order two days later
    lines = _run("post-purchase-series.jsonl", until="30d")
    # Then Noor's receipt goes at once, the cross-sell three days later at 10:00, the review a week after
    sends = [(s["campaign"], s["subject"]) for s in lines if s["type"] == "sent" and s["user_id"] == "noor"]
    assert sends == [
        ("order_confirmation", "Your order n-1 is confirmed"),
        ("post_purchase_series--v1--cross_sell", "Bulbs to go with your order"),
        ("post_purchase_series--v1--review", "How is your order n-1?"),
    ]
    assert _sent(lines, "noor", "post_purchase_series") == [
        ("cross_sell", "Fri 2026-11-06 10:00"),
        ("review", "Fri 2026-11-13 10:00"),
    ]
    # And Omar's refund cancels his waiting cross-sell and ends his series
    assert _outcomes(lines, "omar", "post_purchase_series--v1--cross_sell")[-1] == (
        "cancelled",
        ["exit_event"],
    )
    assert not _sent(lines, "omar", "post_purchase_series")
