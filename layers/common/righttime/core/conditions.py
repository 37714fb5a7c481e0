"""Conditions marketers write in campaigns: on event properties (trigger filters) and on what righttime
knows about a customer (audience, exit-at-send). Pure and explainable: a failed condition says why."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
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

#: a condition compiled: whether it holds for the facts given
Predicate = Callable[[dict[str, Any]], bool]


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
        return self.predicate()(facts)

    def predicate(self) -> Predicate:
        """The condition as a function of the facts, for a caller that tests it many times: the path is
        split and the value converted once, here."""
        parts = tuple(self.field.split("."))
        if self.op is Op.EXISTS:
            wanted = bool(self.value)
            return lambda facts: _find(facts, parts)[0] == wanted
        missing = self.op in (Op.NOT_EQUALS, Op.NOT_IN)
        test = _test(self.op, self.value)

        def holds(facts: dict[str, Any]) -> bool:
            found, actual = _find(facts, parts)
            if not found or actual is None:
                return missing
            return test(actual)

        return holds

    def describe(self) -> dict[str, JsonValue]:
        return {"field": self.field, "op": self.op.value, "value": self.value}


def lookup(facts: dict[str, Any], path: str) -> tuple[bool, Any]:
    """Follow a dotted path through nested mappings: (found, value)."""
    return _find(facts, path.split("."))


def _find(facts: dict[str, Any], parts: Sequence[str]) -> tuple[bool, Any]:
    current: Any = facts
    for part in parts:
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _test(op: Op, expected: JsonValue) -> Callable[[Any], bool]:
    """What `op` checks of a value that was found, against `expected`."""
    match op:
        case Op.EQUALS:
            return _sameness(expected)
        case Op.NOT_EQUALS:
            same = _sameness(expected)
            return lambda actual: not same(actual)
        case Op.IN:
            tests = [_sameness(value) for value in expected]  # type: ignore[union-attr]
            return lambda actual: any(same(actual) for same in tests)
        case Op.NOT_IN:
            tests = [_sameness(value) for value in expected]  # type: ignore[union-attr]
            return lambda actual: not any(same(actual) for same in tests)
        case Op.CONTAINS:
            return lambda actual: _contains(actual, expected)
        case _:
            return _ordering(op, expected)


def _sameness(expected: Any) -> Callable[[Any], bool]:
    """Equality as conditions mean it: numbers by value (1 is 1.0), strings ignoring case."""
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        number = Decimal(str(expected))
        return lambda actual: (
            Decimal(str(actual)) == number
            if isinstance(actual, int | float | Decimal)
            else bool(actual == expected)
        )
    if isinstance(expected, str):
        folded = expected.casefold()
        return lambda actual: (
            actual.casefold() == folded if isinstance(actual, str) else bool(actual == expected)
        )
    return lambda actual: bool(actual == expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return isinstance(expected, str) and expected.lower() in actual.lower()
    if isinstance(actual, list):
        same = _sameness(expected)
        return any(same(item) for item in actual)
    return False


def _ordering(op: Op, expected: Any) -> Callable[[Any], bool]:
    order = _ORDERS[op]
    bound = Decimal(str(expected))

    def compare(actual: Any) -> bool:
        if type(actual) is int and type(expected) is int:
            return bool(order(actual, expected))  # exact already (a bool is not an int here)
        try:
            left = Decimal(str(actual))
        except ArithmeticError:
            return False
        if not left.is_finite():
            return False
        return bool(order(left, bound))

    return compare
