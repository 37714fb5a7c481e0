"""Holdout groups: a share of the customers a promotion would reach, chosen deterministically, who are never
sent it, so that what it earns can be measured against them (docs/campaigns.md, "Holdout groups").

A customer is in a group's holdout when a hash of the group's id and their customer id falls in the first
`percent` of 10,000 buckets. The assignment needs no state and no minimum list size: the same customer is
always in or out of the same group, on every engine and every deployment, and a 10% holdout of 40 customers
holds out about 4. Changing the percentage keeps everyone already held out (a bigger share only adds
customers), so a running measurement is not reshuffled.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

#: the resolution of a holdout share: 0.01%
BUCKETS = 10_000
#: the largest share a campaign, program or the global control group may hold out
MAX_PERCENT = Decimal(50)
#: the group id of the global control group (policy.yaml's `control_group`)
GLOBAL = "global"

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d{1,2})?)\s*%\s*$")


def parse_percent(value: Any) -> Decimal:
    """`10%`, `2.5%` (a string with a percent sign, at most two decimals), between 0.01% and 50%."""
    if isinstance(value, Decimal):
        percent = value
    elif isinstance(value, str) and (match := _PERCENT.match(value)):
        try:
            percent = Decimal(match.group(1))
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
            raise ValueError(f"{value!r} is not a percentage") from exc
    else:
        raise ValueError(f"{value!r} is not a percentage: write it with a percent sign, e.g. 10% or 2.5%")
    if not Decimal("0.01") <= percent <= MAX_PERCENT:
        raise ValueError(f"a holdout is between 0.01% and {MAX_PERCENT}%, not {percent}%")
    return percent


Percent = Annotated[
    Decimal, BeforeValidator(parse_percent), PlainSerializer(lambda p: f"{p.normalize():f}%", return_type=str)
]


def bucket(group: str, customer_id: str) -> int:
    """The customer's bucket for `group`, in [0, BUCKETS): stable, and independent from one group to
    another."""
    digest = hashlib.sha256(f"{group}\x1f{customer_id}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def held_out(group: str, customer_id: str, percent: Decimal | None) -> bool:
    """Whether the customer is in `group`'s holdout of `percent` (None: the group holds no one out)."""
    return percent is not None and bucket(group, customer_id) < percent * BUCKETS / 100
