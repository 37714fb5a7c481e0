"""Conversion attribution (pure): which campaign, or program step, an order is credited to, and which holdout
would have been credited had the customer not been held out (docs/reporting.md).

The rules, last touch:

- **A touch** is a promotional message sent to the customer (its send), a click in one (the click), or a
  holdout decision (the moment the customer would have been sent it). Transactional messages are never
  credited: an order confirmation does not sell the order it confirms.
- **The window** counts from the touch: `attribution.window` (5 days by default) after the send, or after the
  click when the message was clicked (a click is the stronger signal, and later). righttime counts from the
  send rather than from SES's delivery, which follows within seconds: recording every delivery on the profile
  would cost a write per message.
- **The last touch wins**: the touch with the latest instant at or before the order. Ties (two touches at
  the same instant) go to the higher priority, then the campaign id in alphabetical order, as caps do.
- **Held-out customers' orders are counted the same way**, against the holdout's touch, so the conversion
  rates of the two groups can be compared. A sent touch and a holdout touch compete on time like any two.
- **One credit per order**: an `Order Completed` whose `order_id` was credited already (a resent event) is not
  credited again. **A refund** (`Order Refunded` with that `order_id`) takes the credit back: a negative
  credit to the same campaign, for the refunded amount (the order's revenue when the refund names none).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from righttime.core.profiles import MAX_HOLDOUTS, HoldoutRecord, Profile


@dataclass(frozen=True, slots=True)
class Touch:
    campaign_id: str
    at: datetime
    #: how the customer was touched: `sent`, `clicked`, or `held_out`
    kind: str
    message_id: str | None
    priority: int = 0


def touches(profile: Profile, priority_of: dict[str, int]) -> list[Touch]:
    """Every touch the profile remembers: its promotional sends, its clicks and its holdouts."""
    found = [
        Touch(s.campaign_id, s.at, "sent", s.message_id, priority_of.get(s.campaign_id, 0))
        for s in profile.sends
        if s.promotional
    ]
    found += [
        Touch(e.campaign_id, e.at, "clicked", e.message_id, priority_of.get(e.campaign_id, 0))
        for e in profile.engagement
        if e.kind == "click"
    ]
    found += [
        Touch(h.campaign_id, h.at, "held_out", None, priority_of.get(h.campaign_id, 0))
        for h in profile.holdouts
    ]
    return found


def last_touch(
    profile: Profile, ordered_at: datetime, window: timedelta, priority_of: dict[str, int]
) -> Touch | None:
    """The touch an order at `ordered_at` is credited to: the latest within `window` before it, or None."""
    eligible = [
        t for t in touches(profile, priority_of) if t.at <= ordered_at and ordered_at - t.at <= window
    ]
    if not eligible:
        return None
    return min(eligible, key=lambda t: (-t.at.timestamp(), -t.priority, t.campaign_id))


def order_revenue(properties: Mapping[str, object]) -> Decimal:
    """An order's revenue as Segment's e-commerce spec names it (`revenue`, else `total`), 0 when absent. The
    spec says a number; a decimal in a string (`"49.90"`, as some apps send money) is taken too."""
    for key in ("revenue", "total"):
        value = properties.get(key)
        if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
            return Decimal(value.strip())
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            amount = Decimal(str(value))
            if amount.is_finite():
                return amount
    return Decimal(0)


#: a decimal amount written out: digits, an optional fraction, an optional sign; no exponent, no grouping
_DECIMAL = re.compile(r"-?\d{1,15}(\.\d{1,6})?")


def remember_holdout(profile: Profile, campaign_id: str, group: str, at: datetime, keep: timedelta) -> None:
    """A holdout decision is a touch for attribution, kept on the profile for the attribution window."""
    record = HoldoutRecord(campaign_id=campaign_id, at=at, group=group)
    kept = [h for h in profile.holdouts if at - h.at <= keep]
    profile.holdouts = [*kept, record][-MAX_HOLDOUTS:]
