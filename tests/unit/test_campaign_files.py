"""Campaign files as marketers write them, and the durations in them."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from righttime.core.campaigns import Campaign, CampaignError, Kind, load_campaigns
from righttime.core.conditions import Condition, Op
from righttime.core.durations import format_duration, parse_duration
from righttime.core.global_policy import POLICY_FILE, GlobalPolicy, PolicyError, load_policy
from righttime.stages.rendering import TEMPLATE_PARTS

ROOT = Path(__file__).resolve().parents[2]

VALID = """\
id: cart
name: Cart reminder
kind: promotional
trigger:
  events: [Product Added]
audience:
  - {field: cart_items, op: gt, value: 0}
timing:
  delay: 1h30m
  window: {days: [mon, tue, wed, thu, fri], start: "08:00", end: "21:00"}
  send_by: 24h
exit:
  events: [Order Completed]
  conditions:
    - {field: cart_items, op: equals, value: 0}
template: cart_abandonment
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        load_campaigns(folder)
    return caught.value.problems


# --- loading ----------------------------------------------------------------------------------------


def test_a_valid_file_loads_as_a_campaign(tmp_path: Path) -> None:
    # Given a campaigns folder with one valid file
    write(tmp_path, "cart.yaml", VALID)
    # When the folder is loaded
    [campaign] = load_campaigns(tmp_path)
    # Then every field the marketer wrote is understood
    assert campaign.id == "cart"
    assert campaign.kind is Kind.PROMOTIONAL
    assert campaign.is_triggered_by("Product Added", {})
    assert not campaign.is_triggered_by("Product Viewed", {})
    assert campaign.exits_on("Order Completed")
    assert campaign.audience == [Condition(field="cart_items", op=Op.GT, value=0)]
    assert campaign.timing.delay == timedelta(hours=1, minutes=30)
    assert campaign.timing.send_by == timedelta(hours=24)
    assert campaign.timing.window is not None
    assert campaign.timing.window.describe() == "mon,tue,wed,thu,fri 08:00-21:00"
    assert campaign.template == "cart_abandonment"


def test_defaults_fill_what_a_minimal_file_leaves_out(tmp_path: Path) -> None:
    # Given a file with only the required fields
    write(tmp_path, "min.yml", "id: minimal\nname: M\ntrigger: {events: [Signed Up]}\ntemplate: welcome\n")
    # When it is loaded
    [campaign] = load_campaigns(tmp_path)
    # Then it is an enabled promotional campaign for everyone, sent an hour after its trigger, with no exits
    assert campaign.enabled
    assert campaign.kind is Kind.PROMOTIONAL
    assert campaign.audience == []
    assert campaign.timing.delay == timedelta(hours=1)
    assert campaign.timing.window is None
    assert not campaign.exits_on("Order Completed")


def test_a_single_trigger_event_can_be_written_as_event(tmp_path: Path) -> None:
    # Given a trigger written with the `event:` shorthand and a property filter
    text = VALID.replace(
        "trigger:\n  events: [Product Added]",
        "trigger:\n  event: Product Added\n  where:\n    - {field: channel, op: in, value: [web, app]}",
    )
    write(tmp_path, "cart.yaml", text)
    [campaign] = load_campaigns(tmp_path)
    # Then it triggers on that event, only when the filter holds
    assert campaign.is_triggered_by("Product Added", {"channel": "web"})
    assert not campaign.is_triggered_by("Product Added", {"channel": "pos"})
    assert not campaign.is_triggered_by("Product Added", {})


def test_campaigns_come_back_sorted_by_id_from_yaml_and_yml_only(tmp_path: Path) -> None:
    # Given two campaign files (.yaml and .yml) and a README in the folder
    write(tmp_path, "z.yaml", VALID.replace("id: cart", "id: beta"))
    write(tmp_path, "a.yml", VALID.replace("id: cart", "id: alpha"))
    write(tmp_path, "README.md", "not: a campaign")
    # When the folder is loaded
    # Then both campaigns load, sorted by id, and the README is ignored
    assert [c.id for c in load_campaigns(tmp_path)] == ["alpha", "beta"]


def test_a_disabled_campaign_is_never_triggered(tmp_path: Path) -> None:
    # Given a campaign switched off by its marketer
    write(tmp_path, "cart.yaml", VALID + "enabled: false\n")
    [campaign] = load_campaigns(tmp_path)
    # Then its trigger event does not start it
    assert not campaign.is_triggered_by("Product Added", {})


def test_a_bad_delay_names_file_campaign_and_field(tmp_path: Path) -> None:
    # Given a file whose delay is not a duration
    write(tmp_path, "bad.yaml", VALID.replace("delay: 1h30m", "delay: soon"))
    # When the folder is loaded
    [problem] = problems_of(tmp_path)
    # Then the one problem says where, and what a duration looks like
    assert problem.startswith("bad.yaml: cart: timing.delay: ")
    assert "'soon' is not a duration" in problem
    assert "1h30m" in problem


def test_a_malformed_iso_delay_names_the_field(tmp_path: Path) -> None:
    # Given an ISO 8601-looking delay that is not valid
    write(tmp_path, "bad.yaml", VALID.replace("delay: 1h30m", "delay: P1X"))
    # Then the problem names file, campaign and field
    [problem] = problems_of(tmp_path)
    assert problem.startswith("bad.yaml: cart: timing.delay: ")


@pytest.mark.parametrize(("delay", "message"), [("366d", "between 0s and 365d"), ("-5", "has no unit")])
def test_a_delay_outside_0_to_365_days_is_rejected(tmp_path: Path, delay: str, message: str) -> None:
    # Given a delay over a year, or a bare (negative) number
    write(tmp_path, "bad.yaml", VALID.replace("delay: 1h30m", f"delay: {delay}"))
    # Then the problem names the field and what is wrong
    [problem] = problems_of(tmp_path)
    assert problem.startswith("bad.yaml: cart: timing.delay: ")
    assert message in problem


def test_unknown_fields_are_rejected_at_any_depth(tmp_path: Path) -> None:
    # Given a file with a typo at the top level and one inside timing
    text = VALID.replace("trigger:", "triger: {events: [X]}\ntrigger:").replace(
        "delay:", "dealy: 2h\n  delay:"
    )
    write(tmp_path, "typo.yaml", text)
    # When the folder is loaded
    problems = problems_of(tmp_path)
    # Then each typo is named, rather than silently ignored
    assert any(p.startswith("typo.yaml: cart: triger: ") and "Extra inputs" in p for p in problems)
    assert any(p.startswith("typo.yaml: cart: timing.dealy: ") for p in problems)


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    # Given a campaign with no template
    write(tmp_path, "notpl.yaml", VALID.replace("template: cart_abandonment\n", ""))
    # Then the problem names the missing field
    assert problems_of(tmp_path) == ["notpl.yaml: cart: template: Field required"]


def test_a_campaign_without_id_is_labelled_by_its_file_name(tmp_path: Path) -> None:
    # Given a file that forgot the id
    write(tmp_path, "winback.yaml", VALID.replace("id: cart\n", ""))
    # Then the problem uses the file stem as the campaign label and names `id`
    assert problems_of(tmp_path) == ["winback.yaml: winback: id: Field required"]


def test_an_id_that_is_not_a_slug_is_rejected(tmp_path: Path) -> None:
    # Given an id with spaces and capitals (it ends up in keys and schedule names)
    write(tmp_path, "cart.yaml", VALID.replace("id: cart", "id: Cart Reminder"))
    [problem] = problems_of(tmp_path)
    assert problem.startswith("cart.yaml: Cart Reminder: id: ")


def test_duplicate_ids_are_reported(tmp_path: Path) -> None:
    # Given two files declaring the same campaign id
    write(tmp_path, "one.yaml", VALID)
    write(tmp_path, "two.yaml", VALID.replace("name: Cart reminder", "name: Copy"))
    # When the folder is loaded
    [problem] = problems_of(tmp_path)
    # Then the duplicate is named with its file and id
    assert problem.startswith("two.yaml: cart: id: duplicate campaign id")


def test_every_problem_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    # Given a folder with a good file, one that is not YAML, one that is a list, and one that is empty
    write(tmp_path, "good.yaml", VALID)
    write(tmp_path, "broken.yaml", "id: [unclosed\n")
    write(tmp_path, "list.yaml", "- id: cart\n")
    write(tmp_path, "empty.yaml", "")
    # When the folder is loaded
    problems = problems_of(tmp_path)
    # Then each bad file has its own line, and nothing is loaded
    assert len(problems) == 3
    assert any(p.startswith("broken.yaml: not valid YAML") for p in problems)
    assert "list.yaml: expected a mapping with the campaign's fields" in problems
    assert "empty.yaml: expected a mapping with the campaign's fields" in problems


def test_a_missing_folder_is_reported(tmp_path: Path) -> None:
    # Given a path that does not exist
    # Then loading says the folder is not found
    assert problems_of(tmp_path / "nope") == [f"{tmp_path / 'nope'}: campaigns folder not found"]


def test_the_error_message_lists_each_problem_on_its_own_line(tmp_path: Path) -> None:
    # Given two bad files
    write(tmp_path, "a.yaml", VALID.replace("delay: 1h30m", "delay: soon"))
    write(
        tmp_path, "b.yaml", VALID.replace("id: cart", "id: other").replace("template: cart_abandonment", "")
    )
    # When loading fails, Then the message a marketer reads has one line per problem
    with pytest.raises(CampaignError) as caught:
        load_campaigns(tmp_path)
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid campaigns:"
    assert len(lines) == 3


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        pytest.param(
            ("op: gt, value: 0", "op: gt, value: lots"),
            "audience.0",
            "needs a number value",
            id="numeric op with a text value",
        ),
        pytest.param(
            ("op: gt, value: 0", "op: in, value: 3"),
            "audience.0",
            "needs a list value",
            id="in without a list",
        ),
        pytest.param(
            ("op: gt, value: 0", "op: bigger, value: 0"), "audience.0.op", "", id="unknown operator"
        ),
        pytest.param(
            ("{field: cart_items, op: gt", "{feild: cart_items, op: gt"),
            "audience.0.feild",
            "Extra inputs",
            id="misspelt condition key",
        ),
        pytest.param(
            ("send_by: 24h", "send_by: 30m"), "timing", "send_by must not be shorter than delay", id="send_by"
        ),
        pytest.param(("days: [mon,", "days: [monday,"), "timing.window.days.0", "", id="unknown weekday"),
        pytest.param(('start: "08:00"', 'start: "8 am"'), "timing.window.start", "", id="bad time"),
    ],
)
def test_rule_mistakes_name_the_field(
    tmp_path: Path, change: tuple[str, str], field: str, message: str
) -> None:
    # Given a campaign with one mistake in its rules
    old, new = change
    assert old in VALID
    write(tmp_path, "cart.yaml", VALID.replace(old, new))
    # When the folder is loaded
    problems = problems_of(tmp_path)
    # Then a problem names the file, the campaign and the field, and says what is wrong
    assert any(p.startswith(f"cart.yaml: cart: {field}: ") and message in p for p in problems), problems


def test_once_per_reentry_needs_a_period(tmp_path: Path) -> None:
    # Given "once per" without saying per what
    write(tmp_path, "cart.yaml", VALID + "reentry: {mode: once_per}\n")
    # Then the problem says a period is needed
    [problem] = problems_of(tmp_path)
    assert problem.startswith("cart.yaml: cart: reentry: ")
    assert "period" in problem


def test_a_window_ending_at_24_00_means_midnight(tmp_path: Path) -> None:
    # Given a window written to end at 24:00
    write(tmp_path, "cart.yaml", VALID.replace('end: "21:00"', 'end: "24:00"'))
    [campaign] = load_campaigns(tmp_path)
    # Then it ends at midnight
    assert campaign.timing.window is not None
    assert campaign.timing.window.end == time(0, 0)


def test_the_shipped_campaigns_load_and_their_templates_exist() -> None:
    # Given the campaigns and templates folders shipped with righttime
    # When the campaigns are loaded
    campaigns = load_campaigns(ROOT / "campaigns")
    # Then they are valid, include cart abandonment, and each template they use has all its parts
    by_id = {c.id: c for c in campaigns}
    cart = by_id["cart_abandonment"]
    assert cart.is_triggered_by("Product Added", {"product_id": "sku-1"})
    assert cart.exits_on("Order Completed")
    assert cart.audience == [Condition(field="cart_items", op=Op.GT, value=0)]
    for campaign in campaigns:
        for template in campaign.templates:
            for part in TEMPLATE_PARTS:
                assert (ROOT / "templates" / template / part).is_file(), (campaign.id, template, part)


def test_the_policy_file_is_not_read_as_a_campaign(tmp_path: Path) -> None:
    # Given a campaigns folder holding a campaign and the global policy
    write(tmp_path, "cart.yaml", VALID)
    write(tmp_path, "policy.yaml", "quiet_hours: {start: '21:00', end: '08:00'}\n")
    # When the campaigns are loaded, Then only the campaign is
    assert [c.id for c in load_campaigns(tmp_path)] == ["cart"]


def test_a_campaign_round_trips_through_its_serialised_form(tmp_path: Path) -> None:
    # Given a loaded campaign
    write(tmp_path, "cart.yaml", VALID)
    [campaign] = load_campaigns(tmp_path)
    # When it is dumped to JSON-ready data and read back
    data = campaign.model_dump(mode="json")
    # Then the delay is written the way marketers write it, and nothing is lost
    assert data["timing"]["delay"] == "1h30m"
    assert Campaign.model_validate(data) == campaign


# --- the global policy file -----------------------------------------------------------------------


def test_the_shipped_policy_loads() -> None:
    # Given the policy shipped beside the campaigns
    policy = load_policy(ROOT / "campaigns")
    # Then its quiet hours and caps are understood
    assert policy.quiet_hours is not None
    assert policy.quiet_hours.describe() == "21:00-08:00"
    assert [cap.describe() for cap in policy.frequency_caps] == ["1 per calendar day", "3 per rolling 7d"]


def test_without_a_policy_file_no_global_rule_applies(tmp_path: Path) -> None:
    # Given a campaigns folder with no policy.yaml
    # Then the policy has no quiet hours, caps or cooldown
    assert load_policy(tmp_path) == GlobalPolicy()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("default_timezone: Mars/Olympus\n", "default_timezone"),
        ("frequency_caps: [{max: 0, per: day}]\n", "frequency_caps.0.max"),
        ("quiet_hours: {start: '21:00', end: '08:00', days: [mon]}\n", "quiet_hours.days"),
        ("purchase_cooldown: soon\n", "purchase_cooldown"),
    ],
)
def test_a_bad_policy_names_the_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    # Given a policy file with a mistake
    write(tmp_path, POLICY_FILE, text)
    # When it is loaded
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path)
    # Then the problem names the file and the field
    assert any(p.startswith(f"policy.yaml: {field}: ") for p in caught.value.problems), caught.value.problems


# --- durations --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        (" 1H30M ", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("2w", timedelta(weeks=2)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        ("0s", timedelta(0)),
        ("PT1H", timedelta(hours=1)),
        ("pt30m", timedelta(minutes=30)),
        ("P2DT3H", timedelta(days=2, hours=3)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_durations_parse_in_every_documented_form(text: object, expected: timedelta) -> None:
    # Given a duration as a marketer may write it
    # When it is parsed, Then it is the expected length
    assert parse_duration(text) == expected


@pytest.mark.parametrize("garbage", ["", "   ", "soon", "1x", "h", "1.5h", "-1h", "30m1h", None, True, [1]])
def test_garbage_is_not_a_duration_and_the_error_shows_the_forms(garbage: object) -> None:
    # Given something that is not a duration
    # When it is parsed, Then the error says so and shows the accepted forms
    with pytest.raises(ValueError, match=r"is not a duration: use e\.g\. 90s, 30m, 1h, 1h30m"):
        parse_duration(garbage)


@pytest.mark.parametrize("garbage", ["P", "PT", "P1X"])
def test_malformed_iso_durations_are_rejected(garbage: str) -> None:
    # Given ISO 8601-looking text that is not a valid duration
    # Then it is refused
    with pytest.raises(ValueError):
        parse_duration(garbage)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(weeks=2), "14d"),
        (timedelta(days=1, seconds=1), "1d1s"),
    ],
)
def test_durations_format_in_the_short_form(value: timedelta, text: str) -> None:
    # Given a duration, When it is formatted, Then it reads as a marketer would write it
    assert format_duration(value) == text


@given(seconds=st.integers(min_value=0, max_value=10 * 365 * 86_400))
def test_formatted_durations_parse_back_to_the_same_length(seconds: int) -> None:
    # Given any whole-second duration up to ten years
    value = timedelta(seconds=seconds)
    # When it is formatted and parsed again, Then nothing is lost
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("yaml_line", "expected"),
    [
        ('timing: {delay: 1h, window: {start: "09:00", end: 20:00}}', "quoted strings"),
        ("timing: {delay: 1h, at_local_time: 10:00}", "quoted strings"),
        ("timing: {delay: 1:30}", "has no unit"),
    ],
)
def test_unquoted_times_and_unitless_durations_are_refused_with_how_to_write_them(
    tmp_path: Path, yaml_line: str, expected: str
) -> None:
    # Given a campaign file where YAML reads 20:00 or 1:30 as a base-60 number
    (tmp_path / "c.yaml").write_text(
        f"id: c\nname: C\ntemplate: t\ntrigger: {{event: Product Added}}\n{yaml_line}\n"
    )
    # When it is loaded
    with pytest.raises(CampaignError) as failure:
        load_campaigns(tmp_path)
    # Then loading fails, naming the file, campaign and field, and saying how to write it
    (problem,) = failure.value.problems
    assert problem.startswith("c.yaml: c: timing.") and expected in problem
