"""Explanations: every decision recorded for a customer, readable by people and by machines."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from righttime.core.decisions import Decision
from righttime.core.errors import UnauthorizedError
from righttime.stages.ports import CustomerRecords

#: the decisions one page carries unless `limit` says otherwise, and the most it may ask for
DEFAULT_PAGE = 50
MAX_PAGE = 500


def authorize(authorization: str | None, is_admin_key: Callable[[str], bool]) -> None:
    """`Authorization: Bearer <admin key>`; write keys do not open the read API."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("missing admin key: send Authorization: Bearer <admin key>")
    if not is_admin_key(token.strip()):
        raise UnauthorizedError("invalid admin key")


def page_limit(text: str | None) -> int:
    """The `limit` query parameter: a whole number from 1 to MAX_PAGE (DEFAULT_PAGE when absent)."""
    if text is None:
        return DEFAULT_PAGE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise ValueError(f"'limit' must be a whole number from 1 to {MAX_PAGE}, not {text[:20]!r}")
    return int(text)


def decisions_document(
    records: CustomerRecords, user_id: str, campaign: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """One page of the customer's decisions, the newest first; `next_cursor` reads the next (null: the
    last page). Raises InvalidCursor."""
    page = records.decisions_page(user_id, campaign, limit, cursor)
    return {
        "user_id": user_id,
        "campaign": campaign,
        "limit": limit,
        "count": len(page.decisions),
        "decisions": [decision_json(d) for d in page.decisions],
        "next_cursor": page.next_cursor,
    }


def decision_json(decision: Decision) -> dict[str, Any]:
    """The public shape of a decision (the same in the read API and `righttime simulate`)."""
    return {
        "at": decision.decided_at.isoformat(),
        "user_id": decision.customer_id,
        "campaign": decision.campaign_id,
        "outcome": decision.outcome.value,
        "send_at": decision.send_at.isoformat() if decision.send_at else None,
        "message_id": decision.message_id,
        "trigger": {"event": decision.trigger_event, "message_id": decision.trigger_message_id},
        "timezone": decision.timezone,
        "timezone_source": decision.timezone_source,
        "reasons": [{"code": r.code.value, **r.detail} for r in decision.reasons],
    }


def describe(decisions: Iterable[dict[str, Any]]) -> list[str]:
    """One line per decision, for people: when, what, outcome, and why."""
    lines = []
    for d in decisions:
        when = d["at"].replace("T", " ")[:16]
        send = f" -> {d['send_at'].replace('T', ' ')[:16]} UTC" if d.get("send_at") else ""
        zone = f" [{d['timezone']}]" if d.get("timezone") else ""
        reasons = "; ".join(_reason(r) for r in d["reasons"]) or "-"
        lines.append(f"{when} UTC  {d['campaign']:<26} {d['outcome']:<10}{send}{zone}  {reasons}")
    return lines


def _reason(reason: dict[str, Any]) -> str:
    detail = ", ".join(f"{k}={v}" for k, v in reason.items() if k != "code" and v is not None)
    return f"{reason['code']}({detail})" if detail else str(reason["code"])
