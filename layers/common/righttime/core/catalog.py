"""The product catalog: what a `Product Updated` event says about a product, what changed (back in stock, a
price drop), and which customers' interest a change concerns (docs/content.md).

A shop sends its catalog as Segment `track` events named `Product Updated`, one per product (a batch of them
for a whole feed), through the same API, keys and validation as its customers' events. Each is applied to the
product's item in order of the event's timestamp; an older update than the one stored changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from righttime.core.events import PRODUCT_UPDATED, EventContext, QueuedEvent, TrackMessage

#: the events righttime queues for each interested customer when a product comes back or gets cheaper;
#: campaigns and programs trigger on them (`trigger: {events: [righttime:back-in-stock]}`)
BACK_IN_STOCK_EVENT = "righttime:back-in-stock"
PRICE_DROP_EVENT = "righttime:price-drop"
CATALOG_TRIGGERS = frozenset({BACK_IN_STOCK_EVENT, PRICE_DROP_EVENT})
#: the customer events that record interest in a product, and what they say about it
INTEREST_EVENTS = {"Product Viewed": "viewed", "Product Added": "carted"}

MAX_ID = 200
MAX_TEXT = 500
MAX_URL = 2000
MAX_STOCK = 1_000_000_000


class ProductFields(BaseModel):
    """The properties of a `Product Updated` event. Only `product_id` is required: a field left out keeps
    its stored value (a stock feed may send `stock` alone)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    product_id: str = Field(min_length=1, max_length=MAX_ID)
    name: str | None = Field(default=None, max_length=MAX_TEXT)
    category: str | None = Field(default=None, max_length=MAX_ID)
    url: str | None = Field(default=None, max_length=MAX_URL)
    image_url: str | None = Field(default=None, max_length=MAX_URL)
    price: Decimal | None = Field(default=None, ge=0, le=Decimal("1e12"), allow_inf_nan=False)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    #: units in stock; 0 is out of stock, absent is unknown (never treated as out)
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK, strict=True)


class Product(BaseModel):
    """A product as righttime keeps it: the latest of every field its updates sent."""

    product_id: str
    name: str | None = None
    category: str | None = None
    url: str | None = None
    image_url: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    stock: int | None = None
    #: the timestamp of the update last applied (updates older than it are ignored)
    updated_at: AwareDatetime
    #: since when the stock has been 0 (None while in stock or unknown)
    out_of_stock_since: AwareDatetime | None = None

    @property
    def in_stock(self) -> bool:
        """Not known to be out: a product whose stock was never sent counts as available."""
        return self.stock is None or self.stock > 0


class ChangeKind(StrEnum):
    BACK_IN_STOCK = "back_in_stock"
    PRICE_DROP = "price_drop"


class Change(BaseModel):
    """A change of a product that interested customers may be told about."""

    model_config = ConfigDict(frozen=True)

    kind: ChangeKind
    product_id: str
    at: AwareDatetime
    #: back in stock: when it ran out; price drop: the price before
    out_since: AwareDatetime | None = None
    previous_price: Decimal | None = None

    @property
    def event(self) -> str:
        return BACK_IN_STOCK_EVENT if self.kind is ChangeKind.BACK_IN_STOCK else PRICE_DROP_EVENT


class CatalogError(ValueError):
    """A `Product Updated` event whose properties can't describe a product; names the field."""


def product_fields(properties: dict[str, Any]) -> ProductFields:
    """The product a `Product Updated` event's properties describe. Raises CatalogError naming the field."""
    try:
        return ProductFields.model_validate(properties)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "properties"
        raise CatalogError(f"properties.{where}: {first['msg']}") from None


def apply_update(
    stored: Product | None, fields: ProductFields, at: datetime, price_drop_min: Decimal
) -> tuple[Product, list[Change]] | None:
    """The product after an update made at `at`, and what changed for customers; None when `stored` is
    newer (an update that arrives late changes nothing). A price drop is at least `price_drop_min` percent."""
    if stored is not None and stored.updated_at > at:
        return None
    given = fields.model_dump(exclude_unset=True, exclude={"product_id"})
    base = stored.model_dump() if stored is not None else {"product_id": fields.product_id}
    product = Product.model_validate({**base, **given, "updated_at": at})
    changes: list[Change] = []
    was_out = stored is not None and stored.stock == 0
    if product.stock == 0:
        product.out_of_stock_since = stored.out_of_stock_since if was_out and stored else at
    else:
        product.out_of_stock_since = None
        if was_out and product.stock is not None and stored is not None:
            changes.append(
                Change(
                    kind=ChangeKind.BACK_IN_STOCK,
                    product_id=product.product_id,
                    at=at,
                    out_since=stored.out_of_stock_since,
                )
            )
    old_price = stored.price if stored is not None else None
    if old_price and product.price is not None and product.price <= old_price * (1 - price_drop_min / 100):
        changes.append(
            Change(kind=ChangeKind.PRICE_DROP, product_id=product.product_id, at=at, previous_price=old_price)
        )
    return product, changes


class InterestKind(StrEnum):
    VIEWED = "viewed"
    CARTED = "carted"


class Interest(BaseModel):
    """A customer looked at or carted a product: kept on the product's index for `interest_days`."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    product_id: str
    kind: InterestKind
    at: AwareDatetime
    #: the price the customer saw, when the event said (a price drop is measured against it)
    price: Decimal | None = None


def concerns(change: Change, interest: Interest, product: Product) -> bool:
    """Whether the customer should hear of `change`: back in stock, if they showed interest while it was
    out; a price drop, if the new price is below what they saw (or they saw none)."""
    if change.kind is ChangeKind.BACK_IN_STOCK:
        return change.out_since is not None and interest.at >= change.out_since
    seen = interest.price if interest.price is not None else change.previous_price
    return product.price is not None and seen is not None and product.price < seen


def change_event(change: Change, product: Product, customer_id: str, interest: Interest) -> QueuedEvent:
    """The event queued for one interested customer. Its messageId names the change, so a fan-out done
    twice (a retried update) reaches each customer once."""
    properties: dict[str, Any] = {
        "product_id": product.product_id,
        "name": product.name,
        "category": product.category,
        "url": product.url,
        "image_url": product.image_url,
        "price": float(product.price) if product.price is not None else None,
        "currency": product.currency,
        "stock": product.stock,
        "interest": interest.kind.value,
    }
    if change.previous_price is not None:
        properties["previous_price"] = float(change.previous_price)
    message = TrackMessage(
        event=change.event,
        userId=customer_id,
        messageId=f"righttime-{change.kind.value}-{product.product_id}-{change.at.isoformat()}"[:250],
        timestamp=change.at,
        properties=properties,
        context=EventContext(channel="righttime"),
    )
    return QueuedEvent(message=message, received_at=change.at, occurred_at=change.at)


def interest_of(event: QueuedEvent) -> Interest | None:
    """The interest a customer's `Product Viewed` or `Product Added` shows, if it names a product."""
    message = event.message
    if not isinstance(message, TrackMessage) or message.event not in INTEREST_EVENTS:
        return None
    product_id = message.properties.get("product_id")
    if not isinstance(product_id, str | int) or isinstance(product_id, bool) or not str(product_id).strip():
        return None
    price = message.properties.get("price")
    seen = Decimal(str(price)) if isinstance(price, int | float) and not isinstance(price, bool) else None
    return Interest(
        customer_id=event.customer_id,
        product_id=str(product_id).strip()[:MAX_ID],
        kind=InterestKind(INTEREST_EVENTS[message.event]),
        at=event.occurred_at,
        price=seen if seen is not None and seen.is_finite() and seen >= 0 else None,
    )


def is_catalog_event(event: QueuedEvent) -> bool:
    message = event.message
    return isinstance(message, TrackMessage) and message.event == PRODUCT_UPDATED


# -- what a message shows, as the catalog stands when it is sent ---------------------------------------------


class Shown(BaseModel):
    """The products a message shows, with the catalog's live fields, and those left out as out of stock."""

    #: the cart lines still in stock, each with `stock`, `in_stock` and `low_stock` (None when unknown)
    cart: list[dict[str, Any]] = Field(default_factory=list)
    #: the trigger's product with the catalog's fields, or None
    product: dict[str, Any] | None = None
    #: product ids left out (out of stock)
    removed: list[str] = Field(default_factory=list)
    #: every product the message would show is out of stock: it is not sent
    nothing_left: bool = False


def shown_products(
    kind: str | None,
    cart: list[dict[str, Any]],
    trigger_properties: dict[str, Any],
    products: dict[str, Product],
    low_stock: int,
) -> Shown:
    """Join a message's products with the catalog. A product the catalog doesn't know is shown as the event
    described it (in stock: unknown). A cart message shows its lines in stock; a trigger message its one
    product, unless it ran out."""
    if kind == "cart":
        lines = [live_line(line, products.get(str(line.get("product_id"))), low_stock) for line in cart]
        kept = [line for line in lines if line["in_stock"]]
        removed = [str(line["product_id"]) for line in lines if not line["in_stock"]]
        return Shown(cart=kept, removed=removed, nothing_left=bool(lines) and not kept)
    if kind == "trigger" and (product_id := trigger_properties.get("product_id")) is not None:
        line = live_line(dict(trigger_properties), products.get(str(product_id)), low_stock)
        if not line["in_stock"]:
            return Shown(cart=cart, removed=[str(product_id)], nothing_left=True)
        return Shown(cart=cart, product=line)
    return Shown(cart=cart)


def live_line(line: dict[str, Any], product: Product | None, low_stock: int) -> dict[str, Any]:
    """A cart line or product as a template shows it: the catalog's fields over the event's, and its stock
    (`stock` None, `in_stock` true and `low_stock` false when the catalog doesn't know it)."""
    merged = dict(line)
    if product is not None:
        for name in ("name", "url", "image_url", "category"):
            if getattr(product, name) is not None:
                merged[name] = getattr(product, name)
        if product.price is not None:
            merged["price"] = product.price
    stock = product.stock if product is not None else None
    merged["stock"] = stock
    merged["in_stock"] = stock is None or stock > 0
    merged["low_stock"] = stock is not None and 0 < stock <= low_stock
    return merged
