"""E-mail rendering: sandboxed Jinja2 templates, HTML escaping, strict variables, and the MIME message."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from righttime.core.decisions import message_id_for
from righttime.core.profiles import CartItem
from righttime.stages.rendering import Rendered, Renderer, RenderError, build_mime, template_context
from righttime_dev.samples import sample_profile

ROOT = Path(__file__).resolve().parents[2]
SENT_AT = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def template(folder: Path, name: str = "promo", **parts: str) -> Renderer:
    """A templates folder with one template; parts default to ones using `product`."""
    texts = {
        "subject.txt": "Still thinking about {{ product }}?",
        "body.html": "<p>You left {{ product }}</p>",
        "body.txt": "You left {{ product }}",
    }
    texts.update({key.replace("_", "."): value for key, value in parts.items()})
    (folder / name).mkdir(parents=True, exist_ok=True)
    for part, text in texts.items():
        (folder / name / part).write_text(text, encoding="utf-8")
    return Renderer(folder)


# --- Renderer ---------------------------------------------------------------------------------------


def test_markup_in_data_is_escaped_in_html_but_not_in_text(tmp_path: Path) -> None:
    # Given a product whose name contains markup
    renderer = template(tmp_path)
    # When the template is rendered
    rendered = renderer.render("promo", {"product": "<script>alert(1)</script>"})
    # Then the HTML body shows it as text, never as a script
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    # And the plain-text body and subject show it as written
    assert rendered.text == "You left <script>alert(1)</script>"
    assert rendered.subject == "Still thinking about <script>alert(1)</script>?"


def test_the_subject_is_one_line(tmp_path: Path) -> None:
    # Given a subject template spread over lines with extra spaces
    renderer = template(tmp_path, subject_txt="Hello\n   {{ product }}\n\n  today  \n")
    # When rendered, Then the subject is a single line with single spaces (safe as a header)
    assert renderer.render("promo", {"product": "Jane"}).subject == "Hello Jane today"


@pytest.mark.parametrize("part", ["subject.txt", "body.html", "body.txt"])
def test_an_undefined_variable_names_template_and_part(tmp_path: Path, part: str) -> None:
    # Given a template part using a variable the context lacks
    renderer = template(tmp_path, **{part.replace(".", "_"): "Hi {{ customer.nickname }}"})
    # When it is rendered
    with pytest.raises(RenderError) as caught:
        renderer.render("promo", {"product": "shirt", "customer": {"first_name": "Jane"}})
    # Then the error names the template, the part and the missing variable, instead of sending a blank
    assert f"template promo/{part}" in str(caught.value)
    assert "nickname" in str(caught.value)


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ product.__init__.__globals__ }}",
    ],
)
def test_the_sandbox_blocks_access_to_python_internals(tmp_path: Path, expression: str) -> None:
    # Given a template (marketer-owned content) trying to reach Python internals
    renderer = template(tmp_path, body_html=expression)
    # When it is rendered, Then it fails as a render error rather than exposing the process
    with pytest.raises(RenderError, match=r"template promo/body\.html"):
        renderer.render("promo", {"product": "shirt"})


@pytest.mark.parametrize("subject", ["", "   \n  ", "{{ '' }}", "{% if false %}x{% endif %}"])
def test_an_empty_subject_is_an_error(tmp_path: Path, subject: str) -> None:
    # Given a subject that renders to nothing
    renderer = template(tmp_path, subject_txt=subject)
    # When rendered, Then no subject-less mail is produced
    with pytest.raises(RenderError, match="empty subject"):
        renderer.render("promo", {"product": "shirt"})


def test_a_missing_template_names_it(tmp_path: Path) -> None:
    # Given a campaign pointing at a template folder that does not exist
    renderer = Renderer(tmp_path)
    # When rendered, Then the error names the template
    with pytest.raises(RenderError, match=r"template winback/subject\.txt"):
        renderer.render("winback", {})


def test_a_missing_part_names_it(tmp_path: Path) -> None:
    # Given a template without its plain-text part
    renderer = template(tmp_path)
    (tmp_path / "promo" / "body.txt").unlink()
    # Then rendering names the missing part
    with pytest.raises(RenderError, match=r"template promo/body\.txt"):
        renderer.render("promo", {"product": "shirt"})


def test_a_syntax_error_names_the_part(tmp_path: Path) -> None:
    # Given a body with a broken tag
    renderer = template(tmp_path, body_txt="{% if product %}unclosed")
    # Then rendering names the part
    with pytest.raises(RenderError, match=r"template promo/body\.txt"):
        renderer.render("promo", {"product": "shirt"})


def test_a_template_name_cannot_escape_the_templates_folder(tmp_path: Path) -> None:
    # Given a secret file next to the templates folder
    (tmp_path / "subject.txt").write_text("secret")
    renderer = template(tmp_path / "templates")
    # When a template name tries to climb out, Then it is not found
    with pytest.raises(RenderError):
        renderer.render("..", {})


# --- the shipped template ---------------------------------------------------------------------------


def test_the_shipped_cart_template_lists_the_cart() -> None:
    # Given the sample customer (Jane, one Linen shirt at 49.00 in the cart) and the shipped template
    profile = sample_profile()
    renderer = Renderer(ROOT / "templates")
    # When the cart reminder is rendered
    rendered = renderer.render("cart_abandonment", template_context(profile, "cart_abandonment", "m-1"))
    # Then it greets her and lists the shirt with its price, in both bodies
    assert rendered.subject == "Jane, you left 1 item in your cart"
    for body in (rendered.html, rendered.text):
        assert "Hi Jane," in body
        assert "Linen shirt" in body
        assert "49.00" in body
    assert 'href="https://shop.example.com/p/sku-1"' in rendered.html


def test_the_shipped_cart_template_escapes_product_names_and_counts_quantities() -> None:
    # Given a cart with two of a product whose name contains markup, and no first name
    profile = sample_profile().model_copy(
        update={
            "first_name": None,
            "cart": [CartItem(product_id="p-1", name="<b>Bold</b> tee", price=Decimal("10"), quantity=2)],
        }
    )
    # When the reminder is rendered
    rendered = Renderer(ROOT / "templates").render(
        "cart_abandonment", template_context(profile, "cart_abandonment", "m-1")
    )
    # Then the subject counts items, the HTML escapes the name, and the total is exact
    assert rendered.subject == "You left 2 items in your cart"
    assert "&lt;b&gt;Bold&lt;/b&gt; tee" in rendered.html
    assert "<b>Bold</b> tee x2" in rendered.text
    assert "Total: 20.00" in rendered.text


def test_the_template_context_exposes_cart_and_customer() -> None:
    # Given the sample customer
    context = template_context(sample_profile(), "cart_abandonment", "m-1")
    # Then templates see the customer, the cart with an exact total, and the campaign
    assert context["customer"]["first_name"] == "Jane"
    assert context["cart"]["total"] == Decimal("49.00")
    assert context["cart"]["count"] == 1
    assert [p["name"] for p in context["cart"]["products"]] == ["Linen shirt"]
    assert (context["campaign"], context["message_id"]) == ({"id": "cart_abandonment"}, "m-1")


# --- build_mime -------------------------------------------------------------------------------------


RENDERED = Rendered(subject="Your cart", html="<p>Hi</p>", text="Hi")
#: message ids are 32 hex characters (decisions.message_id_for)
MESSAGE_ID = message_id_for("cust-1", "cart_abandonment", "m-add")
UNSUBSCRIBE = f"<mailto:unsubscribe@example.com?subject=unsubscribe%20{MESSAGE_ID}>"


def wire(**overrides: Any) -> bytes:
    """The message as it goes to SES (`Content.Raw.Data`)."""
    options: dict[str, Any] = {
        "sender_address": "shop@example.com",
        "sender_name": "Example Shop",
        "to": "jane@example.com",
        "message_id": MESSAGE_ID,
        "sent_at": SENT_AT,
        "unsubscribe_mailto": "unsubscribe@example.com",
    }
    options.update(overrides)
    return build_mime(RENDERED, **options).as_bytes()


def mime(**overrides: Any) -> Any:
    """What an inbox sees: the bytes parsed again."""
    return message_from_bytes(wire(**overrides), policy=policy.default)


def raw_header(data: bytes, name: str) -> str:
    """A header's value exactly as on the wire, unfolded (RFC 5322 2.2.3), without decoding anything."""
    head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0].decode("ascii")
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", head)
    for line in unfolded.splitlines():
        key, _, value = line.partition(":")
        if key.lower() == name.lower():
            return value.strip()
    raise KeyError(name)


def test_the_mail_is_multipart_alternative_with_text_then_html() -> None:
    # Given a rendered message
    # When the MIME message is built
    message = mime()
    # Then inboxes get a text part and the preferred HTML part, in that order
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().strip() == "Hi"
    assert parts[1].get_content().strip() == "<p>Hi</p>"


def test_the_mail_has_the_headers_inboxes_expect() -> None:
    message = mime()
    # Then sender, recipient, subject, date and ids are set
    assert message["From"] == "Example Shop <shop@example.com>"
    assert message["To"] == "jane@example.com"
    assert message["Subject"] == "Your cart"
    assert message["Date"].datetime == SENT_AT
    assert message["Message-ID"].strip().endswith("@example.com>")
    assert message["X-Righttime-Message-Id"] == MESSAGE_ID


def test_list_unsubscribe_is_set_when_configured() -> None:
    # Given an unsubscribe mailbox configured
    # Then the message offers unsubscribing, tied to this message
    assert mime()["List-Unsubscribe"].strip() == UNSUBSCRIBE


def test_list_unsubscribe_is_a_plain_url_on_the_wire() -> None:
    # Given an unsubscribe mailbox configured and a real (32-character) message id
    # When the message is serialised for SES
    # Then the header is the angle-bracketed mailto URL RFC 2369 clients look for, not an encoded word
    assert raw_header(wire(), "List-Unsubscribe") == UNSUBSCRIBE


def test_list_unsubscribe_is_absent_when_not_configured() -> None:
    # Given no unsubscribe mailbox
    # Then no header promises one
    assert mime(unsubscribe_mailto=None)["List-Unsubscribe"] is None


def test_without_a_sender_name_the_address_alone_is_the_sender() -> None:
    assert mime(sender_name="")["From"] == "shop@example.com"
