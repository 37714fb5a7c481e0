"""Explanations: every decision recorded for a customer, readable by people and by machines."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from righttime.core.decisions import Decision
from righttime.core.errors import UnauthorizedError
from righttime.stages.ports import Store

#: the most decisions one answer carries (the newest are kept)
MAX_DECISIONS = 500


def authorize(authorization: str | None, is_admin_key: Callable[[str], bool]) -> None:
    """`Authorization: Bearer <admin key>`; write keys do not open the read API."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("missing admin key: send Authorization: Bearer <admin key>")
    if not is_admin_key(token.strip()):
        raise UnauthorizedError("invalid admin key")


def decisions_document(store: Store, user_id: str, campaign: str | None) -> dict[str, Any]:
    found = list(store.decisions(user_id, campaign))
    return {
        "user_id": user_id,
        "campaign": campaign,
        "count": len(found),
        "truncated": len(found) > MAX_DECISIONS,
        "decisions": [decision_json(d) for d in found[-MAX_DECISIONS:]],
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
