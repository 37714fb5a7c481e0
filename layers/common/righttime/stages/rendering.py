"""Email rendering: Jinja2 templates in a sandbox, HTML autoescaped, undefined variables are errors.

A template is a folder under `templates/` with `subject.txt`, `body.html` and `body.txt`. Every link a
template writes goes through the `safe_url` filter: product URLs come from the shop's events, and only
http(s) may reach an `href` or `src`.
"""

from __future__ import annotations

import email.policy
import unicodedata
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from righttime.core.catalog import Shown, live_line
from righttime.core.errors import RighttimeError
from righttime.core.feedback import CUSTOMER_HEADER
from righttime.core.profiles import Profile

TEMPLATE_PARTS = ("subject.txt", "body.html", "body.txt")
SMTP_POLICY = email.policy.SMTP.clone(max_line_length=998)


#: Schemes a link in an email may have; anything else (javascript:, data:, vbscript:, file:) is replaced.
SAFE_URL_SCHEMES = frozenset({"http", "https"})


def safe_url(value: object, fallback: str = "#") -> str:
    """`value` if it is an absolute http(s) URL, else `fallback`: the `safe_url` filter of every template.

    Cleaned as a browser would read it (the WHATWG URL parser drops surrounding spaces and C0 controls, and
    tabs and newlines anywhere), so `" java\tscript:…"` is judged as the `javascript:` URL it would become.
    A URL with any other control character or line separator left in it is refused.
    """
    if not isinstance(value, str):
        return fallback
    url = value.strip("".join(map(chr, range(0x21)))).replace("\t", "").replace("\n", "").replace("\r", "")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in url):
        return fallback
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # an unbalanced [ in the host, for one
        return fallback
    return url if parts.scheme.lower() in SAFE_URL_SCHEMES and parts.netloc else fallback


class RenderError(RighttimeError):
    """A template is missing, malformed, or uses a variable the context does not have."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


class Renderer:
    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["safe_url"] = safe_url

    def render(self, template: str, context: dict[str, Any]) -> Rendered:
        """Render the three parts of `template`; RenderError names the template, part and problem."""
        parts = {}
        for part in TEMPLATE_PARTS:
            try:
                parts[part] = self.env.get_template(f"{template}/{part}").render(context)
            except TemplateError as exc:
                raise RenderError(f"template {template}/{part}: {exc.message or exc}") from exc
            except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
                # A filter given data it can't take (a price that is an object): the data won't change on a
                # retry, so this closes the message like any render error instead of crashing the sender.
                raise RenderError(f"template {template}/{part}: {type(exc).__name__}: {exc}") from exc
        subject = " ".join(parts["subject.txt"].split())
        if not subject:
            raise RenderError(f"template {template}/subject.txt renders an empty subject")
        return Rendered(subject=subject, html=parts["body.html"], text=parts["body.txt"])


def template_context(
    profile: Profile,
    campaign_id: str,
    message_id: str,
    variables: dict[str, Any] | None = None,
    event: tuple[str, dict[str, Any]] | None = None,
    shown: Shown | None = None,
    recommendations: Callable[..., list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The variables every template sees. Money stays Decimal so templates format it exactly. With `shown`
    (a campaign that declares `products`), the cart is the lines still in stock, with the catalog's live
    fields, and `product` the trigger's product."""
    cart = [live_line(item.model_dump(), None, 0) for item in profile.cart] if shown is None else shown.cart
    return {
        "customer": {
            "id": profile.customer_id,
            "email": profile.email,
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "locale": profile.locale,
            "traits": profile.traits,
        },
        "cart": {
            "products": cart,
            "total": sum((_money(line.get("price")) * _quantity(line) for line in cart), Decimal(0)),
            "count": sum(_quantity(line) for line in cart),
        },
        #: the product the trigger names, with the catalog's live fields (`stock`, `low_stock`), or None
        "product": shown.product if shown is not None else None,
        "last_order": {
            "id": profile.last_order_id,
            "at": profile.last_order_at,
            "categories": profile.last_order_categories,
            "products": profile.last_order_products,
        },
        #: `recommendations(items, n=3, categories=None)`: docs/content.md, "Recommendations"
        "recommendations": recommendations or _fallback_only(profile, variables or {}),
        "campaign": {"id": campaign_id},
        "message_id": message_id,
        #: the campaign's own `variables` (e.g. complementary categories for a cross-sell)
        "vars": variables or {},
        #: the event that triggered the message
        "event": {"name": event[0] if event else None, "properties": event[1] if event else {}},
    }


def _fallback_only(profile: Profile, variables: dict[str, Any]) -> Callable[..., list[dict[str, Any]]]:
    """Recommendations without a catalog (`righttime validate`, a test): the campaign's hand-written map."""
    from righttime.stages.recommend import Recommender

    return Recommender(None, profile, variables, 0)


def _money(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return Decimal(0)


def _quantity(line: dict[str, Any]) -> int:
    quantity = line.get("quantity", 1)
    return quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else 1


def build_mime(
    rendered: Rendered,
    *,
    sender_address: str,
    sender_name: str,
    to: str,
    message_id: str,
    sent_at: Any,
    unsubscribe_mailto: str | None,
    customer_reference: str | None = None,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text, then the preferred HTML) with the headers inboxes expect, and
    the ones SES's events quote back for feedback to find the message (`righttime.core.feedback`)."""
    # Lines up to SMTP's 998 characters: a long List-Unsubscribe must travel as one plain header, not be
    # folded into an RFC 2047 encoded word that mail clients cannot read as a URL.
    mime = EmailMessage(policy=SMTP_POLICY)
    mime["From"] = (
        Address(display_name=sender_name, addr_spec=sender_address) if sender_name else sender_address
    )
    mime["To"] = to
    mime["Subject"] = rendered.subject
    mime["Date"] = format_datetime(sent_at)
    domain = sender_address.rsplit("@", 1)[-1]
    # Stable for the message, whatever the attempt: if a copy ever goes out after an ambiguous SES failure,
    # inboxes see the same Message-ID and fold the two into one.
    mime["Message-ID"] = f"<{message_id}.righttime@{domain}>"
    mime["X-Righttime-Message-Id"] = message_id
    if customer_reference:
        mime[CUSTOMER_HEADER] = customer_reference
    targets = []
    if unsubscribe_url:
        targets.append(f"<{unsubscribe_url}>")
    if unsubscribe_mailto:
        targets.append(f"<mailto:{unsubscribe_mailto}?subject=unsubscribe%20{message_id}>")
    if targets:
        mime["List-Unsubscribe"] = ", ".join(targets)
    if unsubscribe_url:
        # RFC 8058: a POST of this body to the https URL unsubscribes, with no other step (one-click).
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime.set_content(rendered.text)
    mime.add_alternative(rendered.html, subtype="html")
    return mime
