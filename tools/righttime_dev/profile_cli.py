"""`righttime profile show|export|delete USER_ID`: privacy requests through the API, with the admin key
(docs/privacy.md). `show` summarises what righttime holds, `export` writes all of it as JSON, `delete` erases
the customer after asking."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, TextIO

from righttime_dev.cli import ADMIN_KEY_ENV, UserError, _refused, _send, mask_address

DEFAULT_URL = "http://127.0.0.1:3000"


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `righttime profile` and its three actions."""
    profile = commands.add_parser(
        "profile",
        help="privacy requests: show, export or erase everything righttime holds about a customer",
        description="Privacy requests (GDPR, CCPA) through the API, with the admin key (docs/privacy.md).",
    )
    actions = profile.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="a readable summary of what righttime holds (addresses masked)")
    export = actions.add_parser("export", help="everything righttime holds, as one JSON document")
    export.add_argument(
        "--output", "-o", type=Path, default=None, metavar="FILE", help="write it to FILE (default: stdout)"
    )
    delete = actions.add_parser(
        "delete",
        help="erase the customer: cancel its messages, delete its data, keep hashed suppression entries",
    )
    delete.add_argument("--yes", action="store_true", help="erase without asking for confirmation")
    for action in (show, export, delete):
        action.add_argument("user_id", help="the customer's userId (or anonymousId), as the SDK sent it")
        action.add_argument(
            "--url",
            default=DEFAULT_URL,
            help="righttime API (local, or the stack's ApiUrl; default %(default)s)",
        )
        action.add_argument(
            "--admin-key",
            default=os.environ.get(ADMIN_KEY_ENV),
            help=f"the API's admin key (default: ${ADMIN_KEY_ENV})",
        )
    profile.set_defaults(handler=run)


def run(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    """Carry out `righttime profile ACTION`; a user error is one line on stderr and exit status 2."""
    try:
        if not args.admin_key:
            raise UserError(f"an admin key is needed: --admin-key or ${ADMIN_KEY_ENV}")
        if args.action == "delete":
            return _delete(args, stdin or sys.stdin)
        document = _export(args)
        if args.action == "export":
            _write_export(document, args.output)
        else:
            print("\n".join(summary(document)))
        return 0
    except UserError as exc:
        print(f"righttime profile {args.action}: error: {exc}", file=sys.stderr)
        return 2


def _export(args: argparse.Namespace) -> dict[str, Any]:
    status, body = _call("GET", args.url, args.user_id, args.admin_key)
    if status == 404:
        raise UserError(f"righttime holds nothing about {args.user_id!r}")
    if status != 200:
        raise _refused(status, body)
    document: dict[str, Any] = json.loads(body)
    return document


def _write_export(document: dict[str, Any], output: Path | None) -> None:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{output}: cannot write the export: {exc.strerror or exc}") from exc
    print(f"exported {document['user_id']} to {output}", file=sys.stderr)


def _delete(args: argparse.Namespace, stdin: TextIO) -> int:
    if not args.yes:
        print(f"erase {args.user_id!r} for good? type the id again to confirm: ", end="", file=sys.stderr)
        if stdin.readline().strip() != args.user_id:
            raise UserError("not confirmed: nothing was erased (--yes skips the question)")
    status, body = _call("DELETE", args.url, args.user_id, args.admin_key)
    if status != 200:
        raise _refused(status, body)
    result = json.loads(body)
    while not result["complete"]:  # a customer with more records than one call erases: repeat
        status, body = _call("DELETE", args.url, args.user_id, args.admin_key)
        if status != 200:
            raise _refused(status, body)
        more = json.loads(body)
        result["erased"] = {k: v + more["erased"][k] for k, v in result["erased"].items()}
        result["complete"] = more["complete"]
    print("\n".join(erasure_lines(result)))
    return 0


def _call(method: str, url: str, user_id: str, admin_key: str) -> tuple[int, str]:
    if not url.startswith(("http://", "https://")):
        raise UserError(f"{url}: only http:// and https:// URLs are supported")
    # One path segment, whatever the id holds (`/`, `#`, `?`, spaces, non-ASCII): the API decodes it once.
    target = f"{url.rstrip('/')}/v1/profiles/{urllib.parse.quote(user_id, safe='')}"
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        target, method=method, headers={"Authorization": f"Bearer {admin_key}"}
    )
    return _send(request)


def summary(document: dict[str, Any]) -> list[str]:
    """What the export holds, for people: counts, the latest of each kind, addresses masked."""
    profile = document.get("profile") or {}
    lines = [f"customer {document['user_id']} (exported {document['exported_at']})"]
    if profile:
        email = profile.get("email")
        lines.append(f"  address: {mask_address(email) if email else '-'}")
        names = " ".join(n for n in (profile.get("first_name"), profile.get("last_name")) if n)
        lines.append(f"  name: {names or '-'}   zone: {profile.get('timezone') or '-'}")
        lines.append(
            f"  seen: {profile.get('first_seen_at') or '-'} .. {profile.get('last_seen_at') or '-'}   "
            f"orders: {profile.get('orders_count', 0)}   cart lines: {len(profile.get('cart', []))}"
        )
        lines.append(f"  unsubscribed from promotions: {'yes' if profile.get('unsubscribed') else 'no'}")
    else:
        lines.append("  no profile")
    consent = document.get("consent_history", [])
    if consent:
        last = consent[-1]
        lines.append(
            f"  consent changes: {len(consent)}, the latest {last['at']}: "
            f"{'subscribed' if last['subscribed'] else 'unsubscribed'} ({last['how']})"
        )
    messages = document.get("messages", [])
    by_status: dict[str, int] = {}
    for message in messages:
        by_status[message["status"]] = by_status.get(message["status"], 0) + 1
    counted = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
    more = " (more than the export holds)" if document.get("messages_truncated") else ""
    lines.append(f"  messages: {len(messages)}{more}" + (f" ({counted})" if counted else ""))
    decisions = document.get("decisions", [])
    more = " (more: righttime explain reads on)" if document.get("decisions_next_cursor") else ""
    lines.append(f"  decisions: {len(decisions)}{more}")
    if decisions:
        latest = decisions[0]
        lines.append(f"    latest: {latest['at']} {latest['campaign']} {latest['outcome']}")
    suppressed = document.get("suppression", [])
    for entry in suppressed:
        lines.append(f"  suppressed: {mask_address(entry['address'])} ({entry['reason']})")
    if document.get("erased_before"):
        lines.append("  erased before: its id is on the suppression list")
    lines.append(f"  interest entries: {len(document.get('interests', []))}")
    return lines


def erasure_lines(result: dict[str, Any]) -> list[str]:
    """What an erasure removed, in one or two lines."""
    if not result["found"]:
        return [f"nothing left to erase for {result['user_id']} (its hashed suppression entries stay)"]
    erased = result["erased"]
    return [
        f"erased {result['user_id']}: profile {'deleted' if erased['profile'] else 'none'}, "
        f"{erased['messages']} messages, {erased['decisions']} decision records, "
        f"{erased['schedules']} pending schedules cancelled, {erased['interests']} interest entries",
        f"  {result['suppression_entries']} hashed suppression entries keep it from being sent to again",
    ]
