"""Privacy requests (GDPR, CCPA): export everything righttime holds about a customer, or erase it
(docs/privacy.md).

Erasure leaves one thing behind on purpose: hashed suppression entries (`reason = erased`) for the customer's
addresses and for its id. Events of the customer may still be on the queue when it runs; evaluating one
creates a fresh profile, and the entries are what keep anything from being sent to it again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from righttime.core.addresses import address_key, erased_customer_key
from righttime.core.clock import isoformat
from righttime.core.decisions import MessageStatus, OutboundMessage
from righttime.core.profiles import Profile
from righttime.stages.explain import decision_json
from righttime.stages.ports import CustomerRecords, Schedules, Store

#: the newest decisions an export carries; the rest are read through the decisions API with its cursor
MAX_EXPORT_DECISIONS = 2_000
#: the messages an export carries (a message lives 90 days after its send time, so few customers have more)
MAX_EXPORT_MESSAGES = 1_000
#: the message and decision items one erasure deletes; a customer with more is erased by repeating it
MAX_ERASED_ITEMS = 5_000
#: the reason an erased customer's hashed entries carry on the suppression list
ERASED = "erased"


@dataclass(frozen=True)
class Erasure:
    """What one erasure removed."""

    user_id: str
    profile: bool
    messages: int
    decisions: int
    schedules: int
    interests: int
    #: hashed suppression entries written (one per address, one for the id)
    suppressed: int
    #: False when items are left (more than MAX_ERASED_ITEMS): repeat the erasure
    complete: bool
    #: anonymous profiles merged into the customer (tombstones) deleted with it
    merged_profiles: int = 0

    @property
    def found(self) -> bool:
        """Whether there was anything to erase."""
        return self.profile or any((self.messages, self.decisions, self.interests, self.merged_profiles))

    def document(self) -> dict[str, Any]:
        erased = {k: v for k, v in asdict(self).items() if k not in ("user_id", "complete", "suppressed")}
        return {
            "user_id": self.user_id,
            "found": self.found,
            "complete": self.complete,
            "erased": erased,
            "suppression_entries": self.suppressed,
        }


def export_document(
    store: Store, records: CustomerRecords, customer_id: str, now: datetime
) -> dict[str, Any]:
    """Everything held about the customer as one JSON document: the profile as stored (decoded), consent
    history, messages, the newest decisions, the suppression state of its addresses and its interest
    entries."""
    profile = store.get_profile(customer_id)
    messages, more_messages = records.messages(customer_id, MAX_EXPORT_MESSAGES)
    page = records.decisions_page(customer_id, None, MAX_EXPORT_DECISIONS, None)
    addresses = addresses_of(profile, messages)
    keys = {address_key(a): a for a in addresses}
    suppressed = records.suppression([*keys, erased_customer_key(customer_id)])
    interests = records.interests(customer_id, product_ids_of(profile, messages))
    return {
        "user_id": customer_id,
        "exported_at": isoformat(now),
        "found": profile.version > 0 or bool(messages or page.decisions),
        "profile": profile.model_dump(mode="json") if profile.version > 0 else None,
        "consent_history": [c.model_dump(mode="json") for c in profile.consent_history],
        "messages": [m.model_dump(mode="json") for m in messages],
        "messages_truncated": more_messages,
        "decisions": [decision_json(d) for d in page.decisions],
        "decisions_next_cursor": page.next_cursor,
        "suppression": [{"address": a, "reason": suppressed[k]} for k, a in keys.items() if k in suppressed],
        "erased_before": suppressed.get(erased_customer_key(customer_id)) == ERASED,
        "interests": [i.model_dump(mode="json", exclude={"customer_id"}) for i in interests],
    }


def erase(
    store: Store, records: CustomerRecords, schedules: Schedules, customer_id: str, now: datetime
) -> Erasure:
    """Erase the customer: hashed suppression entries first (they guard against what is still in flight),
    then its pending schedules, interest entries, messages and decisions, and the profile last (it names
    the addresses and products the rest is found by, so a repeated erasure can finish the work).

    The anonymous profiles merged into the customer (docs/identity.md) go too: each is a tombstone naming
    the customer, found through the profile's `linked_ids`, with the messages and decisions the visitor had
    before the merge."""
    profile = store.get_profile(customer_id)
    merged = [i for i in profile.linked_ids if store.get_profile(i).merged_into == customer_id]
    messages, _ = records.messages(customer_id, MAX_ERASED_ITEMS)
    keys = [*{address_key(a) for a in addresses_of(profile, messages)}, erased_customer_key(customer_id)]
    records.suppress_erased(keys, now)
    held = {
        customer_id: messages,
        **{other: records.messages(other, MAX_ERASED_ITEMS)[0] for other in merged},
    }
    cancelled = sum(
        schedules.delete(m.message_id, m.generation)
        for found in held.values()
        for m in found
        if m.status is MessageStatus.PENDING
    )
    interests = sum(
        records.delete_interests(owner, product_ids_of(profile, found)) for owner, found in held.items()
    )
    deleted = [records.delete_records(owner, MAX_ERASED_ITEMS) for owner in held]
    left = any(more for _, _, more in deleted)
    deleted_merged = 0 if left else sum(records.delete_profile(other) for other in merged)
    deleted_profile = False if left else records.delete_profile(customer_id)
    return Erasure(
        user_id=customer_id,
        profile=deleted_profile,
        messages=sum(gone for gone, _, _ in deleted),
        decisions=sum(gone for _, gone, _ in deleted),
        schedules=cancelled,
        interests=interests,
        suppressed=len(keys),
        complete=not left,
        merged_profiles=deleted_merged,
    )


def addresses_of(profile: Profile, messages: list[OutboundMessage]) -> list[str]:
    """Every address the customer's records name: the profile's, and those messages were planned for."""
    found = [profile.email] if profile.email else []
    return list(dict.fromkeys([*found, *(m.to for m in messages if m.to)]))


def product_ids_of(profile: Profile, messages: list[OutboundMessage]) -> list[str]:
    """The products whose interest entries may name the customer: in the cart, bought, or in the event that
    planned a message. (A product only viewed is named by none of them: its entry expires with its TTL.)"""
    found = [line.product_id for line in profile.cart]
    found += [*profile.bought_products, *profile.last_order_products]
    for message in messages:
        properties = message.trigger_properties or {}
        found += [str(properties["product_id"])] if properties.get("product_id") else []
        products = properties.get("products")
        if isinstance(products, list):
            found += [str(p["product_id"]) for p in products if isinstance(p, dict) and p.get("product_id")]
    return list(dict.fromkeys(found))
