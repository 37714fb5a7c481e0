"""The right-time policy: pure functions from (profile, event, campaigns, global policy, now) to explained
decisions. "Real time is not always the right time": context decides whether and when.

The same rules run twice: when an event is evaluated (`plan.plan_event`), and again when a message's schedule
fires (`recheck.decide_at_send`), because context changes in between.

    zone       where a person's day is judged
    index      the campaign set by trigger event, built once per set
    gates      eligibility, re-entry, de-duplication, the recently-bought template choice
    placement  timing rules (delay, local time, cooldown, window, quiet hours), then caps by priority
    plan       one event: exits, triggers, and every pending message placed again
    recheck    one firing schedule: send, defer or close
"""

from righttime.core.policy.plan import Move, Plan, plan_event
from righttime.core.policy.recheck import Action, SendDecision, decide_at_send
from righttime.core.policy.zone import CustomerZone, customer_zone

__all__ = [
    "Action",
    "CustomerZone",
    "Move",
    "Plan",
    "SendDecision",
    "customer_zone",
    "decide_at_send",
    "plan_event",
]
