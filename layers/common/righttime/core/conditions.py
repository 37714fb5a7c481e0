"""Conditions marketers write in campaigns: on event properties (trigger filters) and on what righttime
knows about a customer (audience, exit-at-send). Pure and explainable: a failed condition says why."""

from __future__ import annotations

import operator
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator


class Op(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EXISTS = "exists"
    CONTAINS = "contains"


_NEEDS_LIST = {Op.IN, Op.NOT_IN}
_ORDERS = {Op.GT: operator.gt, Op.GTE: operator.ge, Op.LT: operator.lt, Op.LTE: operator.le}
_NUMERIC = {Op.GT, Op.GTE, Op.LT, Op.LTE}


class Condition(BaseModel):
    """`field` `op` `value`, e.g. `{field: orders_count, op: gte, value: 1}`.

    `field` is a dotted path (`traits.plan`, `category`); `exists` takes `true` or `false`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1, max_length=200)
    op: Op = Op.EQUALS
    value: JsonValue = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op in _NEEDS_LIST and not isinstance(self.value, list):
            raise ValueError(f"op '{self.op}' needs a list value")
        if self.op in _NUMERIC and (isinstance(self.value, bool) or not isinstance(self.value, int | float)):
            raise ValueError(f"op '{self.op}' needs a number value")
        if self.op is Op.EXISTS and not isinstance(self.value, bool):
            raise ValueError("op 'exists' needs true or false")
        return self

    def holds(self, facts: dict[str, Any]) -> bool:
        """Whether the condition holds for `facts` (a missing field only satisfies `exists: false`,
        `not_equals` and `not_in`)."""
        found, actual = lookup(facts, self.field)
        if self.op is Op.EXISTS:
            return found == bool(self.value)
        if not found or actual is None:
            return self.op in (Op.NOT_EQUALS, Op.NOT_IN)
        match self.op:
            case Op.EQUALS:
                return _same(actual, self.value)
            case Op.NOT_EQUALS:
                return not _same(actual, self.value)
            case Op.IN:
                return any(_same(actual, v) for v in self.value)  # type: ignore[union-attr]
            case Op.NOT_IN:
                return not any(_same(actual, v) for v in self.value)  # type: ignore[union-attr]
            case Op.CONTAINS:
                if isinstance(actual, str):
                    return isinstance(self.value, str) and self.value.lower() in actual.lower()
                if isinstance(actual, list):
                    return any(_same(item, self.value) for item in actual)
                return False
            case _:
                return _compare(actual, self.op, self.value)

    def describe(self) -> dict[str, JsonValue]:
        return {"field": self.field, "op": self.op.value, "value": self.value}


def lookup(facts: dict[str, Any], path: str) -> tuple[bool, Any]:
    """Follow a dotted path through nested mappings: (found, value)."""
    current: Any = facts
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def first_failing(conditions: list[Condition], facts: dict[str, Any]) -> Condition | None:
    return next((condition for condition in conditions if not condition.holds(facts)), None)


def _same(actual: Any, expected: Any) -> bool:
    if (
        isinstance(actual, int | float | Decimal)
        and isinstance(expected, int | float)
        and not isinstance(expected, bool)
    ):
        return Decimal(str(actual)) == Decimal(str(expected))
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    return bool(actual == expected)


def _compare(actual: Any, op: Op, expected: Any) -> bool:
    if type(actual) is int and type(expected) is int:
        return bool(_ORDERS[op](actual, expected))  # exact already (a bool is not an int here)
    try:
        left, right = Decimal(str(actual)), Decimal(str(expected))
    except ArithmeticError:
        return False
    if not left.is_finite():
        return False
    return bool(_ORDERS[op](left, right))
