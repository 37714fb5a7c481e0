"""Context evaluation: one queued event in, the profile updated and every campaign decided, atomically."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from righttime.core.campaigns import Campaign
from righttime.core.catalog import interest_of
from righttime.core.decisions import Decision, OutboundMessage
from righttime.core.events import QueuedEvent
from righttime.core.global_policy import GlobalPolicy
from righttime.core.identity import combine, link, needs_link
from righttime.core.policy import Plan, plan_event
from righttime.core.policy.plan import PopulationHours, no_population
from righttime.core.profiles import Profile, apply_event
from righttime.core.programs import Program
from righttime.stages.catalog import learn_from_order, remember_interest
from righttime.stages.ports import Catalog, Conflict, Store

#: re-plans after a concurrent change before giving up (the message then returns to the queue)
MAX_ATTEMPTS = 5


@dataclass
class Evaluation:
    duplicate: bool = False
    decisions: list[Decision] = field(default_factory=list)
    attempts: int = 0
    #: the stored profile's size as JSON, close to its DynamoDB item size (limit 400 KB)
    profile_bytes: int = 0
    #: traits refused because the profile's bounds were reached, by this event
    dropped_traits: int = 0


class TooMuchContention(RuntimeError):
    """The profile kept changing under us; SQS will redeliver the event."""


def evaluate(
    event: QueuedEvent,
    store: Store,
    campaigns: Sequence[Campaign],
    policy: GlobalPolicy,
    now: datetime,
    programs: Sequence[Program] = (),
    catalog: Catalog | None = None,
    population: PopulationHours = no_population,
    watch: bool = False,
) -> Evaluation:
    """Apply `event` to its customer's profile, decide every matching campaign and commit it all at once.

    A messageId the profile remembers (one of its last MAX_RECENT_EVENTS) has no effect: the profile that
    records it is written in the same commit as everything the event decided. If another writer changed the
    profile (the sender settling a message) the event is planned again from fresh state.

    With a `catalog`, an order's products are learned as bought together, and when `watch` (a deployed
    campaign listens to catalog changes) a view or cart of a product goes on the product's interest index.
    Both come first, and both are idempotent: an event retried after a failed commit changes nothing more.

    `population` gives every customer's engagement hours, asked for only by `send_time: optimal` when the
    customer's own are too few (stages.send_time.PopulationHours caches them).
    """
    if catalog is not None:
        if watch and (interest := interest_of(event)) is not None:
            remember_interest(interest, catalog, policy.catalog, now)
        learn_from_order(event, catalog, now)
    settled: set[str] = set()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        stored = store.get_profile(event.customer_id)
        if stored.merged_into is not None:
            # An anonymous id merged into a known customer: its later events are that customer's.
            stored = store.get_profile(stored.merged_into)
        if stored.has_processed(event.message_id):
            return Evaluation(duplicate=True, attempts=attempt)
        other = needs_link(stored, event)
        try:
            if other is None:
                profile = _forget(apply_event(stored, event), settled)
                plan = plan_event(
                    profile, event, campaigns, policy, now, programs, before=stored, population=population
                )
                store.commit_plan(plan, stored.version, now)
            else:
                plan = _link_and_plan(
                    stored, other, event, store, campaigns, policy, now, programs, population, settled
                )
        except Conflict as conflict:
            settled |= conflict.settled
            continue
        before = stored.dropped_traits.count if stored.dropped_traits else 0
        after = plan.profile.dropped_traits.count if plan.profile.dropped_traits else 0
        return Evaluation(
            decisions=plan.decisions,
            attempts=attempt,
            profile_bytes=len(plan.profile.model_dump_json()),
            dropped_traits=after - before,
        )
    raise TooMuchContention(f"customer profile kept changing; gave up after {MAX_ATTEMPTS} attempts")


def _link_and_plan(
    stored: Profile,
    other_id: str,
    event: QueuedEvent,
    store: Store,
    campaigns: Sequence[Campaign],
    policy: GlobalPolicy,
    now: datetime,
    programs: Sequence[Program],
    population: PopulationHours,
    settled: set[str],
) -> Plan:
    """An event naming a userId and another id (docs/identity.md): merge the other profile into this one, or
    record why not; then apply and plan the event, then plan again the triggers the anonymous profile could
    not act on without an address; and commit both profiles at once, each on the version it was read at."""
    other = store.get_profile(other_id)
    waiting: dict[str, OutboundMessage] = {}
    for ref in other.pending.values():
        message = store.get_message(other_id, ref.message_id)
        if message is not None and message.message_id not in settled:
            waiting[message.message_id] = message
    linked = link(stored, other, waiting, now, event)
    merged = linked.known.profile
    profile = _forget(apply_event(merged, event), settled)
    replays = linked.replays_for(profile)
    linked.record_merge(len(replays), now, event)
    plan = combine(
        linked.known,
        plan_event(profile, event, campaigns, policy, now, programs, before=merged, population=population),
    )
    for replay in replays:
        # The anonymous visitor's trigger, as the known customer's: only campaigns, at its own time.
        again = plan_event(
            plan.profile, replay, campaigns, policy, now, before=plan.profile, population=population
        )
        plan = combine(plan, again)
    if linked.other is None:
        store.commit_plan(plan, stored.version, now)
    else:
        store.commit_merge(plan, stored.version, linked.other, other.version, now)
    return plan


def _forget(profile: Profile, settled: set[str]) -> Profile:
    # A pending reference to a message that was sent or cancelled meanwhile no longer holds.
    if settled:
        profile.pending = {cid: ref for cid, ref in profile.pending.items() if ref.message_id not in settled}
    return profile
