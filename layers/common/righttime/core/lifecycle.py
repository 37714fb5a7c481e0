"""Lifecycle stages: where a customer stands, derived from their order history alone (pure).

The first stage in this table whose test holds is the customer's stage (`policy.yaml`'s `lifecycle` section
sets `lapsed_after` and `active`; defaults in brackets):

| stage            | test                                                                             |
| ---------------- | -------------------------------------------------------------------------------- |
| `prospect`       | known (identified), no order yet                                                 |
| `lapsed`         | at least one order, the last one `lapsed_after` [180d] ago or longer             |
| `active`         | `active.min_orders` [2] orders or more, the last under `active.within` [90d] ago |
| `first_purchase` | exactly one order                                                                |
| `repeat`         | two or more orders                                                               |

Time alone moves a customer from `active` to `repeat` (or `first_purchase`, when `min_orders` is 1) when
`active.within` has passed since the last order, and from any ordering stage to `lapsed` when `lapsed_after`
has; `next_change` says when. An order moves them on at once. Each half-open interval starts at the last
order: active for `[last, last + within)`, lapsed from `last + lapsed_after` on. `active.within` is shorter
than `lapsed_after`, so an active customer passes through `repeat` (or `first_purchase`) before lapsing.

A profile with orders but no known last-order instant (imported without dates) is `first_purchase` or
`repeat`, and time alone never changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from righttime.core.durations import Duration, format_duration


class Stage(StrEnum):
    PROSPECT = "prospect"
    FIRST_PURCHASE = "first_purchase"
    REPEAT = "repeat"
    ACTIVE = "active"
    LAPSED = "lapsed"


class Active(BaseModel):
    """A customer is active with at least `min_orders` orders, the last one less than `within` ago."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_orders: int = Field(default=2, ge=1)
    within: Duration = timedelta(days=90)

    @field_validator("within")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("within must be longer than 0s")
        return value


class Lifecycle(BaseModel):
    """How stages are defined: `policy.yaml`'s `lifecycle` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lapsed_after: Duration = timedelta(days=180)
    active: Active = Field(default_factory=Active)

    @field_validator("lapsed_after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("lapsed_after must be longer than 0s")
        return value

    @model_validator(mode="after")
    def _active_before_lapsed(self) -> Self:
        if self.active.within < self.lapsed_after:
            return self
        # Raised as a ValidationError located at active.within, so policy errors name that field.
        message = (
            f"Value error, active.within ({format_duration(self.active.within)}) must be shorter than "
            f"lapsed_after ({format_duration(self.lapsed_after)}): a customer cannot be active and lapsed"
        )
        raise ValidationError.from_exception_data(
            type(self).__name__,
            [
                InitErrorDetails(
                    type=PydanticCustomError("value_error", message),
                    loc=("active", "within"),
                    input=format_duration(self.active.within),
                )
            ],
        )


def stage_of(orders_count: int, last_order_at: datetime | None, now: datetime, config: Lifecycle) -> Stage:
    """The customer's stage at `now`, from their number of orders and the instant of the last one."""
    if orders_count <= 0:
        return Stage.PROSPECT
    if last_order_at is not None:
        since = now - last_order_at
        if since >= config.lapsed_after:
            return Stage.LAPSED
        if orders_count >= config.active.min_orders and since < config.active.within:
            return Stage.ACTIVE
    return Stage.FIRST_PURCHASE if orders_count == 1 else Stage.REPEAT


def next_change(
    orders_count: int, last_order_at: datetime | None, now: datetime, config: Lifecycle
) -> datetime | None:
    """The instant after `now` at which time alone, with no new order, changes the stage; None if it never
    will (a prospect, a lapsed customer, or orders with no known instant)."""
    if orders_count <= 0 or last_order_at is None:
        return None
    stage = stage_of(orders_count, last_order_at, now, config)
    if stage is Stage.LAPSED:
        return None
    if stage is Stage.ACTIVE:
        return last_order_at + config.active.within
    return last_order_at + config.lapsed_after


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of stage, with the reason a marketer reads in the decision trail."""

    #: None when the customer had no stage yet (first seen)
    from_stage: Stage | None
    to_stage: Stage
    at: datetime
    reason: str


def transition(
    previous: Stage | None,
    orders_count: int,
    last_order_at: datetime | None,
    at: datetime,
    config: Lifecycle,
) -> Transition | None:
    """The transition from `previous` to the stage at `at`, or None if the stage is unchanged.

    `at` is the instant the caller evaluates: the event that changed the history, or `next_change`'s instant
    when a sweep applies a change that time alone made."""
    stage = stage_of(orders_count, last_order_at, at, config)
    if stage == previous:  # a stage read back from storage may be a plain string
        return None
    return Transition(previous, stage, at, _reason(previous, stage, orders_count, last_order_at, config))


_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def _nth_order(count: int) -> str:
    return f"{_ORDINALS[count]} order" if count in _ORDINALS else f"order number {count}"


def _reason(
    previous: Stage | None, stage: Stage, count: int, last_order_at: datetime | None, config: Lifecycle
) -> str:
    last_day = f"{last_order_at:%Y-%m-%d}" if last_order_at is not None else "an unknown date"
    within = format_duration(config.active.within)
    if stage is Stage.PROSPECT:
        return "known, no order yet" if previous is None else "no order on record any more"
    if stage is Stage.LAPSED:
        return f"no order for {format_duration(config.lapsed_after)} since {last_day}"
    if previous is None:  # first seen with a history: an import, or a profile older than lifecycle stages
        return f"first order on {last_day}" if count == 1 else f"{count} orders, the last on {last_day}"
    if previous is Stage.LAPSED:
        return "ordered again after lapsing"
    if stage is Stage.ACTIVE:
        return f"{_nth_order(count)}: at least {config.active.min_orders} orders, the last within {within}"
    if previous is Stage.ACTIVE:
        return f"no order within {within} since {last_day}"
    return _nth_order(count)
