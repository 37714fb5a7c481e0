"""Program files as marketers write them: what loads, and errors that name the file, the program, the step
and the field to change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from righttime.core.campaigns import load_campaigns
from righttime.core.programs import (
    ProgramError,
    SendStep,
    WaitStep,
    clashes,
    latest,
    load_programs,
    step_campaigns,
)

WELCOME = """\
id: welcome
name: Welcome series
trigger: {trait: {trait: subscribed, to: true}}
steps:
  - {id: hello, send: welcome}
  - {id: pause, wait: 2d}
  - {id: reminder, send: welcome_tips}
"""

CAMPAIGN = """\
id: cart
name: Cart reminder
trigger: {events: [Product Added]}
timing: {delay: 1h}
template: cart_abandonment
"""


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(ProgramError) as caught:
        load_programs(folder)
    return caught.value.problems


def program_file(steps: str, *, trigger: str = "{event: Signed Up}", id_: str = "welcome") -> str:
    return f"id: {id_}\nname: Test\ntrigger: {trigger}\nsteps:\n{steps}"


# --- what loads -------------------------------------------------------------------------------------------


def test_a_program_file_loads_with_a_campaign_for_each_send_step(tmp_path: Path) -> None:
    # Given a campaigns folder with a welcome program
    write(tmp_path, "welcome.yaml", WELCOME)
    # When it is loaded
    [welcome] = load_programs(tmp_path)
    # Then its steps are what the marketer wrote, and each message is a campaign named after its step
    assert [type(step) for step in welcome.steps] == [SendStep, WaitStep, SendStep]
    assert welcome.steps[1] == WaitStep(id="pause", wait=timedelta(days=2))
    assert [c.id for c in step_campaigns(welcome)] == ["welcome--v1--hello", "welcome--v1--reminder"]


def test_a_program_and_a_campaign_share_the_folder_and_each_loader_takes_its_own(tmp_path: Path) -> None:
    # Given a folder with a single-message campaign and a program
    write(tmp_path, "cart.yaml", CAMPAIGN)
    write(tmp_path, "welcome.yaml", WELCOME)
    # When both are loaded
    # Then the campaign loads as it always did, and the program as a program
    assert [c.id for c in load_campaigns(tmp_path)] == ["cart"]
    assert [p.id for p in load_programs(tmp_path)] == ["welcome"]


def test_a_campaign_that_takes_a_programs_id_or_a_steps_id_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "welcome.yaml", WELCOME)
    write(tmp_path, "cart.yaml", CAMPAIGN.replace("id: cart", "id: welcome"))
    assert clashes(load_campaigns(tmp_path), load_programs(tmp_path)) == [
        "welcome: id: program id welcome is also a campaign id"
    ]


def test_two_versions_of_a_program_load_and_the_newest_takes_new_customers(tmp_path: Path) -> None:
    write(tmp_path, "welcome.yaml", WELCOME)
    write(tmp_path, "welcome_v2.yaml", WELCOME.replace("name:", "version: 2\nname:"))
    loaded = load_programs(tmp_path)
    assert [(p.id, p.version) for p in loaded] == [("welcome", 1), ("welcome", 2)]
    assert latest(loaded)["welcome"].version == 2


# --- what is refused, and where -------------------------------------------------------------------------


def test_a_bad_field_of_a_step_is_named_by_file_program_step_and_field(tmp_path: Path) -> None:
    # Given a welcome program whose third step waits no time at all
    write(
        tmp_path,
        "welcome.yaml",
        WELCOME.replace("{id: reminder, send: welcome_tips}", "{id: reminder, wait: 0s}"),
    )
    # Then the error says where, as the marketer wrote it, and why
    assert problems_of(tmp_path) == [
        "welcome.yaml: welcome: steps.2(reminder).wait: wait must be between 1s and 366d"
    ]


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        (
            "  - {id: hello, send: welcome, next: tips}\n  - {id: bye, send: bye}\n",
            "steps.0(hello).next: goes to 'tips', which is not a step of this program"
            " (its steps: hello, bye)",
        ),
        (
            "  - {id: which, branch: [{when: [{field: orders_count, op: gt, value: 0}], goto: vip}]}\n"
            "  - {id: bye, send: bye}\n",
            "steps.0(which).branch.0.goto: goes to 'vip', which is not a step of this program"
            " (its steps: which, bye)",
        ),
        (
            "  - {id: listen, wait_for: {event: Order Completed, within: 3d}, on_timeout: nudge}\n"
            "  - {id: bye, send: bye}\n",
            "steps.0(listen).on_timeout: goes to 'nudge', which is not a step of this program"
            " (its steps: listen, bye)",
        ),
    ],
)
def test_a_step_that_goes_to_no_step_is_refused_at_the_field_that_names_it(
    tmp_path: Path, steps: str, problem: str
) -> None:
    write(tmp_path, "welcome.yaml", program_file(steps))
    assert problems_of(tmp_path) == [f"welcome.yaml: welcome: {problem}"]


def test_a_loop_without_a_wait_is_refused_naming_its_steps(tmp_path: Path) -> None:
    # Given a program that would send again and again in one evaluation
    write(
        tmp_path,
        "nag.yaml",
        program_file(
            "  - {id: remind, send: reminder}\n"
            "  - {id: again, branch: [{when: [{field: orders_count, op: lt, value: 1}], goto: remind}]}\n",
            id_="nag",
        ),
    )
    assert problems_of(tmp_path) == [
        "nag.yaml: nag: steps.0(remind): steps remind -> again -> remind loop without a wait:"
        " every loop needs a wait or wait_for step"
    ]


def test_a_loop_with_a_wait_loads(tmp_path: Path) -> None:
    write(
        tmp_path,
        "nag.yaml",
        program_file(
            "  - {id: remind, send: reminder}\n"
            "  - {id: week, wait: 7d}\n"
            "  - {id: again, branch: [{when: [{field: orders_count, op: lt, value: 1}], goto: remind}]}\n",
            id_="nag",
        ),
    )
    assert [p.id for p in load_programs(tmp_path)] == ["nag"]


def test_a_step_id_used_twice_is_refused_at_the_second(tmp_path: Path) -> None:
    write(tmp_path, "welcome.yaml", program_file("  - {id: hello, send: a}\n  - {id: hello, send: b}\n"))
    assert problems_of(tmp_path) == [
        "welcome.yaml: welcome: steps.1(hello).id: step id 'hello' is used twice"
    ]


def test_two_triggers_are_refused_naming_both(tmp_path: Path) -> None:
    write(
        tmp_path,
        "welcome.yaml",
        program_file(
            "  - {id: hello, send: a}\n", trigger="{event: Signed Up, trait: {trait: plan, to: pro}}"
        ),
    )
    assert problems_of(tmp_path) == [
        "welcome.yaml: welcome: trigger: give exactly one trigger: event, trait, stage, date, threshold,"
        " inactivity or any (found events, trait)"
    ]


@pytest.mark.parametrize(
    ("trigger", "steps", "where"),
    [
        ("{date: {date: renewal_date, offset: -7h}}", "  - {id: a, send: a}\n", "trigger.date.offset"),
        ("{date: {date: renewal_date, offset: 400d}}", "  - {id: a, send: a}\n", "trigger.date.offset"),
        (
            "{event: Signed Up}",
            "  - {id: w, wait: {until: {date: renewal_date, offset: 36h}}}\n  - {id: a, send: a}\n",
            "steps.0(w).until.offset",
        ),
    ],
)
def test_an_offset_that_is_not_whole_days_within_a_year_is_refused(
    tmp_path: Path, trigger: str, steps: str, where: str
) -> None:
    write(tmp_path, "renewal.yaml", program_file(steps, trigger=trigger, id_="renewal"))
    assert problems_of(tmp_path) == [
        f"renewal.yaml: renewal: {where}:"
        " offset must be a whole number of days, at most 366d either way (e.g. -7d)"
    ]


def test_a_step_of_no_known_kind_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "welcome.yaml", program_file("  - {id: hello, mail: a}\n"))
    assert problems_of(tmp_path) == [
        "welcome.yaml: welcome: steps.0(hello): a step needs one of send, wait, wait_for, branch or exit"
    ]


def test_a_version_declared_twice_names_both_files(tmp_path: Path) -> None:
    write(tmp_path, "welcome.yaml", WELCOME)
    write(tmp_path, "welcome_copy.yaml", WELCOME)
    assert problems_of(tmp_path) == [
        "welcome_copy.yaml: welcome: version: version 1 is declared twice (also in welcome.yaml):"
        " bump the version of the newer one"
    ]


def test_every_problem_of_every_file_is_listed_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", program_file("  - {id: hello, send: a}\n  - {id: hello, send: b}\n", id_="a"))
    write(tmp_path, "b.yaml", program_file("  - {id: w, wait: 0s}\n", id_="b"))
    write(tmp_path, "cart.yaml", CAMPAIGN)
    assert [p.split(":")[0] for p in problems_of(tmp_path)] == ["a.yaml", "b.yaml"]
