"""One-click unsubscribe (RFC 8058): the link a promotional e-mail carries, the `POST` that unsubscribes at
once, and the page a `GET` shows (docs/operations.md, "One-click unsubscribe")."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from righttime.core.decisions import Decision, Outcome, Reason
from righttime.core.profiles import ConsentChange, Profile, record_consent
from righttime.core.unsubscribe import TOKEN_LIFETIME, Claims, SigningKey, sign, verify
from righttime.stages.ports import Store

#: where the keys come from: called when a link is made or checked, so a cache belongs inside it
UnsubscribeKeys = Callable[[], Sequence[SigningKey]]


@dataclass(frozen=True)
class OneClick:
    """Makes the `List-Unsubscribe` URL of a promotional message: `url` (the API's `/v1/unsubscribe`) with a
    token signed by the first key."""

    url: str
    keys: UnsubscribeKeys

    def link(self, customer_id: str, message_id: str, sent_at: datetime) -> str:
        key = self.keys()[0]
        token = sign(key, customer_id, message_id, sent_at + TOKEN_LIFETIME)
        return f"{self.url}?t={quote(token, safe='')}"


#: the field the pages' own unsubscribe buttons send, so that their POST is told from a mail client's
PAGE_FIELD = '<input type="hidden" name="source" value="page">'


def unsubscribe(
    token: str, keys: Sequence[SigningKey], store: Store, now: datetime, how: str = "one_click"
) -> Claims:
    """Unsubscribe the customer the token names from promotional mail, at once, recording when and how. Raises
    InvalidToken (and changes nothing) for a forged, tampered, expired or damaged token. Idempotent: a second
    POST (a mail client's retry) changes nothing more."""
    claims = verify(token, list(keys), now)
    change = ConsentChange(at=now, subscribed=False, how=how, message_id=claims.message_id)
    changed: list[bool] = []

    def unsubscribe_once(profile: Profile) -> bool:
        changed[:] = [record_consent(profile, change)]
        return changed[0]

    store.apply_to_profile(claims.customer_id, unsubscribe_once)
    if changed and changed[0]:
        _count_against(store, claims, now)
    return claims


def _count_against(store: Store, claims: Claims, now: datetime) -> None:
    """An `unsubscribed` decision on the campaign of the message whose link was used, once per message, for
    the report. A message past its retention (the link outlives it) has no campaign left to count against."""
    message = store.get_message(claims.customer_id, claims.message_id)
    if message is None:
        return
    decision = Decision.about(message, Outcome.UNSUBSCRIBED, [Reason.one_click()], at=now)
    store.record_feedback(message, "unsubscribed_at", now, decision)


def save_preferences(
    token: str,
    keys: Sequence[SigningKey],
    store: Store,
    now: datetime,
    kept: set[str],
    topics: dict[str, str],
) -> Claims:
    """The preference page's choices: the customer keeps the topics in `kept` (of the deployment's `topics`;
    any other name is ignored) and opts out of the rest. Keeping any topic after unsubscribing from
    everything subscribes them again: their own choice, through their own signed link. Each change is recorded
    with when and how. Raises InvalidToken, changing nothing, as `unsubscribe` does."""
    claims = verify(token, list(keys), now)

    def choose(profile: Profile) -> bool:
        changed = False
        if profile.unsubscribed and kept & set(topics):
            changed |= record_consent(profile, _change(now, True, claims, None))
        for topic in topics:
            changed |= record_consent(profile, _change(now, topic in kept, claims, topic))
        return changed

    store.apply_to_profile(claims.customer_id, choose)
    return claims


def _change(now: datetime, subscribed: bool, claims: Claims, topic: str | None) -> ConsentChange:
    return ConsentChange(
        at=now, subscribed=subscribed, how="preference_page", message_id=claims.message_id, topic=topic
    )


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}}
button{{font:inherit;padding:.6rem 1.2rem;margin-top:1rem}}
fieldset p{{display:flex;align-items:center;gap:.6rem}}
input[type=checkbox]{{flex:none;width:1.5rem;height:1.5rem;margin:0}}
label{{cursor:pointer}}
:focus-visible{{outline:3px solid #1a5fb4;outline-offset:2px}}</style>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def page(title: str, body_html: str) -> str:
    return _PAGE.format(title=html.escape(title), body=body_html)


def confirm_page(token: str) -> str:
    """What a `GET` of the link shows: a button to POST; a GET never unsubscribes (scanners follow links)."""
    return page(
        "Unsubscribe",
        "<p>Stop receiving our marketing e-mail? Order confirmations and other messages about your account "
        "will still reach you.</p>\n"
        f'<form method="post" action="?t={html.escape(quote(token, safe=""))}">{PAGE_FIELD}'
        '<button type="submit">Unsubscribe from all marketing e-mail</button></form>',
    )


def preference_page(token: str, profile: Profile, topics: dict[str, str]) -> str:
    """The preference page: a checkbox per topic (ticked when the customer still gets it), a button to save,
    and one to unsubscribe from everything; with no topics declared, the one-button confirmation. A customer
    who unsubscribed from everything is told so, since every box is then unticked. Large boxes, a visible
    focus and buttons apart: tests/e2e/browser/test_preference_page.py checks them in a real browser."""
    if not topics:
        return confirm_page(token)
    query = html.escape(quote(token, safe=""))
    status = (
        "<p><strong>You are unsubscribed from all our marketing e-mail.</strong> Tick what you want "
        "to receive again, then save.</p>\n"
        if profile.unsubscribed
        else ""
    )
    boxes = "\n".join(
        f'<p><input type="checkbox" name="topic" value="{html.escape(topic)}" id="topic-{html.escape(topic)}"'
        f"{'' if profile.unsubscribed or topic in profile.topic_opt_outs else ' checked'}>"
        f' <label for="topic-{html.escape(topic)}">{html.escape(label)}</label></p>'
        for topic, label in topics.items()
    )
    return page(
        "Your e-mail preferences",
        f"{status}<p>Choose what you want to hear about. Order confirmations and other messages about your "
        "account will still reach you.</p>\n"
        f'<form method="post" action="preferences?t={query}">\n<fieldset><legend>Send me</legend>\n'
        f'{boxes}\n</fieldset>\n<button type="submit">Save my choices</button></form>\n'
        f'<form method="post" action="unsubscribe?t={query}">{PAGE_FIELD}'
        '<button type="submit">Unsubscribe from everything</button></form>',
    )


def saved_page() -> str:
    return page("Your choices are saved", "<p>We will only write to you about what you chose.</p>")


def done_page() -> str:
    return page("You are unsubscribed", "<p>You will not receive our marketing e-mail any more.</p>")


def refused_page(message: str) -> str:
    return page("This link does not work", f"<p>{html.escape(message)}. Nothing was changed.</p>")
