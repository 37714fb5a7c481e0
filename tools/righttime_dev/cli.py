"""`righttime`: run the local stack, replay journeys, validate campaigns and templates."""

from __future__ import annotations

import argparse
import base64
import email
import errno
import http.client
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

WRITE_KEY_ENV = "RIGHTTIME_WRITE_KEY"
ADMIN_KEY_ENV = "RIGHTTIME_ADMIN_KEY"
#: The demo's virtual start: a Thursday evening in Paris (20:20, 19:20 UTC), late enough that the cart
#: reminder, due an hour after the last cart activity, falls after 21:00 and waits for the next morning.
DEMO_START = datetime(2026, 3, 12, 19, 20, tzinfo=UTC)
#: virtual time between two lines of the demo's journey, as a shopper browses
DEMO_STEP = timedelta(minutes=2)
#: how far the demo's clock goes on after the journey, at most
DEMO_HORIZON = timedelta(days=2)


class UserError(Exception):
    """Something the user can fix (a file, a folder, a URL, a key): main() prints it as one line on stderr
    and exits with status 2. Anything else is a bug and keeps its traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    # profile_cli imports this module's helpers, so it is imported once this module is loaded
    from righttime_dev import profile_cli

    args = build_parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "local": _run_local,
        "demo": _run_demo,
        "replay": _run_replay,
        "simulate": _run_simulate,
        "explain": _run_explain,
        "report": _run_report,
        "validate": _run_validate,
        "init": _run_init,
        "profile": profile_cli.run,
    }
    try:
        return handlers[args.command](args)
    except UserError as exc:
        print(f"righttime {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C is the user's choice, not a failure to explain: one line and the shell's status for SIGINT
        print(f"righttime {args.command}: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """Every command, option and argument, each with its help."""
    parser = argparse.ArgumentParser(prog="righttime", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = commands.add_parser("local", help="run the whole pipeline on this machine (embedded AWS)")
    _local_options(local)

    demo = commands.add_parser(
        "demo",
        help="local mode on a fixed virtual clock: replay a journey over HTTP, print what was decided, "
        "when and why, and the email",
    )
    _local_options(demo, speed=3600.0, port=0, start=DEMO_START)
    demo.add_argument(
        "--journey",
        type=Path,
        default=Path("events/journey-cart-abandonment.jsonl"),
        help="the journey to replay, JSON lines in Segment's format (default %(default)s)",
    )
    demo.add_argument(
        "--timeout", type=float, default=60.0, help="real seconds to wait for the email (default %(default)s)"
    )

    replay = commands.add_parser(
        "replay", help="POST a journey (JSON lines, Segment format) to a righttime API"
    )
    replay.add_argument("journey", type=Path, help="JSON lines, one Segment message per line")
    replay.add_argument("--url", default="http://127.0.0.1:3000", help="the API (default %(default)s)")
    replay.add_argument(
        "--write-key",
        default=os.environ.get(WRITE_KEY_ENV),
        help=f"the API's write key (default: ${WRITE_KEY_ENV})",
    )
    _progress_option(replay)

    _add_simulate(commands)
    _add_api_and_content(commands)
    from righttime_dev import profile_cli

    profile_cli.add_parser(commands)
    return parser


def _add_simulate(commands: Any) -> None:
    simulate = commands.add_parser(
        "simulate", help="replay a journey through the real pipeline on a virtual clock; print every decision"
    )
    simulate.add_argument("journey", type=Path, help="JSON lines, Segment format, each with a timestamp")
    simulate.add_argument(
        "--campaigns", type=Path, default=Path("campaigns"), help="campaigns folder (default %(default)s)"
    )
    simulate.add_argument(
        "--templates", type=Path, default=Path("templates"), help="templates folder (default %(default)s)"
    )
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
    _progress_option(simulate)
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


def _add_api_and_content(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="the campaign report: funnel, revenue and lift against the holdout, per campaign"
    )
    report.add_argument("--url", default="http://127.0.0.1:3000", help="the API (default %(default)s)")
    report.add_argument(
        "--admin-key",
        default=os.environ.get(ADMIN_KEY_ENV),
        help=f"the API's admin key (default: ${ADMIN_KEY_ENV})",
    )
    report.add_argument("--from", dest="first", default=None, metavar="YYYY-MM-DD", help="first UTC day")
    report.add_argument(
        "--to", dest="last", default=None, metavar="YYYY-MM-DD", help="last UTC day (default: today)"
    )
    report.add_argument(
        "--html", type=Path, default=None, metavar="FILE", help="write the report as one page"
    )
    report.add_argument("--json", action="store_true", help="print the API's JSON instead of lines")
    _progress_option(report)

    explain = commands.add_parser("explain", help="why did (or didn't) a customer get a message?")
    explain.add_argument("user_id", help="the customer's userId, as the SDK sent it")
    explain.add_argument("--campaign", default=None, help="only this campaign's decisions")
    explain.add_argument(
        "--url", default="http://127.0.0.1:3000", help="righttime API (local or the ApiUrl output)"
    )
    explain.add_argument(
        "--admin-key",
        default=os.environ.get(ADMIN_KEY_ENV),
        help=f"the API's admin key (default: ${ADMIN_KEY_ENV})",
    )
    explain.add_argument("--json", action="store_true", help="print the API's JSON instead of lines")
    explain.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help="the newest N decisions, 1 to 500 (default %(default)s)",
    )
    explain.add_argument(
        "--cursor", default=None, help="read on from where a previous answer said `more:` (older decisions)"
    )

    validate = commands.add_parser("validate", help="check campaigns and render every template")
    validate.add_argument(
        "campaigns",
        type=Path,
        nargs="?",
        default=Path("campaigns"),
        help="campaigns folder (default %(default)s)",
    )
    validate.add_argument(
        "--templates", type=Path, default=Path("templates"), help="templates folder (default %(default)s)"
    )

    init = commands.add_parser(
        "init", help="start a project: copy the shipped campaigns/ (with policy.yaml) and templates/ into DIR"
    )
    init.add_argument(
        "dir",
        type=Path,
        nargs="?",
        default=Path("."),
        metavar="DIR",
        help="the new project's folder (default: here)",
    )
    init.add_argument("--force", action="store_true", help="overwrite files that are already there")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("righttime")
    except PackageNotFoundError:  # run from a checkout that was never installed
        import righttime

        return str(getattr(righttime, "__version__", "unknown"))


def _progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress on stderr (default: when stderr is a terminal)",
    )


def _show_progress(args: argparse.Namespace) -> bool:
    return bool(sys.stderr.isatty() if args.progress is None else args.progress)


def _parse_instant(text: str) -> datetime:
    """An ISO instant for --start; UTC when it names no offset."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or instant: {text!r}") from exc
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _allowed_origins(text: str) -> str:
    """--allowed-origins, checked as ingest will read it (RIGHTTIME_ALLOWED_ORIGINS)."""
    from righttime.core.cors import parse_origins

    try:
        parse_origins(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def _local_options(
    parser: argparse.ArgumentParser, speed: float = 1.0, port: int = 3000, start: datetime | None = None
) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=port,
        help="HTTP port on 127.0.0.1, 0 for a free one (default %(default)s)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=speed,
        help="clock speed: 3600 makes an hour pass in a second (default %(default)s)",
    )
    parser.add_argument(
        "--outbox", type=Path, default=Path("outbox"), help="folder for sent .eml files (default %(default)s)"
    )
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
    parser.add_argument(
        "--start",
        type=_parse_instant,
        default=start,
        metavar="INSTANT",
        help="the virtual clock's first instant, ISO 8601, UTC unless it names an offset (default: "
        + (f"{start.isoformat()})" if start else "now)"),
    )
    parser.add_argument("--template", type=Path, default=None, help="SAM template (default: ./template.yaml)")
    parser.add_argument(
        "--campaigns", type=Path, default=None, help="campaigns folder (default: beside the template)"
    )
    parser.add_argument(
        "--templates", type=Path, default=None, help="templates folder (default: beside the template)"
    )
    parser.add_argument("--sender", default="shop@example.com", help="From address (default %(default)s)")
    parser.add_argument(
        "--allowed-origins",
        type=_allowed_origins,
        default="*",
        metavar="ORIGINS",
        help="the pages whose browsers may send events, comma-separated origins such as "
        "http://127.0.0.1:8000, or * for any (default %(default)s; docs/sdks.md)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="the functions' log level (default %(default)s)",
    )


def _start_local(args: argparse.Namespace, speed: float | None = None, demo: bool = False) -> Any:
    """Local mode as the options say; `demo`: a paused clock only the demo moves, and nothing printed (the
    demo's server is gone when it ends, so neither its keys nor a curl hint would be of use)."""
    from righttime_dev.local.server import LocalOptions, LocalRighttime

    template = args.template or _find_template()
    _check_content(
        args.campaigns or template.parent / "campaigns", args.templates or template.parent / "templates"
    )
    options = LocalOptions(
        template=template,
        write_key=args.write_key or secrets.token_urlsafe(18),
        admin_key=args.admin_key or secrets.token_urlsafe(18),
        port=args.port,
        speed=args.speed if speed is None else speed,
        outbox=args.outbox,
        campaigns=args.campaigns,
        templates=args.templates,
        sender_address=args.sender,
        log_level=args.log_level,
        allowed_origins=args.allowed_origins,
    )
    try:
        stack = LocalRighttime(options, start=args.start).start(tick=not demo)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        raise UserError(
            f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror} (choose another --port)"
        ) from exc
    if demo:
        return stack
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
    """The journey on a virtual clock that starts at `--start` and moves only from one thing to do to the
    next (a journey line, a schedule, a due sweep), so every run prints the same story."""
    journey = _journey_users(args.journey)
    args.start = args.start or DEMO_START
    stack = _start_local(args, speed=0.0, demo=True)
    try:
        print(f"righttime demo: local mode on a virtual clock from {args.start:%a %d %b %Y %H:%M} UTC")
        print(
            f"replaying {args.journey} over HTTP, a line every {DEMO_STEP.seconds // 60} virtual minutes ..."
        )

        def before(number: int) -> None:
            stack.pipeline.run_until_idle()  # the line before is decided at its own instant
            if number > 1:
                stack.clock.advance(DEMO_STEP)

        posted = replay_journey(args.journey, stack.url, stack.options.write_key, before=before)
        stack.pipeline.run_until_idle()
        print(f"  {posted} messages accepted; the clock moves on to each schedule ...")
        _play(stack, args.speed, args.timeout)
        if not stack.pipeline.sent:
            raise UserError(f"no email was sent within {DEMO_HORIZON.days} virtual days of the journey")
        for user_id in journey:
            status, body = get_json(
                f"{stack.url}/v1/profiles/{urllib.parse.quote(user_id, safe='')}/decisions",
                stack.options.admin_key,
            )
            if status != 200:
                raise UserError(f"the read API answered HTTP {status}: {body}")
            from righttime_dev.story import trail_lines

            print()
            print(f"what righttime decided for {user_id}, when and why:")
            print("\n".join(trail_lines(json.loads(body)["decisions"])))
        print()
        print_email(stack.pipeline.sent[0].raw)
        if args.outbox is not None:
            print(f"the e-mail is in {args.outbox}/ as an .eml file; local mode has stopped")
        return 0
    finally:
        stack.stop()


def _play(stack: Any, speed: float, timeout: float) -> None:
    """Jump the clock to each schedule and each due sweep that finds someone, in order, up to DEMO_HORIZON
    after the journey, pausing (at most a second and a half) as long as `speed` says the wait would take."""
    horizon = stack.clock.now() + DEMO_HORIZON
    deadline = time.monotonic() + timeout
    pipeline = stack.pipeline
    while time.monotonic() < deadline:
        ahead = [at for at in (pipeline.next_fire_at(), pipeline.next_due_sweep_at()) if at is not None]
        if not ahead or min(ahead) > horizon:
            return
        at = max(min(ahead), stack.clock.now())
        if speed > 0 and not pipeline.sent:
            time.sleep(min((at - stack.clock.now()).total_seconds() / speed, 1.5))
        stack.clock.set(at)
        pipeline.run_until_idle()
    raise UserError(f"the demo did not finish within {timeout:g} seconds (--timeout)")


def _journey_users(journey: Path) -> list[str]:
    """The customers a journey names, in order of appearance; a bad line is a user error."""
    from righttime_dev.journeys import JourneyError, journey_lines

    try:
        lines = list(journey_lines(journey))
    except JourneyError as exc:
        raise UserError(str(exc)) from exc
    users: dict[str, None] = {}
    for _, message in lines:
        if isinstance(message.get("userId"), str):
            users.setdefault(message["userId"], None)
    return list(users)


def _run_replay(args: argparse.Namespace) -> int:
    from righttime_dev.simulate import ProgressBar

    if not args.write_key:
        raise UserError(f"a write key is needed: --write-key or ${WRITE_KEY_ENV}")
    bar = ProgressBar(sys.stderr) if _show_progress(args) else None
    try:
        posted = replay_journey(args.journey, args.url, args.write_key, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    print(f"{posted} messages accepted")
    return 0


def replay_journey(
    journey: Path,
    url: str,
    write_key: str,
    before: Callable[[int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """POST every line of `journey` to /v1/batch (one message per line); stop at the first refusal.
    `before(line number)` runs before each line is sent; `progress(done, total)` after."""
    from righttime_dev.journeys import JourneyError, journey_lines

    count = 0
    try:
        lines = list(journey_lines(journey))
    except JourneyError as exc:
        raise UserError(str(exc)) from exc
    for number, message in lines:
        if before is not None:
            before(number)
        status, body = post_json(f"{url}/v1/batch", {"batch": [message]}, write_key)
        if status != 200:
            raise UserError(f"{journey}:{number}: HTTP {status}: {_one_line(body)}")
        count += 1
        if progress is not None:
            progress(count, len(lines))
    return count


def post_json(url: str, document: Any, write_key: str) -> tuple[int, str]:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    if not url.startswith(("http://", "https://")):
        raise UserError(f"{url}: only http:// and https:// URLs are supported")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(document).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Basic {token}",
        },
    )
    return _send(request)


def _send(request: urllib.request.Request) -> tuple[int, str]:
    """The status and body of the answer; an API that cannot be reached is a user error."""
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a URL the user gave
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError as exc:
        raise UserError(f"cannot reach {_origin(request.full_url)}: {exc.reason} (is --url right?)") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise UserError(f"cannot reach {_origin(request.full_url)}: {exc or type(exc).__name__}") from exc


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _refused(status: int, body: str) -> UserError:
    """An answer other than 200 from the read or report API, told in one line."""
    try:
        message = str(json.loads(body).get("message") or body)
    except (ValueError, AttributeError):
        message = body
    hint = f" (the admin key: --admin-key or ${ADMIN_KEY_ENV})" if status in (401, 403) else ""
    return UserError(f"HTTP {status}: {_one_line(message)}{hint}")


def _check_content(campaigns: Path, templates: Path) -> None:
    """Campaigns and templates that `righttime validate` passes, or a user error naming the first problem."""
    from righttime_dev.validation import validate_content

    if not campaigns.is_dir():
        raise UserError(f"{campaigns}: no such folder (run this in a righttime project, or righttime init)")
    problems, _ = validate_content(campaigns, templates)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"{campaigns}: {_one_line(problems[0])}{more}; righttime validate lists them")


def _print_sent(sent: Any) -> None:
    message = email.message_from_bytes(sent.raw, policy=default_policy)
    print(f'  sent: {mask_address(str(message["To"]))}  "{message["Subject"]}"  -> {sent.path}')


def print_email(raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    print("-" * 72)
    for header in ("From", "To", "Subject", "Date"):
        value = str(message[header])
        print(f"{header}: {mask_address(value) if header == 'To' else value}")
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
        raise UserError("--jobs must be at least 1")
    if args.report is not None and args.report.suffix not in (".html", ".json"):
        raise UserError(f"--report {args.report}: name a .html or a .json file")
    if args.report is not None and args.compare is not None:
        raise UserError("--report writes one run's report: leave out --compare")
    template = args.template or _find_template()
    _check_content(args.campaigns, args.templates)
    if args.emails is not None:
        try:
            args.emails.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--emails {args.emails}: {exc.strerror}") from exc
    if args.compare is not None:
        _check_content(args.compare, args.templates)
    bar = ProgressBar(sys.stderr) if _show_progress(args) else None
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
        raise UserError(str(exc)) from exc
    finally:
        if bar is not None:
            bar.close()
    return 0


def _write_report(path: Path, report: Any) -> None:
    from righttime_dev.report_html import render_html

    document = report.document()
    _write_text(
        path, render_html(document) if path.suffix == ".html" else json.dumps(document, indent=2) + "\n"
    )
    print(f"wrote the campaign report to {path}", file=sys.stderr)


def _write_text(path: Path, text: str) -> None:
    """A file the user named; one they cannot write is their error to fix."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from exc


def _program_ids(campaigns: Path) -> set[str]:
    from righttime.core.programs import load_programs

    return {program.id for program in load_programs(campaigns)}


def _run_explain(args: argparse.Namespace) -> int:
    from righttime.stages.explain import describe

    if not args.admin_key:
        raise UserError(f"an admin key is needed: --admin-key or ${ADMIN_KEY_ENV}")
    wanted = {"campaign": args.campaign, "limit": str(args.limit), "cursor": args.cursor}
    query = urllib.parse.urlencode({k: v for k, v in wanted.items() if v is not None})
    url = f"{args.url}/v1/profiles/{urllib.parse.quote(args.user_id, safe='')}/decisions?{query}"
    status, body = get_json(url, args.admin_key)
    if status != 200:
        raise _refused(status, body)
    document = json.loads(body)
    if args.json:
        print(json.dumps(document, indent=2))
    elif not document["decisions"]:
        print(
            f"no decisions recorded for {args.user_id}" + (f" and {args.campaign}" if args.campaign else "")
        )
    else:
        print("\n".join(describe(reversed(document["decisions"]))))  # the page's newest, oldest first
    if document.get("next_cursor") and not args.json:
        print(f"more: older decisions with --cursor {document['next_cursor']}")
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from righttime_dev.report_html import render_html

    if not args.admin_key:
        raise UserError(f"an admin key is needed: --admin-key or ${ADMIN_KEY_ENV}")
    step = _steps(_show_progress(args))
    step(f"reading the campaign report from {args.url} ...")
    query = urllib.parse.urlencode({k: v for k, v in (("from", args.first), ("to", args.last)) if v})
    status, body = get_json(
        f"{args.url}/v1/reports/campaigns" + (f"?{query}" if query else ""), args.admin_key
    )
    if status != 200:
        raise _refused(status, body)
    document = json.loads(body)
    step(f"  {len(document['campaigns'])} campaigns counted from {document['from']} to {document['to']}")
    if args.html is not None:
        step(f"rendering {args.html} ...")
        _write_text(args.html, render_html(document))
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        print(json.dumps(document, indent=2))
    elif args.html is None:
        print("\n".join(report_lines(document)))
    return 0


def _steps(show: bool) -> Callable[[str], None]:
    """A line on stderr per step of a long command, when progress is shown."""

    def step(text: str) -> None:
        if show:
            print(text, file=sys.stderr, flush=True)

    return step


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
        raise UserError(f"{url}: only http:// and https:// URLs are supported")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {admin_key}"})  # noqa: S310
    return _send(request)


def _run_validate(args: argparse.Namespace) -> int:
    from righttime_dev.validation import validate_content

    if not args.campaigns.is_dir():
        raise UserError(
            f"{args.campaigns}: no such folder (run this in a righttime project, or righttime init)"
        )
    problems, summary = validate_content(args.campaigns, args.templates)
    for problem in problems:
        print(_one_line(problem), file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 2
    print(summary)
    return 0


#: what `righttime init` copies: the shipped campaigns (with the global policy.yaml) and their templates
SCAFFOLD_FOLDERS = ("campaigns", "templates")


def _run_init(args: argparse.Namespace) -> int:
    source = scaffold_root()
    files = sorted(
        path
        for folder in SCAFFOLD_FOLDERS
        for path in (source / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.name != "__init__.py"
    )
    targets = [args.dir / path.relative_to(source) for path in files]
    present = [target for target in targets if target.exists()]
    if present and not args.force:
        more = f" (and {len(present) - 1} more)" if len(present) > 1 else ""
        raise UserError(f"{present[0]} already exists{more}: nothing copied; --force overwrites")
    try:
        for path, target in zip(files, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    except OSError as exc:
        raise UserError(f"cannot write {exc.filename}: {exc.strerror}") from exc
    print(f"wrote {len(targets)} files to {args.dir}: campaigns/ (policy.yaml included) and templates/")
    print(f"next: righttime validate {args.dir / 'campaigns'} --templates {args.dir / 'templates'}")
    return 0


def scaffold_root() -> Path:
    """Where the shipped campaigns/ and templates/ are: inside the installed package (a wheel maps the
    repository's folders to righttime_dev/scaffold), or the checkout itself for an editable install."""
    packaged = Path(__file__).resolve().parent / "scaffold"
    checkout = Path(__file__).resolve().parents[2]
    for root in (packaged, checkout):
        if all((root / folder).is_dir() for folder in SCAFFOLD_FOLDERS):
            return root
    raise UserError(f"the shipped campaigns are missing from {packaged}: reinstall righttime")


def _find_template() -> Path:
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "template.yaml").is_file():
            return folder / "template.yaml"
    raise UserError(
        f"no template.yaml in {Path.cwd()} or above: run this in a righttime project "
        "(righttime init makes one), or pass --template"
    )


if __name__ == "__main__":
    raise SystemExit(main())
