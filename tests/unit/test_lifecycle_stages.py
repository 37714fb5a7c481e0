"""Lifecycle stages from the order history: which stage a customer is in, when time alone moves them on,
the reason each transition gives, and the `lifecycle` section of policy.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from righttime.core.global_policy import POLICY_FILE, PolicyError, load_policy
from righttime.core.lifecycle import Active, Lifecycle, Stage, Transition, next_change, stage_of, transition

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = Lifecycle()
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


# --- stages ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orders", "days_ago", "expected"),
    [
        (0, None, Stage.PROSPECT),
        (1, 10, Stage.FIRST_PURCHASE),
        (2, 10, Stage.ACTIVE),
        (5, 89, Stage.ACTIVE),
        (2, 90, Stage.REPEAT),  # the 90 days have passed
        (3, 120, Stage.REPEAT),
        (1, 179, Stage.FIRST_PURCHASE),
        (1, 180, Stage.LAPSED),
        (7, 400, Stage.LAPSED),
    ],
)
def test_the_stage_follows_the_order_history(orders: int, days_ago: int | None, expected: Stage) -> None:
    # Given a customer with some orders, the last one some days ago, and the default definitions
    last = NOW - days_ago * DAY if days_ago is not None else None
    # Then their stage is the first one in order of precedence whose test holds
    assert stage_of(orders, last, NOW, DEFAULT) == expected


def test_one_order_makes_a_customer_active_when_the_policy_says_so() -> None:
    config = Lifecycle(active=Active(min_orders=1, within=timedelta(days=30)))
    assert stage_of(1, NOW - 5 * DAY, NOW, config) == Stage.ACTIVE
    assert stage_of(1, NOW - 30 * DAY, NOW, config) == Stage.FIRST_PURCHASE


def test_orders_without_a_known_date_never_lapse() -> None:
    # Given an imported customer with three orders and no date for the last one
    # Then they are a repeat customer, and time alone never changes that
    assert stage_of(3, None, NOW, DEFAULT) == Stage.REPEAT
    assert next_change(3, None, NOW, DEFAULT) is None


# --- when time alone changes the stage -------------------------------------------------------------------


def test_an_active_customer_becomes_repeat_then_lapsed_as_time_passes() -> None:
    # Given a customer whose second order was on 1 May 2026
    last = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    # When no order follows
    first = next_change(2, last, last, DEFAULT)
    # Then they stop being active 90 days later, and lapse 180 days after the order
    assert first == last + 90 * DAY
    assert stage_of(2, last, first, DEFAULT) == Stage.REPEAT
    second = next_change(2, last, first, DEFAULT)
    assert second == last + 180 * DAY
    assert stage_of(2, last, second, DEFAULT) == Stage.LAPSED
    # And nothing changes after that without an order
    assert next_change(2, last, second, DEFAULT) is None


def test_a_prospect_never_changes_stage_on_its_own() -> None:
    assert next_change(0, None, NOW, DEFAULT) is None


# --- transitions and their reasons ---------------------------------------------------------------------


def test_each_order_and_each_quiet_spell_is_recorded_with_a_reason_a_marketer_reads() -> None:
    # Given a known prospect who orders on 1 May, again on 10 May, then never again
    first_order = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    second_order = datetime(2026, 5, 10, 9, 0, tzinfo=UTC)
    steps = []
    stage = None
    for count, last, at in [
        (0, None, datetime(2026, 4, 20, tzinfo=UTC)),
        (1, first_order, first_order),
        (2, second_order, second_order),
        (2, second_order, second_order + 90 * DAY),
        (2, second_order, second_order + 180 * DAY),
        (3, NOW, NOW),
    ]:
        change = transition(stage, count, last, at, DEFAULT)
        assert change is not None
        steps.append((change.from_stage, change.to_stage, change.reason))
        stage = change.to_stage
    # Then every transition says why, in words
    assert steps == [
        (None, Stage.PROSPECT, "known, no order yet"),
        (Stage.PROSPECT, Stage.FIRST_PURCHASE, "first order"),
        (Stage.FIRST_PURCHASE, Stage.ACTIVE, "second order: at least 2 orders, the last within 90d"),
        (Stage.ACTIVE, Stage.REPEAT, "no order within 90d since 2026-05-10"),
        (Stage.REPEAT, Stage.LAPSED, "no order for 180d since 2026-05-10"),
        (Stage.LAPSED, Stage.ACTIVE, "ordered again after lapsing"),
    ]


def test_a_repeat_order_that_leaves_the_stage_unchanged_records_nothing() -> None:
    # Given a repeat customer, where being active takes five orders
    config = Lifecycle(active=Active(min_orders=5))
    # When they order again
    # Then they are still repeat, and no transition is recorded
    assert transition(Stage.REPEAT, 3, NOW, NOW, config) is None
    # And a stage read back from storage as plain text compares the same
    assert transition("repeat", 3, NOW, NOW, config) is None  # type: ignore[arg-type]


def test_a_customer_first_seen_with_a_history_is_placed_with_a_reason() -> None:
    last = datetime(2026, 10, 1, tzinfo=UTC)
    assert transition(None, 4, last, NOW, DEFAULT) == Transition(
        None, Stage.ACTIVE, NOW, "4 orders, the last on 2026-10-01"
    )
    assert transition(None, 1, last, NOW, DEFAULT) == Transition(
        None, Stage.FIRST_PURCHASE, NOW, "first order on 2026-10-01"
    )


def test_a_second_order_without_becoming_active_is_called_the_second_order() -> None:
    config = Lifecycle(active=Active(min_orders=3))
    change = transition(Stage.FIRST_PURCHASE, 2, NOW, NOW, config)
    assert change == Transition(Stage.FIRST_PURCHASE, Stage.REPEAT, NOW, "second order")


# --- properties -----------------------------------------------------------------------------------------

# Any valid definition: `active.within` is drawn shorter than `lapsed_after`.
configs = st.integers(2, 720).flatmap(
    lambda lapsed: st.builds(
        lambda within, min_orders: Lifecycle(
            lapsed_after=timedelta(days=lapsed),
            active=Active(min_orders=min_orders, within=timedelta(days=within)),
        ),
        st.integers(1, lapsed - 1),
        st.integers(1, 5),
    )
)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
histories = st.tuples(st.integers(0, 8), st.one_of(st.none(), moments))


@settings(max_examples=500)
@given(histories, moments, configs, st.floats(0, 1))
def test_the_stage_holds_until_the_next_change_and_differs_at_it(
    history: tuple[int, datetime | None], now: datetime, config: Lifecycle, fraction: float
) -> None:
    orders, last = history
    if orders == 0:
        last = None
    stage = stage_of(orders, last, now, config)
    change = next_change(orders, last, now, config)
    if change is None:
        # Then no later instant changes the stage: check far ahead
        assert stage_of(orders, last, now + 10_000 * DAY, config) == stage
        return
    # Then the change is after now, the stage holds until just before it, and differs at it
    assert change > now
    between = now + (change - now) * fraction
    if between < change:
        assert stage_of(orders, last, between, config) == stage
    assert stage_of(orders, last, change - timedelta(microseconds=1), config) == stage
    assert stage_of(orders, last, change, config) != stage


@settings(max_examples=300)
@given(histories, moments, configs, st.sampled_from([None, *Stage]))
def test_a_transition_lands_on_the_current_stage_and_always_gives_a_reason(
    history: tuple[int, datetime | None], at: datetime, config: Lifecycle, previous: Stage | None
) -> None:
    orders, last = history
    change = transition(previous, orders, last if orders else None, at, config)
    current = stage_of(orders, last if orders else None, at, config)
    if previous == current:
        assert change is None
    else:
        assert change is not None
        assert (change.from_stage, change.to_stage, change.at) == (previous, current, at)
        assert change.reason


# --- the lifecycle section of policy.yaml ----------------------------------------------------------------


def test_the_shipped_policy_defines_the_stages() -> None:
    # Given the policy shipped beside the campaigns
    policy = load_policy(ROOT / "campaigns")
    # Then its lifecycle section is understood
    assert policy.lifecycle.lapsed_after == timedelta(days=180)
    assert policy.lifecycle.active == Active(min_orders=2, within=timedelta(days=90))


def test_without_a_lifecycle_section_the_defaults_apply(tmp_path: Path) -> None:
    (tmp_path / POLICY_FILE).write_text("default_timezone: UTC\n", encoding="utf-8")
    assert load_policy(tmp_path).lifecycle == Lifecycle()


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (
            "lifecycle: {lapsed_after: 60d}\n",
            "lifecycle.active.within",
            "active.within (90d) must be shorter than lapsed_after (60d)",
        ),
        (
            "lifecycle: {lapsed_after: 90d, active: {within: 90d}}\n",
            "lifecycle.active.within",
            "must be shorter",
        ),
        ("lifecycle: {lapsed_after: 0s}\n", "lifecycle.lapsed_after", "longer than 0s"),
        ("lifecycle: {lapsed_after: soon}\n", "lifecycle.lapsed_after", "not a duration"),
        (
            "lifecycle: {active: {min_orders: 0}}\n",
            "lifecycle.active.min_orders",
            "greater than or equal to 1",
        ),
        ("lifecycle: {active: {within: 0s}}\n", "lifecycle.active.within", "longer than 0s"),
        ("lifecycle: {lapsed: 180d}\n", "lifecycle.lapsed", "Extra inputs are not permitted"),
    ],
)
def test_a_bad_lifecycle_section_names_the_file_and_field(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    # Given a policy file with a mistake in its lifecycle section
    (tmp_path / POLICY_FILE).write_text(text, encoding="utf-8")
    # When it is loaded
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path)
    # Then the problem names the file and the field, and says what is wrong
    assert any(p.startswith(f"policy.yaml: {field}: ") and words in p for p in caught.value.problems), (
        caught.value.problems
    )


def test_a_lifecycle_built_in_code_is_checked_the_same_way() -> None:
    with pytest.raises(ValidationError) as caught:
        Lifecycle(lapsed_after=timedelta(days=30))
    assert [error["loc"] for error in caught.value.errors()] == [("active", "within")]
