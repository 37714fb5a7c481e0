"""Back-testing with `righttime simulate`: histories in any order and with late arrivals, sharded across
processes with the same output, a summary per campaign, e-mails only when asked, a progress bar that
stays off stdout, and two campaign sets compared over one journey."""

from __future__ import annotations

import io
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from righttime_dev.cli import main
from righttime_dev.journeys import JourneyError, journey_of_size, write_journey
from righttime_dev.simulate import ProgressBar, compare, simulate
from tests.conftest import EVENTS, ROOT, TEMPLATE

JOURNEYS = EVENTS / "journeys"


def _run(journey: Path, **options: Any) -> list[dict[str, Any]]:
    return simulate(
        journey, template=TEMPLATE, campaigns=ROOT / "campaigns", templates=ROOT / "templates", **options
    ).lines


def _write(path: Path, messages: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(m) + "\n" for m in messages))
    return path


def _generated(tmp_path: Path, events: int) -> Path:
    return write_journey(tmp_path / "sorted.jsonl", journey_of_size(events))


def test_a_history_in_any_order_gives_the_decisions_of_the_sorted_one(tmp_path: Path):
    # Given 300 events of shopping sessions in time order, and the same lines shuffled, as exports come
    ordered = _generated(tmp_path, 300)
    lines = ordered.read_text().splitlines()
    random.Random(3).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join(lines) + "\n")
    # When both are simulated
    from_sorted, from_shuffled = _run(ordered), _run(shuffled)
    # Then the shuffled history is accepted and decides exactly as the sorted one
    assert from_shuffled == from_sorted
    assert from_sorted[-1]["events"] == 300 and from_sorted[-1]["sent"] > 0


def test_an_order_that_arrives_late_does_not_cancel_a_reminder_already_sent(tmp_path: Path):
    # Given a cart at 09:00 and an order at 09:30, in the customer's waking hours
    identify = {
        "type": "identify",
        "userId": "late",
        "traits": {"email": "late@example.com", "timezone": "Europe/London"},
        "timestamp": "2026-11-20T08:59:00Z",
    }
    added = {
        "type": "track",
        "userId": "late",
        "event": "Product Added",
        "properties": {"product_id": "p1", "cart_id": "c1", "price": 10},
        "timestamp": "2026-11-20T09:00:00Z",
    }
    order = {
        "type": "track",
        "userId": "late",
        "event": "Order Completed",
        "properties": {"order_id": "o1", "revenue": 10, "products": [{"product_id": "p1"}]},
        "timestamp": "2026-11-20T09:30:00Z",
    }
    # When the order reaches righttime on time, and when it reaches it at 12:00 (a phone that was offline)
    on_time = _run(_write(tmp_path / "on-time.jsonl", [identify, added, order]))
    late = _run(
        _write(tmp_path / "late.jsonl", [identify, added, {**order, "receivedAt": "2026-11-20T12:00:00Z"}])
    )

    def cart(lines: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [
            (line["outcome"], line["at"])
            for line in lines
            if line["type"] == "decision" and line["campaign"] == "cart_abandonment"
        ]

    # Then on time, the order cancels the reminder before it goes out
    assert [outcome for outcome, _ in cart(on_time)] == ["scheduled", "cancelled"]
    # And late, the reminder went out at 10:00 because nobody knew of the order yet; the order counts when
    # it arrives (its confirmation is decided at 12:00, with its own timestamp kept)
    assert cart(late)[:2] == [
        ("scheduled", "2026-11-20T09:00:00+00:00"),
        ("sent", "2026-11-20T10:00:00+00:00"),
    ]
    confirmation = next(
        line for line in late if line["type"] == "decision" and line["campaign"] == "order_confirmation"
    )
    assert confirmation["at"] == "2026-11-20T12:00:00+00:00"


def test_a_bad_received_at_names_its_line_and_field(tmp_path: Path):
    journey = tmp_path / "bad.jsonl"
    journey.write_text(
        '{"type": "identify", "userId": "u", "timestamp": "2026-01-01T00:00:00Z"}\n'
        '{"type": "identify", "userId": "u", "timestamp": "2026-01-01T00:00:00Z", "receivedAt": "soon"}\n'
    )
    with pytest.raises(JourneyError) as failure:
        _run(journey)
    assert str(failure.value).startswith(f"{journey}:2: receivedAt: ")


def test_any_number_of_processes_prints_the_same_lines(tmp_path: Path):
    # Given 600 events of generated sessions, in which two customers share an e-mail address
    messages = [json.loads(line) for line in _generated(tmp_path, 600).read_text().splitlines()]
    first, second = sorted({m["userId"] for m in messages if m["type"] == "identify"})[:2]
    for message in messages:
        if message["type"] == "identify" and message["userId"] == second:
            message["traits"]["email"] = f"{first}@example.com"
    journey = _write(tmp_path / "household.jsonl", messages)
    # When it is simulated on one process and sharded across three
    one, three = _run(journey), _run(journey, jobs=3)
    # Then every line is the same, in the same order
    assert three == one
    assert one[-1]["events"] == 600


def test_a_bad_line_in_any_shard_is_reported_as_on_one_process(tmp_path: Path):
    # Given a journey whose fifth line has no event name
    lines = _generated(tmp_path, 40).read_text().splitlines()
    broken = json.loads(lines[4])
    broken.pop("event", None)
    broken["type"] = "track"
    lines[4] = json.dumps(broken)
    journey = tmp_path / "broken.jsonl"
    journey.write_text("\n".join(lines) + "\n")
    # When it is simulated on one process and on three
    errors = []
    for jobs in (1, 3):
        with pytest.raises(JourneyError) as failure:
            _run(journey, jobs=jobs)
        errors.append(str(failure.value))
    # Then both name the same line and field
    assert errors[0] == errors[1]
    assert errors[0].startswith(f"{journey}:5: event: ")


def test_each_campaign_ends_with_its_summary_and_sends_by_local_hour():
    # Given the suit buyer (New York), whose cross-sell goes out three days later at 10:00 his time
    lines = _run(JOURNEYS / "suit-buyer.jsonl")
    # Then before the run's summary, each campaign says what happened to it
    campaigns = {line["campaign"]: line for line in lines if line["type"] == "campaign"}
    assert lines[-1]["type"] == "summary"
    cross_sell = campaigns["post_purchase_series--v1--cross_sell"]
    assert (cross_sell["triggered"], cross_sell["scheduled"], cross_sell["sent"]) == (1, 1, 1)
    assert cross_sell["sends_by_local_hour"] == {"10": 1}
    browse = campaigns["browse_abandonment"]
    assert browse["sent"] == 0 and browse["other_outcomes"] == {"expired": 1}
    # And the campaigns' counts add up to the run's
    assert sum(c["sent"] for c in campaigns.values()) == lines[-1]["sent"]


def test_emails_are_written_only_when_asked_and_the_output_does_not_change(tmp_path: Path):
    # Given the daily-cap journey
    journey = JOURNEYS / "daily-cap-priority.jsonl"
    # When it is simulated without and with --emails
    plain = _run(journey)
    outbox = tmp_path / "outbox"
    with_emails = _run(journey, emails=outbox)
    # Then the lines are the same (recipient and subject included), and the outbox holds one .eml per send
    assert with_emails == plain
    sent = [line for line in plain if line["type"] == "sent"]
    assert sent and all(line["to"] and line["subject"] for line in sent)
    written = sorted(outbox.glob("*.eml"))
    assert len(written) == len(sent)
    assert b"Subject: " in written[0].read_bytes()


def test_the_progress_bar_goes_to_stderr_and_leaves_stdout_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Given the cart journey simulated from the command line without a progress bar
    command = [
        "simulate",
        str(JOURNEYS / "cart-abandonment.jsonl"),
        "--template",
        str(TEMPLATE),
        "--campaigns",
        str(ROOT / "campaigns"),
        "--templates",
        str(ROOT / "templates"),
    ]
    assert main(command) == 0
    quiet = capsys.readouterr()
    # When it runs again with --progress
    assert main([*command, "--progress"]) == 0
    loud = capsys.readouterr()
    # Then stdout is the same, and the bar is on stderr, complete
    assert loud.out == quiet.out
    assert quiet.err == ""
    assert "100% 3/3 events" in loud.err


def test_the_progress_bar_redraws_at_most_twice_a_second():
    # Given a bar on a clock that moves 0.1 s per reading
    ticks = iter(i / 10 for i in range(1000))
    stream = io.StringIO()
    bar = ProgressBar(stream, monotonic=lambda: next(ticks))
    # When 20 events are reported one by one
    for done in range(1, 21):
        bar(done, 20)
    # Then it drew a handful of times, and the last drawing is the complete one
    drawings = stream.getvalue().split("\r")[1:]
    assert 2 <= len(drawings) <= 6
    assert "100% 20/20 events" in drawings[-1]


def test_compare_says_what_a_tighter_cap_changes_per_campaign(tmp_path: Path):
    # Given the campaigns as they are, and a copy in which the daily cap is not one but two messages
    other = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", other)
    policy = other / "policy.yaml"
    policy.write_text(policy.read_text().replace("{max: 1, per: day}", "{max: 2, per: day}"))
    # When the daily-cap journey is compared across both
    lines = compare(
        JOURNEYS / "daily-cap-priority.jsonl",
        template=TEMPLATE,
        campaigns=ROOT / "campaigns",
        other_campaigns=other,
        templates=ROOT / "templates",
    )
    # Then the totals say more messages go out, and some campaign says how its sends changed
    total = lines[-1]
    assert total["campaign"] is None
    assert total["changes"]["sent"]["change"] > 0
    changed = [line for line in lines[:-1] if "sent" in line["changes"]]
    assert changed and all(
        c["changes"]["sent"]["after"] - c["changes"]["sent"]["before"] == c["changes"]["sent"]["change"]
        for c in changed
    )


def test_moto_sharded_across_two_processes_prints_what_memory_prints_on_one(isolated_env: None):
    # Given the daily-cap journey (three campaigns under one cap)
    journey = JOURNEYS / "daily-cap-priority.jsonl"
    # When it runs on moto across two processes, and in memory on one
    # Then both print the same lines
    assert _run(journey, engine_name="moto", jobs=2) == _run(journey)


def test_until_says_how_long_time_goes_on_after_the_last_event(capsys: pytest.CaptureFixture[str]):
    # Given a cart left at 09:25 whose reminder is due an hour later
    journey = JOURNEYS / "cart-abandonment.jsonl"
    # When time stops ten minutes after the last event, or at the default (400 days on)
    stopped, default = _run(journey, until="10m"), _run(journey)
    # Then the reminder goes out only when time goes on long enough
    assert not [line for line in stopped if line["type"] == "sent"]
    assert [line["campaign"] for line in default if line["type"] == "sent"] == ["cart_abandonment"]
    # And an instant before the last event, or a form it does not know, is refused by the command
    for until in ("2026-11-01", "soon"):
        assert main(["simulate", str(journey), "--until", until, "--template", str(TEMPLATE)]) == 2
        assert "--until" in capsys.readouterr().err


def test_the_summary_credits_orders_to_campaigns_and_to_their_holdout(tmp_path: Path):
    # Given the shipped campaigns with a 50% holdout on the cart reminder
    campaigns = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", campaigns)
    cart = campaigns / "cart_abandonment.yaml"
    cart.write_text(cart.read_text() + "holdout: 50%\n")
    # And 40 customers who leave a cart in the morning and buy it (for 30) the next day
    lines: list[dict[str, Any]] = []
    for n in range(40):
        user = f"shopper-{n}"
        lines += [
            {
                "type": "identify",
                "userId": user,
                "timestamp": "2026-11-02T08:00:00Z",
                "traits": {"email": f"{user}@example.com"},
            },
            {
                "type": "track",
                "userId": user,
                "timestamp": "2026-11-02T09:00:00Z",
                "event": "Product Added",
                "properties": {"product_id": "p", "price": 30},
            },
            {
                "type": "track",
                "userId": user,
                "timestamp": "2026-11-03T12:00:00Z",
                "event": "Order Completed",
                "properties": {"order_id": f"o-{n}", "revenue": 30, "channel": "pos"},
            },
        ]
    journey = _write(tmp_path / "carts.jsonl", lines)
    # When the history is simulated
    result = simulate(
        journey, template=TEMPLATE, campaigns=campaigns, templates=ROOT / "templates", until="10d"
    )
    # Then each customer is sent the reminder or held out, and each order is credited to one of the two
    summary = next(
        line for line in result.lines if line["type"] == "campaign" and line["campaign"] == "cart_abandonment"
    )
    sent, held_out = summary["sent"], summary["other_outcomes"].get("held_out", 0)
    assert sent + held_out == 40 and sent > 0 and held_out > 0
    assert summary["attributed"] == {
        "orders": sent,
        "revenue": str(30 * sent),
        "held_out_orders": held_out,
        "held_out_revenue": str(30 * held_out),
    }


def test_a_back_test_writes_the_campaign_report_the_api_would_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Given a journey through the cart reminder, its order and its receipt
    journey = JOURNEYS / "cart-abandonment.jsonl"
    command = ["simulate", str(journey), "--until", "10d", "--template", str(TEMPLATE)]
    # When it is simulated with a JSON report, and with an HTML one
    assert main([*command, "--report", str(tmp_path / "report.json")]) == 0
    assert main([*command, "--report", str(tmp_path / "report.html")]) == 0
    # Then the JSON report counts what the run's summary line counts, campaign by campaign
    report = json.loads((tmp_path / "report.json").read_text())
    summary = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"type": "campaign"' in line
    ]
    for line in summary:
        counts = next(c for c in report["campaigns"] if c["id"] == line["campaign"])["counts"]
        assert (counts["sent"], counts["suppressed"]) == (line["sent"], line["suppressed"])
    # And the HTML report is one page naming the period
    page = (tmp_path / "report.html").read_text()
    assert (
        page.lower().startswith("<!doctype html>") and report["from"] in page and "cart_abandonment" in page
    )
    # And a report file of another kind is refused before anything runs
    assert main([*command, "--report", str(tmp_path / "report.txt")]) == 2
    assert "name a .html or a .json file" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["back-in-stock.jsonl", "price-drop.jsonl"])
def test_the_catalog_and_what_customers_buy_together_are_shared_across_processes(name: str, tmp_path: Path):
    # Given a catalog journey, and orders of many customers that pair a suit with shoes
    lines = (JOURNEYS / name).read_text().splitlines()
    for n in range(12):
        products = [{"product_id": "suit", "category": "suits"}, {"product_id": "shoes", "category": "shoes"}]
        lines.append(
            json.dumps(
                {
                    "type": "track",
                    "userId": f"pair-{n}",
                    "timestamp": f"2026-11-01T0{n % 10}:00:00Z",
                    "event": "Order Completed",
                    "properties": {"order_id": f"pair-{n}", "products": products},
                }
            )
        )
    journey = tmp_path / name
    journey.write_text("\n".join(lines) + "\n")
    # When it is simulated on one process and sharded across three
    one, three = _run(journey, until="5d"), _run(journey, jobs=3, until="5d")
    # Then every line is the same: the product updates reach every shard's customers, each shard learns from
    # every order, and each event is counted once
    assert three == one
    assert one[-1]["events"] == len([line for line in lines if line.strip() and not line.startswith("#")])
