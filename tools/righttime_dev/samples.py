"""Sample data for previews and validation: a plausible customer, never a real one."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from righttime.core.profiles import CartItem, Profile


def sample_profile() -> Profile:
    """A plausible profile for rendering templates in validation and previews."""
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    return Profile(
        customer_id="sample-customer",
        email="jane@example.com",
        first_name="Jane",
        last_name="Doe",
        timezone="Europe/Paris",
        locale="fr-FR",
        cart=[
            CartItem(
                product_id="sku-1",
                name="Linen shirt",
                price=Decimal("49.00"),
                quantity=1,
                category="shirts",
                url="https://shop.example.com/p/sku-1",
            )
        ],
        cart_updated_at=now,
        orders_count=2,
        lifetime_value=Decimal("180.00"),
        last_order_at=now,
        last_order_id="order-1",
        last_order_categories=["shoes"],
        first_seen_at=now,
        last_seen_at=now,
    )
