"""The catalog's stories, as journeys run through `righttime simulate`: back in stock for who wanted it while
it was out, a price drop for who saw the higher price, and nothing promoted once it has sold out."""

from __future__ import annotations

from typing import Any

from righttime_dev.simulate import simulate
from tests.conftest import EVENTS, ROOT, TEMPLATE

JOURNEYS = EVENTS / "journeys"


def _run(name: str) -> list[dict[str, Any]]:
    journey = JOURNEYS / name
    return simulate(
        journey, template=TEMPLATE, campaigns=ROOT / "campaigns", templates=ROOT / "templates", until="5d"
    ).lines


def _decisions(lines: list[dict[str, Any]], user: str, campaign: str) -> list[tuple[str, str, list[str]]]:
    return [
        (d["at"][:16], d["outcome"], [r["code"] for r in d["reasons"]])
        for d in lines
        if d["type"] == "decision" and d["user_id"] == user and d["campaign"] == campaign
    ]


def _sent(lines: list[dict[str, Any]], campaign: str) -> list[tuple[str, str, str]]:
    return [
        (s["at"][:16], s["user_id"], s["subject"])
        for s in lines
        if s["type"] == "sent" and s["campaign"] == campaign
    ]


def test_back_in_stock_reaches_who_wanted_it_while_it_was_out_once_a_week():
    # Given the green jacket: Tom viewed it in stock, it sold out, Mia viewed it sold out, three came back
    lines = _run("back-in-stock.jsonl")
    # Then only Mia hears that it is back, the next morning at 08:00 in Berlin (the campaign's window)
    assert _sent(lines, "back_in_stock") == [("2026-11-06T07:02", "mia", "Green jacket is back in stock")]
    # And her browse nudge about the jacket, due while it was sold out, was not sent: it said so
    assert ("2026-11-04T08:04", "suppressed", ["out_of_stock"]) in _decisions(
        lines, "mia", "browse_abandonment"
    )
    # And her order two days later is credited to the back-in-stock message
    assert any(o == "attributed" for _, o, _ in _decisions(lines, "mia", "back_in_stock"))
    # And when it sells out and comes back again within the week, she is not told twice
    assert _decisions(lines, "mia", "back_in_stock")[-1] == ("2026-11-11T09:00", "suppressed", ["reentry"])
    assert _decisions(lines, "tom", "back_in_stock") == []


def test_a_price_drop_reaches_who_saw_the_higher_price_and_a_small_cut_reaches_no_one():
    # Given a lamp Leo carted at 90, cut to 72 a week later; Ivy saw it only at 72; then a 2 % cut
    lines = _run("price-drop.jsonl")
    # Then Leo hears of the cut, at 09:00 in Paris (the window opens then), and Ivy never does
    assert _sent(lines, "price_drop") == [("2026-11-09T08:00", "leo", "Desk lamp now costs less")]
    assert _decisions(lines, "ivy", "price_drop") == []
    # And the 2 % cut (below policy.yaml's catalog.price_drop_min of 5 %) decides nothing for anyone
    assert [d for d in lines if d["type"] == "decision" and d["at"] >= "2026-11-20"] == []
