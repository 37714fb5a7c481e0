"""`righttime`: run the local stack, replay journeys, validate campaigns and templates."""

from __future__ import annotations

import argparse
import base64
import email
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

WRITE_KEY_ENV = "RIGHTTIME_WRITE_KEY"
ADMIN_KEY_ENV = "RIGHTTIME_ADMIN_KEY"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="righttime", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the whole pipeline on this machine (embedded AWS)")
    _local_options(local)

    demo = commands.add_parser("demo", help="start local mode, replay a journey over HTTP, show the email")
    _local_options(demo, speed=3600.0, port=0)
    demo.add_argument("--journey", type=Path, default=Path("events/journey-cart-abandonment.jsonl"))
    demo.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the email")

    replay = commands.add_parser(
        "replay", help="POST a journey (JSON lines, Segment format) to a righttime API"
    )
    replay.add_argument("journey", type=Path)
    replay.add_argument("--url", default="http://127.0.0.1:3000")
    replay.add_argument("--write-key", default=os.environ.get(WRITE_KEY_ENV))

    simulate = commands.add_parser(
        "simulate", help="replay a journey through the real pipeline on a virtual clock; print every decision"
    )
    simulate.add_argument("journey", type=Path, help="JSON lines, Segment format, each with a timestamp")
    simulate.add_argument("--campaigns", type=Path, default=Path("campaigns"))
    simulate.add_argument("--templates", type=Path, default=Path("templates"))
    simulate.add_argument(
        "--template", type=Path, default=None, help="SAM template (default: ./template.yaml)"
    )
    simulate.add_argument(
        "--engine",
        choices=("memory", "moto"),
        default="memory",
        help="where AWS is played: in memory (fast, the default) or on in-process moto (fidelity)",
    )
    simulate.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes to shard customers across (default 1; the output is the same for any number)",
    )
    simulate.add_argument(
        "--emails",
        type=Path,
        default=None,
        metavar="DIR",
        help="write every sent e-mail to DIR as an .eml file (otherwise no e-mail bytes are built)",
    )
    simulate.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )
    simulate.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="OTHER_CAMPAIGNS_DIR",
        help="run the journey with --campaigns and with these, and print what changes per campaign",
    )
    simulate.add_argument(
        "--until",
        default=None,
        metavar="DATE|DURATION",
        help="how long time goes on after the last event, for schedules, program waits and recurring dates: "
        "an ISO date or instant (UTC unless it says otherwise), or a duration after the last event such as "
        "400d or 26w (default 400d)",
    )

    simulate.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the campaign report of the run, as `righttime report` would show it: FILE.html (one "
        "self-contained page) or FILE.json",
    )

    report = commands.add_parser(
        "report", help="the campaign report: funnel, revenue and lift against the holdout, per campaign"
    )
    report.add_argument("--url", default="http://127.0.0.1:3000", help="the API (default %(default)s)")
    report.add_argument("--admin-key", default=os.environ.get(ADMIN_KEY_ENV))
    report.add_argument("--from", dest="first", default=None, metavar="YYYY-MM-DD", help="first UTC day")
    report.add_argument(
        "--to", dest="last", default=None, metavar="YYYY-MM-DD", help="last UTC day (default: today)"
    )
    report.add_argument(
        "--html", type=Path, default=None, metavar="FILE", help="write the report as one page"
    )
    report.add_argument("--json", action="store_true", help="print the API's JSON instead of lines")

    explain = commands.add_parser("explain", help="why did (or didn't) a customer get a message?")
    explain.add_argument("user_id")
    explain.add_argument("--campaign", default=None)
    explain.add_argument(
        "--url", default="http://127.0.0.1:3000", help="righttime API (local or the ApiUrl output)"
    )
    explain.add_argument("--admin-key", default=os.environ.get(ADMIN_KEY_ENV))
    explain.add_argument("--json", action="store_true", help="print the API's JSON instead of lines")

    validate = commands.add_parser("validate", help="check campaigns and render every template")
    validate.add_argument("campaigns", type=Path, nargs="?", default=Path("campaigns"))
    validate.add_argument("--templates", type=Path, default=Path("templates"))

    args = parser.parse_args(argv)
    handlers = {
        "local": _run_local,
        "demo": _run_demo,
        "replay": _run_replay,
        "simulate": _run_simulate,
        "explain": _run_explain,
        "report": _run_report,
        "validate": _run_validate,
    }
    return handlers[args.command](args)


def _local_options(parser: argparse.ArgumentParser, speed: float = 1.0, port: int = 3000) -> None:
    parser.add_argument("--port", type=int, default=port, help="HTTP port on 127.0.0.1 (default %(default)s)")
    parser.add_argument(
        "--speed",
        type=float,
        default=speed,
        help="clock speed: 3600 makes an hour pass in a second (default %(default)s)",
    )
    parser.add_argument("--outbox", type=Path, default=Path("outbox"), help="folder for sent .eml files")
    parser.add_argument(
        "--write-key",
        default=os.environ.get(WRITE_KEY_ENV),
        help=f"write key clients must use (default: ${WRITE_KEY_ENV}, else a random one)",
    )
    parser.add_argument(
        "--admin-key",
        default=os.environ.get(ADMIN_KEY_ENV),
        help=f"admin key for the read API (default: ${ADMIN_KEY_ENV}, else a random one)",
    )
    parser.add_argument("--template", type=Path, default=None, help="SAM template (default: ./template.yaml)")
    parser.add_argument("--campaigns", type=Path, default=None)
    parser.add_argument("--templates", type=Path, default=None)
    parser.add_argument("--sender", default="shop@example.com", help="From address (default %(default)s)")
    parser.add_argument("--log-level", default="WARNING")


def _start_local(args: argparse.Namespace) -> Any:
    from righttime_dev.local.server import LocalOptions, LocalRighttime

    template = args.template or _find_template()
    options = LocalOptions(
        template=template,
        write_key=args.write_key or secrets.token_urlsafe(18),
        admin_key=args.admin_key or secrets.token_urlsafe(18),
        port=args.port,
        speed=args.speed,
        outbox=args.outbox,
        campaigns=args.campaigns,
        templates=args.templates,
        sender_address=args.sender,
        log_level=args.log_level,
    )
    stack = LocalRighttime(options).start()
    stack.pipeline.on_sent.append(_print_sent)
    print(f"righttime local on {stack.url}  (clock x{args.speed:g}, outbox {args.outbox})")
    print(f"  write key: {options.write_key}")
    print(f"  admin key: {options.admin_key}   (righttime explain USER_ID, righttime report: --admin-key)")
    print(
        f"  try: curl -u {options.write_key}: {stack.url}/v1/track -H 'Content-Type: application/json' "
        '-d \'{"userId": "u1", "event": "Product Added", "properties": {"product_id": "p1"}}\''
    )
    return stack


def _run_local(args: argparse.Namespace) -> int:
    stack = _start_local(args)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping")
    finally:
        stack.stop()
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    stack = _start_local(args)
    try:
        print(f"replaying {args.journey} over HTTP ...")
        posted = replay_journey(args.journey, stack.url, stack.options.write_key)
        print(f"  {posted} messages accepted; waiting for the clock to reach the reminder ...")
        deadline = time.monotonic() + args.timeout
        while not stack.pipeline.sent and time.monotonic() < deadline:
            time.sleep(0.1)
        if not stack.pipeline.sent:
            print("no email was sent before the timeout", file=sys.stderr)
            return 1
        sent = stack.pipeline.sent[0]
        print_email(sent.raw)
        return 0
    finally:
        stack.stop()


def _run_replay(args: argparse.Namespace) -> int:
    if not args.write_key:
        print(f"a write key is needed: --write-key or ${WRITE_KEY_ENV}", file=sys.stderr)
        return 2
    print(f"{replay_journey(args.journey, args.url, args.write_key)} messages accepted")
    return 0


def replay_journey(journey: Path, url: str, write_key: str) -> int:
    """POST every line of `journey` to /v1/batch (one message per line); stop at the first refusal."""
    from righttime_dev.journeys import JourneyError, journey_lines

    count = 0
    try:
        lines = list(journey_lines(journey))
    except JourneyError as exc:
        raise SystemExit(str(exc)) from exc
    for number, message in lines:
        status, body = post_json(f"{url}/v1/batch", {"batch": [message]}, write_key)
        if status != 200:
            raise SystemExit(f"{journey}:{number}: HTTP {status}: {body}")
        count += 1
    return count


def post_json(url: str, document: Any, write_key: str) -> tuple[int, str]:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"{url}: only http:// and https:// URLs are supported")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(document).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Basic {token}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a URL the user gave
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _print_sent(sent: Any) -> None:
    message = email.message_from_bytes(sent.raw, policy=default_policy)
    print(f'  sent: {mask_address(str(message["To"]))}  "{message["Subject"]}"  -> {sent.path}')


def print_email(raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    print("-" * 72)
    for header in ("From", "To", "Subject", "Date"):
        print(f"{header}: {message[header]}")
    print()
    body = message.get_body(preferencelist=("plain",))
    print(body.get_content() if body is not None else "(no text part)")
    print("-" * 72)


def mask_address(address: str) -> str:
    """`jane@example.com` -> `j***@example.com`: enough to recognise, not enough to leak."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _run_simulate(args: argparse.Namespace) -> int:
    from righttime_dev.journeys import JourneyError
    from righttime_dev.simulate import ProgressBar, compare, simulate

    if args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    if args.report is not None and args.report.suffix not in (".html", ".json"):
        print(f"error: --report {args.report}: name a .html or a .json file", file=sys.stderr)
        return 2
    if args.report is not None and args.compare is not None:
        print("error: --report writes one run's report: leave out --compare", file=sys.stderr)
        return 2
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    bar = ProgressBar(sys.stderr) if show_progress else None
    template = args.template or _find_template()
    try:
        if args.compare is not None:
            for line in compare(
                args.journey,
                template=template,
                campaigns=args.campaigns,
                other_campaigns=args.compare,
                templates=args.templates,
                jobs=args.jobs,
                engine_name=args.engine,
                progress=bar,
                until=args.until,
            ):
                print(json.dumps(line), flush=True)
        else:
            out = sys.stdout

            def emit(text: str) -> None:
                out.write(text + "\n")

            result = simulate(
                args.journey,
                template=template,
                campaigns=args.campaigns,
                templates=args.templates,
                emit=emit,
                engine_name=args.engine,
                jobs=args.jobs,
                emails=args.emails,
                progress=bar,
                keep_lines=False,
                until=args.until,
            )
            out.flush()
            if args.report is not None:
                _write_report(
                    args.report, result.tally.report(datetime.now(UTC), _program_ids(args.campaigns))
                )
    except JourneyError as exc:
        if bar is not None:
            bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if bar is not None:
        bar.close()
    return 0


def _write_report(path: Path, report: Any) -> None:
    from righttime_dev.report_html import render_html

    document = report.document()
    if path.suffix == ".html":
        path.write_text(render_html(document), encoding="utf-8")
    else:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote the campaign report to {path}", file=sys.stderr)


def _program_ids(campaigns: Path) -> set[str]:
    from righttime.core.programs import load_programs

    return {program.id for program in load_programs(campaigns)}


def _run_explain(args: argparse.Namespace) -> int:
    from righttime.stages.explain import describe

    if not args.admin_key:
        print(f"an admin key is needed: --admin-key or ${ADMIN_KEY_ENV}", file=sys.stderr)
        return 2
    query = f"?campaign={urllib.parse.quote(args.campaign)}" if args.campaign else ""
    url = f"{args.url}/v1/profiles/{urllib.parse.quote(args.user_id, safe='')}/decisions{query}"
    status, body = get_json(url, args.admin_key)
    if status != 200:
        print(f"HTTP {status}: {body}", file=sys.stderr)
        return 1
    document = json.loads(body)
    if args.json:
        print(json.dumps(document, indent=2))
    elif not document["decisions"]:
        print(
            f"no decisions recorded for {args.user_id}" + (f" and {args.campaign}" if args.campaign else "")
        )
    else:
        print("\n".join(describe(document["decisions"])))
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from righttime_dev.report_html import render_html

    if not args.admin_key:
        print(f"an admin key is needed: --admin-key or ${ADMIN_KEY_ENV}", file=sys.stderr)
        return 2
    query = urllib.parse.urlencode({k: v for k, v in (("from", args.first), ("to", args.last)) if v})
    status, body = get_json(
        f"{args.url}/v1/reports/campaigns" + (f"?{query}" if query else ""), args.admin_key
    )
    if status != 200:
        print(f"HTTP {status}: {body}", file=sys.stderr)
        return 1
    document = json.loads(body)
    if args.html is not None:
        args.html.write_text(render_html(document), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        print(json.dumps(document, indent=2))
    elif args.html is None:
        print("\n".join(report_lines(document)))
    return 0


def report_lines(document: dict[str, Any]) -> list[str]:
    """The report as lines a terminal shows: one per campaign (steps indented under their program)."""
    lines = [f"campaign report {document['from']} to {document['to']} (UTC days)"]
    columns = ("triggered", "held_out", "sent", "delivered", "opened", "clicked", "unsubscribed", "converted")
    lines.append(f"{'':<44}" + "".join(f"{name:>13}" for name in columns) + "  revenue")

    def line(campaign: dict[str, Any], indent: str) -> None:
        counts = campaign["counts"]
        revenue = ", ".join(f"{amount} {currency}" for currency, amount in campaign["revenue"].items()) or "-"
        lines.append(
            f"{indent + campaign['id']:<44}"
            + "".join(f"{counts[name]:>13}" for name in columns)
            + f"  {revenue}"
        )
        if campaign["kind"] != "step":
            lines.append(f"{indent}  lift: {campaign['lift']['summary']}")
        for step in campaign["steps"]:
            line(step, indent + "  ")

    for campaign in document["campaigns"]:
        line(campaign, "")
    if not document["campaigns"]:
        lines.append("nothing counted in this period")
    return lines


def get_json(url: str, admin_key: str) -> tuple[int, str]:
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"{url}: only http:// and https:// URLs are supported")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {admin_key}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - scheme checked above
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _run_validate(args: argparse.Namespace) -> int:
    from righttime_dev.validation import validate_content

    problems, summary = validate_content(args.campaigns, args.templates)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(summary)
    return 0


def _find_template() -> Path:
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "template.yaml").is_file():
            return folder / "template.yaml"
    raise SystemExit("template.yaml not found here or above; pass --template")


if __name__ == "__main__":
    raise SystemExit(main())
