"""The customer's zone: where a person's day is judged (trait, then the latest event's context, then
the default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from righttime.core import calendar
from righttime.core.global_policy import GlobalPolicy
from righttime.core.profiles import Profile


@dataclass(frozen=True)
class CustomerZone:
    tz: ZoneInfo
    name: str
    source: str
    #: the allowed slots found so far, by instant and timing rules: a zone lives for one evaluation, in which
    #: the campaigns walk through the same few days again and again
    slots: dict[tuple[object, ...], datetime | None] = field(default_factory=dict, compare=False, repr=False)
    #: the local day around each instant a calendar-day cap asked about, for the same reason
    days: dict[datetime, tuple[datetime, datetime]] = field(default_factory=dict, compare=False, repr=False)

    def day_bounds(self, instant: datetime) -> tuple[datetime, datetime]:
        """The UTC instants at which the customer's calendar day containing `instant` starts and ends."""
        bounds = self.days.get(instant)
        if bounds is None:
            bounds = self.days[instant] = calendar.local_day_bounds(instant, self.tz)
        return bounds


def customer_zone(profile: Profile, policy: GlobalPolicy) -> CustomerZone:
    """The zone a person's day is judged in: their `timezone` trait, else the latest event's
    `context.timezone`, else the policy's default."""
    for name, source in ((profile.timezone, "trait"), (profile.context_timezone, "context")):
        tz = calendar.zone(name)
        if tz is not None and name is not None:
            return CustomerZone(tz, name, source)
    return CustomerZone(
        calendar.zone(policy.default_timezone) or ZoneInfo("UTC"), policy.default_timezone, "default"
    )
