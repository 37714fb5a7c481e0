"""SES's events, played locally: moto publishes none, so local mode builds what SES would send to EventBridge
for each message in the outbox, and delivers them to the functions whose EventBridge rules match.

What happens to a message is its recipient's *fate*:

* the SES mailbox simulator's addresses behave as on SES: `success@simulator.amazonses.com` and `ooto@…`
  are delivered, `bounce@…` bounces for good, `complaint@…` is delivered and then complained about, and
  `suppressionlist@…` bounces as on the account's suppression list (a `+label` is allowed before the `@`);
* any address can be given a fate (`Driver.simulate_ses`, or `POST /local/ses/{fate}?address=…` on the
  local server): it applies to the latest message already sent to it, and to every later one;
* every other address is delivered;
* `open` and `click` make the recipient open, or click a link in, the latest message sent to an address
  (`POST /local/ses/click?address=…&link=…`): once, not for later mail.

The event records follow SES's event publishing (docs/architecture.md, "SES events"). Local mail carries no
SES tags (moto keeps none), so the events name the message through the headers the sender writes, which SES
quotes in `mail.headers` too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from enum import StrEnum
from typing import Any

from righttime.core.addresses import normalise_address
from righttime.core.clock import isoformat
from righttime.core.feedback import DETAIL_TYPES, SesEventType

SIMULATOR_DOMAIN = "simulator.amazonses.com"


class Fate(StrEnum):
    """What SES does with a message to an address."""

    DELIVER = "deliver"
    BOUNCE = "bounce"
    SOFT_BOUNCE = "soft-bounce"
    COMPLAINT = "complaint"
    #: the address is on the account's suppression list: SES bounces it without trying
    SUPPRESSION_LIST = "suppression-list"
    #: the recipient opens, or clicks a link in, the latest message sent to the address (once: not a fate
    #: of later mail)
    OPEN = "open"
    CLICK = "click"


#: what a recipient does with a message, rather than what SES does with it: they happen once
ENGAGEMENT = frozenset({Fate.OPEN, Fate.CLICK})
#: the link a simulated click follows when none is given
DEFAULT_LINK = "https://shop.example/"


#: the mailbox simulator's local parts
SIMULATOR = {
    "success": Fate.DELIVER,
    "ooto": Fate.DELIVER,
    "bounce": Fate.BOUNCE,
    "complaint": Fate.COMPLAINT,
    "suppressionlist": Fate.SUPPRESSION_LIST,
}


def simulator_fate(address: str) -> Fate | None:
    """The fate the SES mailbox simulator gives `address`, or None for any other address."""
    local, _, domain = normalise_address(address).rpartition("@")
    if domain != SIMULATOR_DOMAIN:
        return None
    return SIMULATOR.get(local.split("+", 1)[0])


def recipient(raw: bytes) -> str:
    """The address a sent message went to (its To header)."""
    return parseaddr(str(_parse(raw)["To"] or ""))[1]


def _parse(raw: bytes) -> Message:
    """The headers of a sent message, as SES's events carry them (raw values; the body is never needed)."""
    return BytesHeaderParser(policy=compat32).parsebytes(raw)


def events_for(
    fate: Fate,
    raw: bytes,
    ses_message_id: str,
    at: datetime,
    configuration_set: str,
    *,
    already_sent: bool = False,
    link: str = DEFAULT_LINK,
) -> list[dict[str, Any]]:
    """The EventBridge events SES would publish for one message with `fate`, in order. `already_sent`: the
    message's Send (and Delivery) were published before, so only the fate's own event follows. `link`: the
    link a click follows."""
    return events_for_headers(
        fate, _parse(raw), ses_message_id, at, configuration_set, already_sent=already_sent, link=link
    )


def events_for_headers(
    fate: Fate,
    headers: Message,
    ses_message_id: str,
    at: datetime,
    configuration_set: str,
    *,
    already_sent: bool = False,
    link: str = DEFAULT_LINK,
) -> list[dict[str, Any]]:
    """`events_for` from a message's headers (parsed, or as built before any serialisation)."""
    mail = _mail(headers, ses_message_id, at, configuration_set)
    to = mail["destination"][0] if mail["destination"] else ""
    later = at + timedelta(seconds=1)
    bodies: list[tuple[SesEventType, dict[str, Any]]] = []
    if not already_sent:
        bodies.append((SesEventType.SEND, {}))
        if fate in (Fate.DELIVER, Fate.COMPLAINT, *ENGAGEMENT):
            bodies.append((SesEventType.DELIVERY, _delivery(to, later)))
    match fate:
        case Fate.BOUNCE:
            bodies.append((SesEventType.BOUNCE, _bounce("Permanent", "General", "5.1.1", to, later)))
        case Fate.SUPPRESSION_LIST:
            bodies.append(
                (SesEventType.BOUNCE, _bounce("Permanent", "OnAccountSuppressionList", "5.1.1", to, later))
            )
        case Fate.SOFT_BOUNCE:
            bodies.append((SesEventType.BOUNCE, _bounce("Transient", "MailboxFull", "4.2.2", to, later)))
        case Fate.COMPLAINT:
            complaint = {
                "complainedRecipients": [{"emailAddress": to}],
                "timestamp": isoformat(later + timedelta(seconds=1)),
                "feedbackId": _feedback_id(),
                "complaintFeedbackType": "abuse",
            }
            bodies.append((SesEventType.COMPLAINT, complaint))
        case Fate.OPEN:
            bodies.append((SesEventType.OPEN, _engagement(later)))
        case Fate.CLICK:
            bodies.append((SesEventType.CLICK, {**_engagement(later), "link": link, "linkTags": {}}))
        case Fate.DELIVER:
            pass
    return [
        _envelope(kind, {"eventType": kind.value, "mail": mail, _KEY[kind]: body}, at)
        for kind, body in bodies
    ]


_KEY = {
    SesEventType.SEND: "send",
    SesEventType.DELIVERY: "delivery",
    SesEventType.BOUNCE: "bounce",
    SesEventType.COMPLAINT: "complaint",
    SesEventType.OPEN: "open",
    SesEventType.CLICK: "click",
}


def _mail(mime: Message, ses_message_id: str, at: datetime, configuration_set: str) -> dict[str, Any]:
    to = parseaddr(str(mime["To"] or ""))[1]
    source = parseaddr(str(mime["From"] or ""))[1]
    return {
        "timestamp": isoformat(at),
        "source": source,
        "sendingAccountId": "123456789012",
        "messageId": ses_message_id,
        "destination": [to] if to else [],
        "headersTruncated": False,
        "headers": [{"name": name, "value": str(value)} for name, value in mime.items()],
        "commonHeaders": {
            "from": [str(mime["From"] or "")],
            "to": [to],
            "messageId": str(mime["Message-ID"] or ""),
            "subject": str(make_header(decode_header(str(mime["Subject"] or "")))),
        },
        # moto keeps no tags: only the one SES adds itself. The message is named by its headers.
        "tags": {"ses:configuration-set": [configuration_set]},
    }


def _delivery(to: str, at: datetime) -> dict[str, Any]:
    return {
        "timestamp": isoformat(at),
        "processingTimeMillis": 1000,
        "recipients": [to],
        "smtpResponse": "250 2.0.0 OK (local mode)",
        "reportingMTA": "local.righttime",
    }


def _bounce(kind: str, sub_type: str, status: str, to: str, at: datetime) -> dict[str, Any]:
    return {
        "bounceType": kind,
        "bounceSubType": sub_type,
        "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": status}],
        "timestamp": isoformat(at),
        "feedbackId": _feedback_id(),
        "reportingMTA": "dns; local.righttime",
    }


def _engagement(at: datetime) -> dict[str, Any]:
    return {"timestamp": isoformat(at), "ipAddress": "192.0.2.1", "userAgent": "righttime local mode"}


def _feedback_id() -> str:
    return uuid.uuid4().hex


def _envelope(kind: SesEventType, detail: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPES[kind],
        "source": "aws.ses",
        "account": "123456789012",
        "time": isoformat(at),
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether an EventBridge rule's `pattern` matches `event`: every key of the pattern must be in the event,
    and a list of values matches when the event's value (or one of its values) is among them. Only exact
    values are supported, which is all the template's rules use."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        value = event[key]
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
        elif isinstance(wanted, list):
            values = value if isinstance(value, list) else [value]
            if not any(v in wanted for v in values):
                return False
        elif value != wanted:
            return False
    return True
