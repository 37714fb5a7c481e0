"""Identity: an anonymous visitor who logs in becomes the known customer (pure; docs/identity.md).

`alias` (previousId -> userId), and any other call that names both an anonymousId and a userId, links the two
ids. The anonymous profile is merged into the known one: cart, orders, traits the known profile lacks, the
stricter consent, sends and caps, recent messageIds, programs and waiting messages; it is left as a tombstone
(`merged_into`) that sends its later events to the known profile. Two known profiles are never merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from righttime.core.addresses import usable_address
from righttime.core.decisions import (
    Decision,
    MessageStatus,
    OutboundMessage,
    Outcome,
    Reason,
    message_id_for,
)
from righttime.core.events import AliasMessage, EventContext, QueuedEvent, TrackMessage
from righttime.core.policy.plan import Plan
from righttime.core.profiles import (
    MAX_BOUGHT,
    MAX_CART_ITEMS,
    MAX_CONSENT_CHANGES,
    MAX_CREDITS,
    MAX_ENGAGEMENT,
    MAX_HOLDOUTS,
    MAX_KEYS,
    MAX_LINKED_IDS,
    MAX_RECENT_CATEGORIES,
    MAX_RECENT_EVENTS,
    MAX_SENDS,
    MAX_TOPICS,
    CampaignHistory,
    ConsentChange,
    PendingRef,
    Profile,
    keep_traits,
)
from righttime.core.programs import STEP_SEPARATOR

#: the campaign id identity decisions are recorded under (docs/decisions.md): reports count no campaign for it
IDENTITY = "identity"
#: how a consent change a merge made is recorded in `consent_history`
MERGE_CONSENT = "merge"

_T = TypeVar("_T")


def other_id(event: QueuedEvent) -> str | None:
    """The other id an event names beside its userId: alias's `previousId`, else the `anonymousId` of an
    identify, track, page, screen or group call. None when there is no userId, or the ids are the same."""
    message = event.message
    if message.userId is None:
        return None
    other = message.previousId if isinstance(message, AliasMessage) else message.anonymousId
    return other if other and other != message.userId else None


def needs_link(profile: Profile, event: QueuedEvent) -> str | None:
    """The other id to look at for `event` on the known `profile`, or None: not named, or named before (the
    profile remembers the ids it linked or refused: a browser's every call costs one look, not one each)."""
    other = other_id(event)
    if other is None or other in profile.linked_ids or profile.customer_id != event.message.userId:
        return None
    return other


@dataclass
class MergeNote:
    """What a merge did, for its decision."""

    anonymous_id: str
    known_id: str
    cart_lines: int
    moved: int
    cancelled: int
    consent_changed: bool
    #: the anonymous profile existed: a merge of a profile never seen writes its tombstone and decides nothing
    existed: bool


@dataclass
class Link:
    """What linking an id to a known profile writes, on both sides, in one atomic commit."""

    #: the known profile after the merge (the event is applied to it next), its moved messages and decisions
    known: Plan
    #: the other profile's writes (its tombstone, the messages it closes, its decisions); None: unchanged
    other: Plan | None = None
    #: the triggers the anonymous profile could not act on for want of an address, to plan again once the
    #: event is applied (an identify brings the address)
    replays: list[QueuedEvent] = field(default_factory=list)
    merge: MergeNote | None = None

    def replays_for(self, profile: Profile) -> list[QueuedEvent]:
        """The triggers to plan again on `profile`, the known profile with the linking event applied: none
        without a usable address, and none from before its last order (which settled what they were about,
        this event's own order included)."""
        if usable_address(profile.email) is None:
            return []
        ordered = profile.last_order_at
        return [r for r in self.replays if ordered is None or r.occurred_at > ordered]

    def record_merge(self, replayed: int, now: datetime, event: QueuedEvent) -> None:
        """Put the `merged` decision first on both profiles, saying how many triggers were planned again."""
        note = self.merge
        if note is None or not note.existed:
            return
        reason = Reason.merged(
            note.anonymous_id,
            note.known_id,
            cart_lines=note.cart_lines,
            moved=note.moved,
            cancelled=note.cancelled,
            replayed=replayed,
            consent_changed=note.consent_changed,
        )
        self.known.decisions.insert(0, _decision(Outcome.MERGED, [reason], note.known_id, now, event))
        if self.other is not None:
            self.other.decisions.insert(0, _decision(Outcome.MERGED, [reason], note.anonymous_id, now, event))


def link(
    known: Profile, other: Profile, waiting: Mapping[str, OutboundMessage], now: datetime, event: QueuedEvent
) -> Link:
    """Link `other` (as read, version 0 if it never existed) to the known profile `known`.

    `waiting` holds the other profile's messages that are still pending, by id (the stage reads them). A
    profile merged into `known` already changes nothing; one merged elsewhere, or a known one, is not merged
    (a `not_merged` decision says why); otherwise `other` is merged and left as a tombstone.
    """
    profile = known.model_copy(deep=True)
    profile.linked_ids = [*(i for i in profile.linked_ids if i != other.customer_id), other.customer_id][
        -MAX_LINKED_IDS:
    ]
    if other.merged_into == known.customer_id:
        return Link(known=Plan(profile=profile))
    refusal: Reason | None = None
    if other.merged_into is not None:
        refusal = Reason.merged_elsewhere(other.customer_id, other.merged_into)
    elif other.known:
        refusal = Reason.both_known(other.customer_id)
    if refusal is not None:
        decision = _decision(Outcome.NOT_MERGED, [refusal], profile.customer_id, now, event)
        return Link(known=Plan(profile=profile, decisions=[decision]))
    return _merge(profile, other, waiting, now)


def _merge(known: Profile, anonymous: Profile, waiting: Mapping[str, OutboundMessage], now: datetime) -> Link:
    merged = merge_profiles(known, anonymous, now)
    known_plan = Plan(profile=merged)
    tombstone = Profile(
        customer_id=anonymous.customer_id,
        merged_into=known.customer_id,
        merged_at=now,
        version=anonymous.version,
    )
    anonymous_plan = Plan(profile=tombstone)
    moved = cancelled = 0
    for _, ref in sorted(anonymous.pending.items()):
        message = waiting.get(ref.message_id)
        if message is None or message.status is not MessageStatus.PENDING:
            continue  # being sent, or settled since: the sender finishes it on the anonymous profile
        kept = _duplicate_of(known, ref)
        if kept is not None:
            reason = Reason.merged_duplicate(known.customer_id, kept)
            decision = Decision.about(message, Outcome.CANCELLED, [reason], at=now)
            anonymous_plan.close.append((message.message_id, MessageStatus.CANCELLED, decision))
            anonymous_plan.decisions.append(decision)
            cancelled += 1
            continue
        new_id = message_id_for(known.customer_id, message.campaign_id, message.trigger_message_id)
        reason = Reason.moved_on_merge(anonymous.customer_id, known.customer_id, new_id)
        copy = _moved_message(message, new_id, known.customer_id, merged.email, reason, now)
        new_ref = ref.model_copy(update={"message_id": new_id, "generation": 0})
        merged.pending[new_ref.key] = new_ref
        known_plan.schedule.append(copy)
        known_plan.decisions.append(Decision.about(copy, Outcome.MERGED, [reason], at=now))
        gone = Decision.about(message, Outcome.MERGED, [reason], at=now)
        anonymous_plan.close.append((message.message_id, MessageStatus.CANCELLED, gone))
        anonymous_plan.decisions.append(gone)
        moved += 1
    note = MergeNote(
        anonymous_id=anonymous.customer_id,
        known_id=known.customer_id,
        cart_lines=sum(1 for line in merged.cart if line not in known.cart),
        moved=moved,
        cancelled=cancelled,
        consent_changed=(merged.unsubscribed, sorted(merged.topic_opt_outs))
        != (known.unsubscribed, sorted(known.topic_opt_outs)),
        existed=anonymous.version > 0,
    )
    replays = _replays(anonymous, merged.customer_id, now)
    return Link(known=known_plan, other=anonymous_plan, replays=replays, merge=note)


def _duplicate_of(known: Profile, ref: PendingRef) -> str | None:
    """The id of the known profile's waiting message that makes `ref` a duplicate, or "" for a program step
    of a run the known profile's own run replaced; None when `ref` moves. One promotion of a campaign waits
    per customer: never two reminders for the same cart. A transactional message is a duplicate only of one
    about the same thing (its `dedupe_key` value)."""
    for mine in known.waiting_for(ref.campaign_id):
        if ref.promotional or (ref.dedupe_key is not None and mine.dedupe_key == ref.dedupe_key):
            return mine.message_id
    program = ref.campaign_id.split(STEP_SEPARATOR, 1)[0] if STEP_SEPARATOR in ref.campaign_id else None
    if program is not None and program in known.programs:
        return ""
    return None


def _moved_message(
    message: OutboundMessage, message_id: str, customer_id: str, to: str | None, reason: Reason, now: datetime
) -> OutboundMessage:
    """The anonymous profile's waiting message as the known profile's: a new id (a schedule of its own, so
    the old one's deletion can never take it down), the same time and content, re-checked when it fires."""
    return message.model_copy(
        update={
            "message_id": message_id,
            "customer_id": customer_id,
            "to": usable_address(to) or message.to,
            "status": MessageStatus.PENDING,
            "created_at": now,
            "updated_at": now,
            "reasons": [reason],
            "generation": 0,
            "attempt_id": None,
            "lease_until": None,
            "ses_called_at": None,
            "attempts": 0,
            "resends": 0,
            "inflight_at": None,
        }
    )


def _replays(anonymous: Profile, customer_id: str, now: datetime) -> list[QueuedEvent]:
    """The triggers the anonymous profile kept for want of an address, as events of the known customer."""
    found: list[QueuedEvent] = []
    for awaiting in anonymous.awaiting_address:
        message = TrackMessage(
            event=awaiting.event,
            userId=customer_id,
            messageId=awaiting.message_id,
            timestamp=awaiting.at,
            properties=dict(awaiting.properties),
            context=EventContext(channel="righttime"),
        )
        found.append(QueuedEvent(message=message, received_at=now, occurred_at=awaiting.at))
    return found


def _decision(
    outcome: Outcome, reasons: list[Reason], customer_id: str, now: datetime, event: QueuedEvent
) -> Decision:
    return Decision.made(
        outcome,
        reasons,
        customer_id=customer_id,
        campaign_id=IDENTITY,
        at=now,
        zone=None,
        trigger_event=event.message.type,
        trigger_message_id=event.message_id,
    )


def merge_profiles(known: Profile, anonymous: Profile, now: datetime) -> Profile:
    """The known profile with what the anonymous one knew: the known profile wins where both know something,
    consent takes the stricter of the two, and every list keeps its bound. Waiting messages and programs'
    step messages are the caller's (`link`); the anonymous profile's `pending` is not copied here."""
    merged = known.model_copy(deep=True)
    other = anonymous.model_copy(deep=True)
    _merge_cart(merged, other)
    for name in ("email", "first_name", "last_name", "timezone", "context_timezone", "locale", "birthday"):
        if getattr(merged, name) is None and getattr(other, name) is not None:
            setattr(merged, name, getattr(other, name))
    if merged.email == other.email and not merged.soft_bounces:
        merged.soft_bounces = other.soft_bounces
    keep_traits(merged, {k: v for k, v in other.traits.items() if k not in merged.traits}, now)
    _merge_orders(merged, other)
    _merge_consent(merged, other, now)
    merged.sends = _union(
        known.sends, other.sends, key=lambda s: (s.message_id or "", s.at, s.campaign_id), at=lambda s: s.at
    )[-MAX_SENDS:]
    for campaign_id, history in other.history.items():
        mine = merged.history.get(campaign_id)
        merged.history[campaign_id] = history if mine is None else _merge_history(mine, history)
    merged.engagement = _union(
        known.engagement, other.engagement, key=lambda e: (e.kind, e.message_id, e.at), at=lambda e: e.at
    )[-MAX_ENGAGEMENT:]
    merged.holdouts = _union(
        known.holdouts, other.holdouts, key=lambda h: (h.campaign_id, h.at), at=lambda h: h.at
    )[-MAX_HOLDOUTS:]
    merged.credits = _union(known.credits, other.credits, key=lambda c: c.order_id, at=lambda c: c.at)[
        -MAX_CREDITS:
    ]
    # Both profiles' recent messageIds: an event delivered again to either id stays a duplicate.
    merged.recent_events = list(dict.fromkeys([*other.recent_events, *known.recent_events]))[
        -MAX_RECENT_EVENTS:
    ]
    merged.first_seen_at = min(filter(None, [known.first_seen_at, other.first_seen_at]), default=None)
    merged.last_seen_at = max(filter(None, [known.last_seen_at, other.last_seen_at]), default=None)
    merged.due_at = min(filter(None, [known.due_at, other.due_at]), default=None)
    if merged.stage is None and other.stage is not None:
        merged.stage, merged.stage_since, merged.stage_history = (
            other.stage,
            other.stage_since,
            other.stage_history,
        )
    # A program run in progress continues on the known profile, unless it is in that program itself.
    for program_id, run in other.programs.items():
        merged.programs.setdefault(program_id, run)
    for program_id, memory in other.program_memory.items():
        merged.program_memory.setdefault(program_id, memory)
    merged.awaiting_address = []
    return merged


def _merge_cart(merged: Profile, other: Profile) -> None:
    """Both carts' lines, each product once: the line of the cart updated last wins, and the 50 newest lines
    are kept. A cart from before the known customer's last order is left out: the order settled it."""
    if not other.cart:
        return
    if merged.last_order_at is not None and (
        other.cart_updated_at is None or other.cart_updated_at <= merged.last_order_at
    ):
        return
    other_newer = merged.cart_updated_at is None or (
        other.cart_updated_at is not None and other.cart_updated_at > merged.cart_updated_at
    )
    older, newer = (merged.cart, other.cart) if other_newer else (other.cart, merged.cart)
    ids = {line.product_id for line in newer}
    merged.cart = [*(line for line in older if line.product_id not in ids), *newer][-MAX_CART_ITEMS:]
    merged.cart_updated_at = max(filter(None, [merged.cart_updated_at, other.cart_updated_at]), default=None)


def _merge_orders(merged: Profile, other: Profile) -> None:
    if not other.orders_count and not other.bought_products and not other.recent_categories:
        return
    merged.orders_count += other.orders_count
    merged.lifetime_value += other.lifetime_value
    merged.first_order_at = min(filter(None, [merged.first_order_at, other.first_order_at]), default=None)
    if other.last_order_at is not None and (
        merged.last_order_at is None or other.last_order_at > merged.last_order_at
    ):
        merged.last_order_at = other.last_order_at
        merged.last_order_id = other.last_order_id
        merged.last_order_categories = other.last_order_categories
        merged.last_order_products = other.last_order_products
    bought = [p for p in other.bought_products if p not in merged.bought_products]
    merged.bought_products = [*bought, *merged.bought_products][-MAX_BOUGHT:]
    for category, at in other.recent_categories.items():
        previous = merged.recent_categories.get(category)
        merged.recent_categories[category] = max(at, previous) if previous else at
    if len(merged.recent_categories) > MAX_RECENT_CATEGORIES:
        newest = sorted(merged.recent_categories.items(), key=lambda kv: kv[1])[-MAX_RECENT_CATEGORIES:]
        merged.recent_categories = dict(newest)


def _merge_consent(merged: Profile, other: Profile, now: datetime) -> None:
    """The stricter consent wins: unsubscribed on either profile is unsubscribed, and a topic opted out of on
    either is opted out of. Both histories are kept, and what the merge changed is recorded as `merge`."""
    history = _union(
        merged.consent_history,
        other.consent_history,
        key=lambda c: (c.at, c.subscribed, c.how, c.message_id, c.topic),
        at=lambda c: c.at,
    )
    if other.unsubscribed and not merged.unsubscribed:
        merged.unsubscribed = True
        history.append(ConsentChange(at=now, subscribed=False, how=MERGE_CONSENT))
    for topic in other.topic_opt_outs:
        if topic not in merged.topic_opt_outs:
            merged.topic_opt_outs = [*merged.topic_opt_outs, topic][-MAX_TOPICS:]
            history.append(ConsentChange(at=now, subscribed=False, how=MERGE_CONSENT, topic=topic))
    merged.consent_history = history[-MAX_CONSENT_CHANGES:]


def _merge_history(mine: CampaignHistory, other: CampaignHistory) -> CampaignHistory:
    """Re-entry and de-duplication count both profiles' sends of a campaign."""
    keys = [*(k for k in other.keys if k not in mine.keys), *mine.keys][-MAX_KEYS:]
    last = max(filter(None, [mine.last_sent_at, other.last_sent_at]), default=None)
    return CampaignHistory(last_sent_at=last, sent_count=mine.sent_count + other.sent_count, keys=keys)


def _union(
    first: Iterable[_T], second: Iterable[_T], *, key: Callable[[_T], object], at: Callable[[_T], datetime]
) -> list[_T]:
    """Both lists' entries, each once (by `key`), oldest first."""
    seen: dict[object, _T] = {}
    for item in [*first, *second]:
        seen.setdefault(key(item), item)
    return sorted(seen.values(), key=at)


def combine(first: Plan, second: Plan) -> Plan:
    """One plan doing what `first` and then `second` do, for one commit: a message may be written once in a
    transaction, so a move or a close of a message the first plan creates changes what it creates instead.
    The profile is the second's (planned from the first's)."""
    schedule = {m.message_id: m for m in first.schedule}
    moves = {m.message_id: m for m in first.move}
    close = list(first.close)
    for message in second.schedule:
        schedule[message.message_id] = message
        moves.pop(message.message_id, None)
    for move in second.move:
        created = schedule.get(move.message_id)
        if created is not None:
            schedule[move.message_id] = created.model_copy(
                update={
                    "send_at": move.send_at,
                    "generation": move.generation,
                    "reasons": [*created.reasons, *move.reasons],
                }
            )
        else:
            moves[move.message_id] = move
    for message_id, status, decision in second.close:
        if schedule.pop(message_id, None) is None:
            moves.pop(message_id, None)
            close.append((message_id, status, decision))
    return Plan(
        profile=second.profile,
        decisions=[*first.decisions, *second.decisions],
        schedule=list(schedule.values()),
        close=close,
        move=list(moves.values()),
    )
