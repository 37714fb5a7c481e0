"""The catalog's use cases: apply a `Product Updated` event, telling each interested customer of a product
back in stock or cheaper; and remember a customer's interest in a product (docs/content.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from righttime.core.catalog import (
    Change,
    Interest,
    apply_update,
    change_event,
    concerns,
    product_fields,
)
from righttime.core.events import QueuedEvent, TrackMessage
from righttime.core.global_policy import CatalogPolicy
from righttime.core.recommend import CATEGORY_PAIRS, PRODUCT_PAIRS, basket, weight
from righttime.stages.ports import Catalog, EventQueue

#: re-reads after another writer changed the product first, before the event goes back to the queue
MAX_ATTEMPTS = 5
ORDER_COMPLETED = "Order Completed"


@dataclass
class ProductUpdate:
    """What one `Product Updated` did."""

    product_id: str
    #: applied, or stale (the stored product is newer: nothing changed)
    status: str
    changes: list[Change] = field(default_factory=list)
    #: customers queued an event, per change kind
    notified: dict[str, int] = field(default_factory=dict)
    #: changes whose interested customers were more than the policy's `max_notified`
    truncated: list[str] = field(default_factory=list)


class ProductContention(RuntimeError):
    """The product kept changing under us; SQS delivers the event again."""


def update_product(
    event: QueuedEvent, catalog: Catalog, queue: EventQueue, policy: CatalogPolicy
) -> ProductUpdate:
    """Apply the update; queue one event per interested customer for each change it makes. Raises
    CatalogError (a bad event: it never will apply) or ProductContention.

    The customers are told before the product is written: if the write fails, the event is retried, finds
    the same change and queues the same events, which reach each customer once (their messageIds name the
    change). Written first, a crash in between would lose the change for good."""
    message = event.message
    assert isinstance(message, TrackMessage)
    fields = product_fields(message.properties)
    for _ in range(MAX_ATTEMPTS):
        stored = catalog.product(fields.product_id)
        applied = apply_update(stored, fields, event.occurred_at, policy.price_drop_min)
        if applied is None:
            return ProductUpdate(fields.product_id, "stale")
        product, changes = applied
        result = ProductUpdate(fields.product_id, "applied", changes)
        for change in changes:
            interested = catalog.interested(
                product.product_id, change.at - policy.interest, policy.max_notified + 1
            )
            if len(interested) > policy.max_notified:
                result.truncated.append(change.kind.value)
            events = [
                change_event(change, product, interest.customer_id, interest)
                for interest in interested[: policy.max_notified]
                if concerns(change, interest, product)
            ]
            for start in range(0, len(events), 10):
                queue.send(events[start : start + 10])
            result.notified[change.kind.value] = len(events)
        if catalog.put_product(product, stored):
            return result
    raise ProductContention(f"product {fields.product_id} kept changing; gave up after {MAX_ATTEMPTS} tries")


def remember_interest(interest: Interest, catalog: Catalog, policy: CatalogPolicy, now: datetime) -> None:
    """Keep the customer's view or cart of a product on its index for the policy's `interest` window."""
    catalog.add_interest(interest, max(interest.at, now) + policy.interest)


def learn_from_order(event: QueuedEvent, catalog: Catalog, now: datetime) -> int:
    """Add an `Order Completed`'s products (and categories) to each other's co-purchase partners, once per
    order (a retried event finds its order on each item). Returns the items updated."""
    message = event.message
    if not isinstance(message, TrackMessage) or message.event != ORDER_COMPLETED:
        return 0
    order_id = message.properties.get("order_id") or event.message_id
    found = basket(str(order_id), event.occurred_at, message.properties)
    if found is None:
        return 0
    added = weight(found.at)
    updated = 0
    for prefix, members in ((PRODUCT_PAIRS, found.products), (CATEGORY_PAIRS, found.categories)):
        if len(members) < 2:
            continue
        for member in members:
            partners = found.partners(member, members)
            updated += catalog.learn(prefix + member, partners, added, found.order_tag, now)
    return updated
