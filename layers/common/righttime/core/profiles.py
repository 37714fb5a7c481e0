"""Customer profiles: what righttime knows about a person, and how each event changes it (pure)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator

from righttime.core.addresses import usable_address
from righttime.core.events import (
    RESERVED_EVENT_PREFIX,
    AliasMessage,
    GroupMessage,
    IdentifyMessage,
    PageMessage,
    QueuedEvent,
    TrackMessage,
)

#: Traits righttime stores in their own fields; every other trait is kept in `traits`.
_KNOWN_TRAITS = {
    "email",
    "firstName",
    "first_name",
    "lastName",
    "last_name",
    "timezone",
    "locale",
    "birthday",
    "unsubscribed",
}
#: The cart is a reminder, not an inventory: beyond this many lines, the oldest are dropped.
MAX_CART_ITEMS = 50
#: bounds that keep a profile item small whatever a customer does
MAX_SENDS = 200
MAX_KEYS = 50
MAX_RECENT_CATEGORIES = 100
#: product ids kept of the latest order, and of every order lately (for recommendations)
MAX_ORDER_PRODUCT_IDS = 10
MAX_BOUGHT = 50
#: traits kept across every identify (ingest caps one message at 100 traits of 2 KB each), and their total
#: size as JSON: past either, new traits are dropped and counted on the profile, never the whole event
MAX_TRAITS = 200
MAX_TRAITS_BYTES = 64 * 1024
#: trait names remembered when traits are dropped, newest last
MAX_DROPPED_NAMES = 10
#: a transactional campaign keeps one waiting message per trigger: at most this many per customer and campaign
MAX_PENDING_TRANSACTIONAL = 20
#: opens and clicks kept on the profile, newest last (for send-time optimisation and reports)
MAX_ENGAGEMENT = 50
#: transient bounces kept in a run: more than any sensible suppression threshold
MAX_SOFT_BOUNCES = 20
#: messageIds remembered per customer to drop a repeated event (docs/data-model.md, "De-duplication")
MAX_RECENT_EVENTS = 40
#: lifecycle stage changes kept on the profile, newest last
MAX_STAGE_HISTORY = 10
#: the trigger properties a program run keeps for its templates, as JSON; bigger ones are not kept
MAX_RUN_PROPERTIES_BYTES = 1024
#: holdout decisions and order credits kept for attribution (righttime.core.attribution), newest last
MAX_HOLDOUTS = 50
MAX_CREDITS = 50
#: consent changes kept as audit evidence, newest last
MAX_CONSENT_CHANGES = 20
#: topics a customer may have opted out of (policy.yaml declares at most this many)
MAX_TOPICS = 20
#: triggers an anonymous profile could not act on for want of an address, kept for a merge (core/identity.py)
MAX_AWAITING = 5
#: a trigger's properties kept for a merge, as JSON; a trigger with bigger ones is not kept
MAX_AWAITING_PROPERTIES_BYTES = 2048
#: other ids seen with a known profile's userId (merged, linked or refused), newest last
MAX_LINKED_IDS = 20


class CartItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    product_id: str
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    price: Decimal | None = None
    quantity: int = 1
    url: str | None = None
    image_url: str | None = None


def pending_key(campaign_id: str, message_id: str, *, promotional: bool) -> str:
    """Where the profile keeps a waiting message. A promotion waits under its campaign id: one waiting message
    per campaign, which a new trigger moves or supersedes. A transactional message waits under its campaign
    and message ids: one per trigger, because every order gets its receipt."""
    return campaign_id if promotional else f"{campaign_id}#{message_id}"


class PendingRef(BaseModel):
    """A message this customer is waiting for, remembered on the profile so that exits, priorities and
    frequency caps are decided from the one profile read."""

    campaign_id: str
    message_id: str
    send_at: AwareDatetime
    trigger_at: AwareDatetime
    #: the earliest instant the campaign's own timing allows (before caps and priorities)
    desired_at: AwareDatetime | None = None
    send_by: AwareDatetime | None = None
    priority: int = 0
    promotional: bool = True
    dedupe_key: str | None = None
    generation: int = 0

    @property
    def key(self) -> str:
        """Its key in the profile's `pending` map."""
        return pending_key(self.campaign_id, self.message_id, promotional=self.promotional)


class SendRecord(BaseModel):
    """A message that went out: what frequency caps count."""

    at: AwareDatetime
    campaign_id: str
    promotional: bool = True
    #: the message sent, so recording the same send twice (a retried profile update) counts it once
    message_id: str | None = None


class Engagement(BaseModel):
    """An open or a click SES reported for one of the customer's messages."""

    kind: str
    at: AwareDatetime
    message_id: str
    campaign_id: str
    #: the link clicked, without its query string (clicks only)
    link: str | None = None


class SoftBounce(BaseModel):
    """A transient bounce: SES gave up delivering a message for now (mailbox full, server down)."""

    message_id: str
    at: AwareDatetime
    #: the hash of the address that bounced: a run counts for one address only
    address_key: str


class CampaignHistory(BaseModel):
    """What re-entry rules and de-duplication keys need to remember per campaign."""

    last_sent_at: AwareDatetime | None = None
    sent_count: int = 0
    #: de-duplication key values already messaged (most recent last, bounded)
    keys: list[str] = Field(default_factory=list)


class DroppedTraits(BaseModel):
    """Traits a profile could not keep: how many, the last names, and when, so a marketer can see why a trait
    is missing (the values are never kept)."""

    count: int = 0
    names: list[str] = Field(default_factory=list)
    at: AwareDatetime | None = None


class ProgramRun(BaseModel):
    """Where a customer is in a program: one run per program at a time (docs/programs.md, "Program state")."""

    program_id: str
    #: the program's version the customer started, and finishes whatever is deployed since
    version: int
    #: what the run's messages are named after: its entry event's messageId, or the due instant
    run_id: str
    #: the current step's id
    step: str
    entered_at: AwareDatetime
    #: when the current step began: a wait counts from it
    step_at: AwareDatetime
    #: when a wait ends, or a wait_for times out: the run goes on then
    resume_at: AwareDatetime | None = None
    #: the events a wait_for step waits for
    waiting_for: list[str] = Field(default_factory=list)
    trigger_event: str | None = None
    #: the entry event's properties, for templates (none when over MAX_RUN_PROPERTIES_BYTES)
    properties: dict[str, JsonValue] = Field(default_factory=dict)


class ProgramMemory(BaseModel):
    """What a program remembers of a customer from one run to the next: re-entry, and its trigger's edge."""

    entered_count: int = 0
    last_entered_at: AwareDatetime | None = None
    last_ended_at: AwareDatetime | None = None
    #: a date trigger: the occurrence that fired last (its date); inactivity: the activity it fired for
    fired: str | None = None
    #: a threshold trigger: whether the next crossing fires (false until the figure goes back past hysteresis)
    armed: bool | None = None
    #: an inactivity trigger on another event than Order Completed: its latest occurrence
    activity_at: AwareDatetime | None = None


class HoldoutRecord(BaseModel):
    """The customer was held out of `campaign_id` at `at`: a touch for attribution, as a send would be."""

    campaign_id: str
    at: AwareDatetime
    #: the campaign's or program's id, or `global`
    group: str


class Credit(BaseModel):
    """An order credited to a campaign (or a holdout), kept so that a refund can take the credit back."""

    order_id: str
    campaign_id: str
    revenue: Decimal
    currency: str | None = None
    at: AwareDatetime
    held_out: bool = False


class ConsentChange(BaseModel):
    """A change of the customer's consent to promotional mail, with when and how: audit evidence."""

    at: AwareDatetime
    #: the consent after the change: False is unsubscribed
    subscribed: bool
    #: `identify` (a trait the app sent), `one_click` (RFC 8058 POST), `preference_page`, `complaint`
    how: str
    #: the message whose link was used (one_click, preference_page, complaint)
    message_id: str | None = None
    #: the topic the change is about (policy.yaml's `topics`); None: all promotional mail
    topic: str | None = None


def record_consent(profile: Profile, change: ConsentChange) -> bool:
    """Apply a consent change and keep it as evidence; False (and no change) when it changes nothing, so a
    repeated click or a retried write is recorded once."""
    if change.topic is None:
        if profile.unsubscribed is (not change.subscribed):
            return False
        profile.unsubscribed = not change.subscribed
    else:
        opted_out = change.topic in profile.topic_opt_outs
        if opted_out is (not change.subscribed):
            return False
        others = [t for t in profile.topic_opt_outs if t != change.topic]
        profile.topic_opt_outs = others if change.subscribed else [*others, change.topic][-MAX_TOPICS:]
    profile.consent_history = [*profile.consent_history, change][-MAX_CONSENT_CHANGES:]
    return True


class AwaitingTrigger(BaseModel):
    """An event that triggered a campaign the anonymous customer could not get (no address yet): a merge into
    a known profile with an address plans it again (docs/identity.md)."""

    event: str
    message_id: str
    at: AwareDatetime
    properties: dict[str, JsonValue] = Field(default_factory=dict)


def remember_awaiting(profile: Profile, trigger: AwaitingTrigger) -> bool:
    """Keep `trigger` on an anonymous profile for a later merge (newest last, at most MAX_AWAITING, each event
    once). A known profile, or a trigger whose properties are too big to keep, is left as it is (False)."""
    if profile.known or any(t.message_id == trigger.message_id for t in profile.awaiting_address):
        return False
    if _json_size(trigger.properties) > MAX_AWAITING_PROPERTIES_BYTES:
        return False
    profile.awaiting_address = [*profile.awaiting_address, trigger][-MAX_AWAITING:]
    return True


class StageChange(BaseModel):
    """A lifecycle stage change, with why."""

    stage: str
    previous: str | None = None
    at: AwareDatetime
    reason: str


class Profile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    context_timezone: str | None = None
    locale: str | None = None
    birthday: date | None = None
    unsubscribed: bool = False
    traits: dict[str, JsonValue] = Field(default_factory=dict)

    cart: list[CartItem] = Field(default_factory=list)
    cart_updated_at: AwareDatetime | None = None
    orders_count: int = 0
    lifetime_value: Decimal = Decimal(0)
    first_order_at: AwareDatetime | None = None
    last_order_at: AwareDatetime | None = None
    last_order_id: str | None = None
    last_order_categories: list[str] = Field(default_factory=list)
    #: the latest order's product ids (at most MAX_ORDER_PRODUCT_IDS), and every product bought lately
    #: (at most MAX_BOUGHT, newest last): recommendations leave out what the customer has
    last_order_products: list[str] = Field(default_factory=list)
    bought_products: list[str] = Field(default_factory=list)

    first_seen_at: AwareDatetime | None = None
    last_seen_at: AwareDatetime | None = None
    #: the messages waiting to be sent, by `PendingRef.key`
    pending: dict[str, PendingRef] = Field(default_factory=dict)
    #: recent sends, newest last, kept as long as the longest frequency cap needs
    sends: list[SendRecord] = Field(default_factory=list)
    history: dict[str, CampaignHistory] = Field(default_factory=dict)
    #: category -> when the customer last bought from it (for the recently-bought rule)
    recent_categories: dict[str, AwareDatetime] = Field(default_factory=dict)
    #: traits refused because the profile held MAX_TRAITS or MAX_TRAITS_BYTES already (docs/limits.md)
    dropped_traits: DroppedTraits | None = None
    #: opens and clicks, newest last, at most MAX_ENGAGEMENT
    engagement: list[Engagement] = Field(default_factory=list)
    #: the transient bounces since the last delivery, oldest first, at most MAX_SOFT_BOUNCES
    soft_bounces: list[SoftBounce] = Field(default_factory=list)
    #: when SES last delivered a message whose run of transient bounces it ended
    last_delivered_at: AwareDatetime | None = None
    #: fingerprints of the customer's latest messageIds, newest last, at most MAX_RECENT_EVENTS: an event
    #: whose messageId is here was processed already (the profile write that records it is the commit)
    recent_events: list[str] = Field(default_factory=list)
    #: the earliest instant something time-based is due for this customer (a program's wait, a recurring date,
    #: inactivity, a lifecycle stage that time alone changes): the date index holds it, and the due sweep
    #: queues a `DUE_EVENT` for the customer once it has passed (docs/programs.md, "The date index")
    due_at: AwareDatetime | None = None
    #: the lifecycle stage (policy.yaml's `lifecycle`), since when, and its latest changes
    stage: str | None = None
    stage_since: AwareDatetime | None = None
    stage_history: list[StageChange] = Field(default_factory=list)
    #: the programs the customer is in, by program id
    programs: dict[str, ProgramRun] = Field(default_factory=dict)
    #: what each deployed program remembers of the customer, by program id
    program_memory: dict[str, ProgramMemory] = Field(default_factory=dict)
    #: holdout decisions within the attribution window, newest last, at most MAX_HOLDOUTS
    holdouts: list[HoldoutRecord] = Field(default_factory=list)
    #: orders credited to a campaign or holdout, newest last, at most MAX_CREDITS (for refunds)
    credits: list[Credit] = Field(default_factory=list)
    #: how and when consent to promotional mail changed, newest last, at most MAX_CONSENT_CHANGES
    consent_history: list[ConsentChange] = Field(default_factory=list)
    #: the topics (policy.yaml's `topics`) the customer opted out of
    topic_opt_outs: list[str] = Field(default_factory=list)
    #: the customer has been addressed by a userId: a known profile is never merged into another one
    known: bool = False
    #: a tombstone: this anonymous profile was merged into that customer's, where its later events go
    merged_into: str | None = None
    merged_at: AwareDatetime | None = None
    #: the other ids seen with this customer's userId (merged, linked or refused), newest last, at most
    #: MAX_LINKED_IDS: an event that names one again needs no second look (docs/identity.md)
    linked_ids: list[str] = Field(default_factory=list)
    #: what an anonymous profile could not be sent for want of an address, newest last (MAX_AWAITING)
    awaiting_address: list[AwaitingTrigger] = Field(default_factory=list)
    #: optimistic-locking counter: every write expects the version it read
    version: int = 0

    def has_processed(self, message_id: str) -> bool:
        """Whether the event with this messageId was committed to this profile already."""
        return event_fingerprint(message_id) in self.recent_events

    @field_validator("pending", mode="before")
    @classmethod
    def _key_pending(cls, value: Any) -> Any:
        # Profiles stored before transactional messages waited one per trigger keyed every reference by its
        # campaign id and did not name the campaign in it: name it, and key each reference as it is keyed now.
        if not isinstance(value, dict):
            return value
        keyed: dict[str, Any] = {}
        for stored_key, stored in value.items():
            key, ref = stored_key, stored
            if isinstance(ref, dict) and "campaign_id" not in ref:
                ref = {**ref, "campaign_id": key}
            if isinstance(ref, dict) and isinstance(ref.get("message_id"), str):
                promotional = ref.get("promotional", True) is not False
                key = pending_key(ref["campaign_id"], ref["message_id"], promotional=promotional)
            elif isinstance(ref, PendingRef):
                key = ref.key
            keyed[key] = ref
        return keyed

    @property
    def is_new(self) -> bool:
        return self.version == 0

    def waiting_for(self, campaign_id: str) -> list[PendingRef]:
        """The messages waiting for `campaign_id`: at most one for a promotion, one per trigger for a
        transactional campaign."""
        return [ref for ref in self.pending.values() if ref.campaign_id == campaign_id]

    @property
    def cart_total(self) -> Decimal:
        return sum(((item.price or Decimal(0)) * item.quantity for item in self.cart), Decimal(0))


def event_fingerprint(message_id: str) -> str:
    """48 bits of the messageId's sha256, base64url: 8 characters. A new event is taken for one of the
    customer's last 40 with a probability of about 1.4e-13."""
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).digest()[:6]
    return base64.urlsafe_b64encode(digest).decode()


def apply_event(profile: Profile, event: QueuedEvent) -> Profile:
    """Return the profile as it is after `event`, which it remembers as processed. The input is not
    modified."""
    updated = profile.model_copy(deep=True)
    updated.recent_events = [*updated.recent_events, event_fingerprint(event.message_id)][-MAX_RECENT_EVENTS:]
    message = event.message
    at = event.occurred_at
    if isinstance(message, TrackMessage) and message.event.startswith(RESERVED_EVENT_PREFIX):
        return updated  # time passing, or a product's change, is not the customer's activity
    if message.userId is not None and message.userId == updated.customer_id:
        updated.known = True
    updated.first_seen_at = min(filter(None, [updated.first_seen_at, at]))
    updated.last_seen_at = max(filter(None, [updated.last_seen_at, at]))
    if message.context.timezone and _is_zone(message.context.timezone):
        updated.context_timezone = message.context.timezone
    if message.context.locale and updated.locale is None:
        updated.locale = message.context.locale

    match message:
        case IdentifyMessage(traits=traits):
            _merge_traits(updated, {**context_traits(message), **traits}, at)
        case TrackMessage(event=name, properties=props):
            _apply_track(updated, name, props, at, message.messageId)
        case PageMessage() | GroupMessage() | AliasMessage():
            pass
    return updated


def context_traits(message: IdentifyMessage) -> dict[str, JsonValue]:
    """The traits an SDK put in `context.traits` (RudderStack's SDKs send identify's traits only there). The
    top-level `traits` win where both name a trait."""
    found = (message.context.model_extra or {}).get("traits")
    return dict(found) if isinstance(found, dict) else {}


def _merge_traits(profile: Profile, traits: dict[str, JsonValue], at: datetime) -> None:
    if isinstance(email := traits.get("email"), str) and (address := usable_address(email)) is not None:
        profile.email = address
    for key, attr in (
        ("firstName", "first_name"),
        ("first_name", "first_name"),
        ("lastName", "last_name"),
        ("last_name", "last_name"),
    ):
        if isinstance(value := traits.get(key), str):
            setattr(profile, attr, value)
    if isinstance(zone := traits.get("timezone"), str) and _is_zone(zone):
        profile.timezone = zone
    if isinstance(locale := traits.get("locale"), str):
        profile.locale = locale
    if isinstance(birthday := traits.get("birthday"), str):
        profile.birthday = _parse_birthday(birthday) or profile.birthday
    if isinstance(unsubscribed := traits.get("unsubscribed"), bool):
        record_consent(profile, ConsentChange(at=at, subscribed=not unsubscribed, how="identify"))
    keep_traits(profile, {k: v for k, v in traits.items() if k not in _KNOWN_TRAITS}, at)


def keep_traits(profile: Profile, traits: dict[str, JsonValue], at: datetime) -> None:
    """Merge `traits` within MAX_TRAITS and MAX_TRAITS_BYTES: an update of a known trait always fits if it
    is no bigger; a trait that would pass a bound is dropped and counted, so a customer's later events never
    fail on an item DynamoDB can't store."""
    size = _json_size(profile.traits)
    dropped: list[str] = []
    for key, value in traits.items():
        old = profile.traits.get(key)
        grown = _json_size({key: value}) - (_json_size({key: old}) if key in profile.traits else 0)
        new_name = key not in profile.traits
        if (new_name and len(profile.traits) >= MAX_TRAITS) or (
            grown > 0 and size + grown > MAX_TRAITS_BYTES
        ):
            dropped.append(key)
            continue
        profile.traits[key] = value
        size += grown
    if dropped:
        record = profile.dropped_traits or DroppedTraits()
        names = [n for n in record.names if n not in dropped] + dropped
        profile.dropped_traits = DroppedTraits(
            count=record.count + len(dropped), names=names[-MAX_DROPPED_NAMES:], at=at
        )


def _json_size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def _apply_track(
    profile: Profile, name: str, props: dict[str, Any], at: datetime, message_id: str | None
) -> None:
    match name:
        case "Product Added":
            item = _cart_item(props)
            if item is not None:
                _add_to_cart(profile, item)
                profile.cart_updated_at = at
        case "Product Removed":
            item = _cart_item(props)
            if item is not None:
                _remove_from_cart(profile, item)
                profile.cart_updated_at = at
        case "Order Completed":
            profile.orders_count += 1
            profile.lifetime_value += _decimal(props.get("revenue") or props.get("total")) or Decimal(0)
            categories = _order_categories(props)
            profile.first_order_at = min(filter(None, [profile.first_order_at, at]))
            if profile.last_order_at is None or at >= profile.last_order_at:
                profile.last_order_at = at
                profile.last_order_id = str(props.get("order_id") or message_id or "")
                profile.last_order_categories = sorted(categories)
                profile.last_order_products = _order_products(props)[:MAX_ORDER_PRODUCT_IDS]
            bought = [p for p in profile.bought_products if p not in _order_products(props)]
            profile.bought_products = [*bought, *_order_products(props)][-MAX_BOUGHT:]
            for category in categories:
                previous = profile.recent_categories.get(category)
                profile.recent_categories[category] = max(at, previous) if previous else at
            _bound_categories(profile)
            # Whatever channel the order came from, the cart it settled is gone.
            profile.cart = []
            profile.cart_updated_at = at
        case "Order Refunded":
            profile.lifetime_value -= _decimal(props.get("revenue") or props.get("total")) or Decimal(0)
        case "Survey Answered":
            # A survey's answer is kept as the trait `survey_<survey_id>`, which audiences, branches and
            # templates read; within the profile's trait bounds, like any trait.
            survey, answer = props.get("survey_id"), props.get("answer")
            if isinstance(survey, str) and survey and isinstance(answer, str | int | float | bool):
                keep_traits(profile, {f"survey_{survey[:64]}": answer}, at)
        case _:
            pass


def _bound_categories(profile: Profile) -> None:
    if len(profile.recent_categories) > MAX_RECENT_CATEGORIES:
        newest = sorted(profile.recent_categories.items(), key=lambda kv: kv[1])[-MAX_RECENT_CATEGORIES:]
        profile.recent_categories = dict(newest)


def forget_pending(profile: Profile, campaign_id: str, message_id: str, *, promotional: bool) -> bool:
    """The message `message_id` no longer waits (sent or closed): drop the profile's reference to it, and
    only to it (another message of the campaign may wait under the same key since). False if none was."""
    key = pending_key(campaign_id, message_id, promotional=promotional)
    ref = profile.pending.get(key)
    if ref is not None and ref.message_id == message_id:
        del profile.pending[key]
        return True
    return False


def record_send(
    profile: Profile,
    campaign_id: str,
    promotional: bool,
    at: datetime,
    dedupe_key: str | None,
    keep: timedelta,
    message_id: str | None = None,
) -> bool:
    """Remember a send for frequency caps and re-entry rules; forget sends older than `keep`. Idempotent
    for a `message_id`: False (and no change) when that message's send is already recorded."""
    if message_id is not None and any(s.message_id == message_id for s in profile.sends):
        return False
    profile.sends = [s for s in profile.sends if s.at > at - keep][-MAX_SENDS:]
    profile.sends.append(
        SendRecord(at=at, campaign_id=campaign_id, promotional=promotional, message_id=message_id)
    )
    history = profile.history.setdefault(campaign_id, CampaignHistory())
    history.last_sent_at = at
    history.sent_count += 1
    if dedupe_key is not None and dedupe_key not in history.keys:
        history.keys = [*history.keys, dedupe_key][-MAX_KEYS:]
    return True


def record_engagement(profile: Profile, engagement: Engagement) -> bool:
    """Remember an open or a click, keeping the newest MAX_ENGAGEMENT. Idempotent: False (and no change) when
    the same kind, message and instant is already there (SES events arrive at least once)."""
    key = (engagement.kind, engagement.message_id, engagement.at)
    if any((e.kind, e.message_id, e.at) == key for e in profile.engagement):
        return False
    profile.engagement = sorted([*profile.engagement, engagement], key=lambda e: e.at)[-MAX_ENGAGEMENT:]
    return True


def record_soft_bounce(profile: Profile, bounce: SoftBounce) -> bool:
    """Count a transient bounce in the address's current run. Idempotent per message; a bounce from before
    the last delivery that ended a run, or counted already, changes nothing (False)."""
    if profile.last_delivered_at is not None and bounce.at <= profile.last_delivered_at:
        return False
    if any(b.message_id == bounce.message_id for b in profile.soft_bounces):
        return False
    run = [b for b in profile.soft_bounces if b.address_key == bounce.address_key]
    profile.soft_bounces = [*run, bounce][-MAX_SOFT_BOUNCES:]
    return True


def soft_bounces_in_a_row(profile: Profile, address_key: str) -> int:
    """How many transient bounces the address has had since its last delivery."""
    return sum(1 for b in profile.soft_bounces if b.address_key == address_key)


def record_delivery(profile: Profile, at: datetime) -> bool:
    """A delivery at `at` ends the run of transient bounces before it. Changes (and costs a write) only when
    there is a run to end."""
    ended = [b for b in profile.soft_bounces if b.at <= at]
    if not ended:
        return False
    profile.soft_bounces = [b for b in profile.soft_bounces if b.at > at]
    profile.last_delivered_at = max(filter(None, [profile.last_delivered_at, at]))
    return True


def facts(profile: Profile, now: datetime) -> dict[str, Any]:
    """What audience and exit conditions can test, by name (docs/campaigns.md lists them)."""
    return {
        "customer_id": profile.customer_id,
        "has_email": bool(profile.email),
        "email_domain": profile.email.rsplit("@", 1)[-1].lower() if profile.email else None,
        "locale": profile.locale,
        "timezone": profile.timezone or profile.context_timezone,
        "is_customer": profile.orders_count > 0,
        "is_prospect": profile.orders_count == 0,
        "orders_count": profile.orders_count,
        "lifetime_value": profile.lifetime_value,
        "days_since_last_order": _days(now, profile.last_order_at),
        "days_since_first_seen": _days(now, profile.first_seen_at),
        "days_since_last_seen": _days(now, profile.last_seen_at),
        "last_order_categories": profile.last_order_categories,
        "cart_items": sum(item.quantity for item in profile.cart),
        "cart_total": profile.cart_total,
        "unsubscribed": profile.unsubscribed,
        #: transient bounces since the last delivery (the feedback loop's count)
        "soft_bounces": len(profile.soft_bounces),
        "stage": profile.stage,
        "traits": profile.traits,
    }


def _days(now: datetime, then: datetime | None) -> int | None:
    return None if then is None else max(0, (now - then).days)


def _cart_item(props: dict[str, Any]) -> CartItem | None:
    product_id = props.get("product_id") or props.get("sku")
    if product_id is None:
        return None
    quantity = props.get("quantity", 1)
    return CartItem(
        product_id=str(product_id),
        sku=_str_or_none(props.get("sku")),
        name=_str_or_none(props.get("name")),
        category=_str_or_none(props.get("category")),
        price=_decimal(props.get("price")),
        quantity=quantity if isinstance(quantity, int) and quantity > 0 else 1,
        url=_str_or_none(props.get("url")),
        image_url=_str_or_none(props.get("image_url")),
    )


def _add_to_cart(profile: Profile, item: CartItem) -> None:
    for line in profile.cart:
        if line.product_id == item.product_id:
            line.quantity += item.quantity
            return
    profile.cart.append(item)
    del profile.cart[:-MAX_CART_ITEMS]


def _remove_from_cart(profile: Profile, item: CartItem) -> None:
    for line in list(profile.cart):
        if line.product_id == item.product_id:
            line.quantity -= item.quantity
            if line.quantity <= 0:
                profile.cart.remove(line)
            return


def _order_products(props: dict[str, Any]) -> list[str]:
    """The product ids of an order's `products`, in order, each once (up to 200 characters)."""
    found: list[str] = []
    for line in props.get("products") or []:
        product_id = line.get("product_id") if isinstance(line, dict) else None
        if isinstance(product_id, str | int) and not isinstance(product_id, bool):
            key = str(product_id).strip()[:200]
            if key and key not in found:
                found.append(key)
    return found


def _order_categories(props: dict[str, Any]) -> set[str]:
    products = props.get("products")
    categories = (
        {str(p["category"]) for p in products if isinstance(p, dict) and p.get("category")}
        if isinstance(products, list)
        else set()
    )
    if props.get("category"):
        categories.add(str(props["category"]))
    return categories


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _parse_birthday(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
