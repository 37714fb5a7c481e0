"""A customer's decision trail told for people: what righttime decided, when, and why, in the customer's own
zone and in UTC. `righttime demo` prints it next to the e-mail, so right-time can be seen at work."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from righttime.stages.explain import describe


def trail_lines(decisions: Iterable[dict[str, Any]]) -> list[str]:
    """One line per decision (when, campaign, outcome) and an indented line per reason that moved it.

    `decisions` are the read API's documents (GET /v1/profiles/{id}/decisions), in either order. A decision
    without a zone (SES's events) is told in the zone of the one before it. Reasons the story has no words
    for are told as `righttime explain` tells them."""
    lines: list[str] = []
    zone = "UTC"
    for decision in oldest_first(list(decisions)):
        zone = decision.get("timezone") or zone
        head = f"  {_when(decision['at'], zone)}  {decision['campaign']:<20} {decision['outcome']}"
        if decision.get("send_at") and decision["outcome"] in ("scheduled", "deferred"):
            head += f" for {_when(decision['send_at'], zone)}"
        lines.append(head)
        lines.extend(f"      {text}" for text in _reasons(decision, zone))
    return lines


def oldest_first(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The read API pages newest first; a story is told from the beginning."""
    if len(decisions) > 1 and decisions[0]["at"] > decisions[-1]["at"]:
        return decisions[::-1]
    return decisions


def _reasons(decision: dict[str, Any], zone: str) -> list[str]:
    told = []
    for reason in decision["reasons"]:
        code = reason["code"]
        if code == "triggered":
            told.append(f"{reason['event']}: the reminder is due {reason['delay']} after it")
        elif code == "trigger_repeated":
            told.append(f"{reason['event']} again: the same reminder moves, due after the latest activity")
        elif code in ("outside_window", "quiet_hours"):
            rule = (
                f"outside the campaign's window ({reason['window']})"
                if code == "outside_window"
                else f"in quiet hours ({reason['quiet_hours']})"
            )
            if "until" in reason:
                told.append(
                    f"due {_clock(reason['local_time'], zone)}, {rule}: deferred to "
                    f"{_clock(reason['until'], zone)} {zone}"
                )
            else:
                told.append(f"due {_clock(reason['local_time'], zone)}, {rule}: dropped")
        elif code == "release_spread":
            minutes, seconds = divmod(int(reason["offset_seconds"]), 60)
            told.append(
                f"release spread {reason['spread']}: {minutes} min {seconds:02d} s after the opening, so a "
                "zone's morning reminders don't all reach SES in one minute"
            )
        elif code == "exit_event":
            told.append(f"{reason['event']} ends it")
        elif code in ("delivered_to_ses", "ses_delivered"):
            continue  # the outcome says it; the SES id differs on every run
        else:
            told.append(_explained(decision, reason))
    return told


def _explained(decision: dict[str, Any], reason: dict[str, Any]) -> str:
    """A reason as `righttime explain` tells it (the part of its line after the outcome)."""
    line = describe([{**decision, "send_at": None, "timezone": None, "reasons": [reason]}])[0]
    return line.split(f"{decision['outcome']} ", 1)[-1].strip()


def _when(iso: str, zone: str) -> str:
    """`Thu 20:26 Paris (19:26 UTC)`: the customer's wall clock first."""
    at = datetime.fromisoformat(iso)
    local = at.astimezone(ZoneInfo(zone))
    place = zone.rsplit("/", 1)[-1].replace("_", " ")
    return f"{local:%a %H:%M:%S} {place} ({at.astimezone(ZoneInfo('UTC')):%H:%M:%S} UTC)"


def _clock(iso: str, zone: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)):%a %H:%M:%S}"
