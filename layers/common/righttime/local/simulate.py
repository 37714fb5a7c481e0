"""`righttime simulate`: replay a journey through the real pipeline on a virtual clock.

Every line is posted to the real ingest handler at its own `timestamp`; between two lines the clock jumps
straight to each due schedule, so the sender fires exactly when EventBridge Scheduler would. Decisions
are read from the messages table's stream, as recorded. Same input, same output.
"""

from __future__ import annotations

import base64
import email
import json
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from righttime.clock import VirtualClock, use_clock
from righttime.decisions import Decision, Outcome
from righttime.errors import InvalidRequestError
from righttime.explain import decision_json
from righttime.ingest import parse
from righttime.journeys import JourneyError, journey_lines

_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # validation only: every timestamp is before it
#: after the last event, schedules are followed this far (a cross-sell three days after an order)
DRAIN_HORIZON = timedelta(days=45)


@dataclass(frozen=True)
class JourneyEvent:
    line: int
    at: datetime
    message: dict[str, Any]


def read_journey(path: Path) -> list[JourneyEvent]:
    """Parse and validate every line (Segment format, one JSON object each, with a `timestamp`)."""
    events: list[JourneyEvent] = []
    for number, message in journey_lines(path):
        if "type" not in message:
            raise JourneyError(
                f"{path}:{number}: type: required (identify, track, page, screen, group or alias)"
            )
        if "timestamp" not in message:
            raise JourneyError(
                f"{path}:{number}: timestamp: required to place the event on the virtual clock"
            )
        try:
            (queued,) = parse("batch", json.dumps({"batch": [message]}).encode(), _FAR_FUTURE)
        except InvalidRequestError as exc:
            problems = "; ".join(f"{e.field.removeprefix('batch.0.')}: {e.message}" for e in exc.errors)
            raise JourneyError(f"{path}:{number}: {problems or exc.message}") from exc
        except (ValidationError, TypeError) as exc:
            raise JourneyError(f"{path}:{number}: {exc}") from exc
        at = queued.message.timestamp
        assert at is not None
        if events and at < events[-1].at:
            raise JourneyError(
                f"{path}:{number}: timestamp: {at.isoformat()} is before the previous line's "
                f"{events[-1].at.isoformat()}; journeys are in time order"
            )
        events.append(JourneyEvent(number, at, message))
    if not events:
        raise JourneyError(f"{path}: no events")
    return events


@dataclass
class Simulation:
    decisions: list[Decision] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0


def simulate(
    journey: Path,
    *,
    template: Path,
    campaigns: Path,
    templates: Path,
    emit: Callable[[dict[str, Any]], None] = lambda line: None,
) -> Simulation:
    """Run `journey` through ingest -> evaluate -> schedule -> send; call `emit` with each output line."""
    events = read_journey(journey)
    result = Simulation()
    clock = VirtualClock(start=events[0].at)
    with _pipeline(template, campaigns, templates, clock) as (pipeline, write_key):
        sent_by_ses: dict[str, bytes] = {}

        def record(decision: Decision) -> None:
            result.decisions.append(decision)
            output = {"type": "decision", **_public(decision)}
            result.lines.append(output)
            emit(output)
            if decision.outcome is Outcome.SENT:
                for email_sent in pipeline.collect_sent():
                    sent_by_ses[email_sent.ses_message_id] = email_sent.raw
                ses_id = next(
                    (
                        r.detail.get("ses_message_id")
                        for r in decision.reasons
                        if r.code.value == "delivered_to_ses"
                    ),
                    None,
                )
                raw = sent_by_ses.get(str(ses_id))
                mail = email.message_from_bytes(raw, policy=default_policy) if raw else None
                line = {
                    "type": "sent",
                    "at": decision.decided_at.isoformat(),
                    "user_id": decision.customer_id,
                    "campaign": decision.campaign_id,
                    "to": str(mail["To"]) if mail else None,
                    "subject": str(mail["Subject"]) if mail else None,
                }
                result.lines.append(line)
                emit(line)

        pipeline.on_decision.append(record)
        auth = {
            "content-type": "application/json",
            "authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
        }
        for event in events:
            _fire_until(pipeline, clock, event.at)
            clock.set(event.at)
            status, _, body = pipeline.http(
                "POST", "/v1/batch", auth, json.dumps({"batch": [event.message]}).encode()
            )
            if status != 200:
                raise JourneyError(
                    f"{journey}:{event.line}: refused by ingest: HTTP {status} {body.decode()}"
                )
            pipeline.run_until_idle()
            result.events += 1
        _fire_until(pipeline, clock, events[-1].at + DRAIN_HORIZON)
    summary = {
        "type": "summary",
        "events": result.events,
        "decisions": len(result.decisions),
        "sent": sum(1 for d in result.decisions if d.outcome is Outcome.SENT),
        "outcomes": dict(sorted(Counter(d.outcome.value for d in result.decisions).items())),
    }
    result.lines.append(summary)
    emit(summary)
    return result


def _public(decision: Decision) -> dict[str, Any]:
    document = decision_json(decision)
    public = {key: document[key] for key in ("at", "user_id", "campaign", "outcome", "send_at", "timezone")}
    # SES message ids differ from run to run; a simulation's output must not.
    public["reasons"] = [{k: v for k, v in r.items() if k != "ses_message_id"} for r in document["reasons"]]
    return public


def _fire_until(pipeline: Any, clock: VirtualClock, until: datetime) -> None:
    """Jump the clock to each schedule due before `until`, in order, and let the pipeline act on it."""
    while (due := pipeline.next_fire_at()) is not None and due <= until:
        clock.set(max(due, clock.now()))
        pipeline.run_until_idle()


@contextmanager
def _pipeline(
    template: Path, campaigns: Path, templates: Path, clock: VirtualClock
) -> Iterator[tuple[Any, str]]:
    import logging
    import os

    from moto import mock_aws

    from righttime import runtime
    from righttime.local.pipeline import Pipeline
    from righttime.observability import logger

    write_key = secrets.token_urlsafe(12)
    saved = dict(os.environ)
    previous_clock = use_clock(clock)
    previous_level = logger.log_level
    try:
        # moto in-process: a simulation needs no server, and skipping HTTP makes it several times faster.
        os.environ.pop("AWS_ENDPOINT_URL", None)
        with mock_aws():
            os.environ.update(
                {
                    "AWS_ACCESS_KEY_ID": "simulate",
                    "AWS_SECRET_ACCESS_KEY": "simulate",
                    "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_REGION": "us-east-1",
                    "POWERTOOLS_METRICS_DISABLED": "true",
                }
            )
            logger.setLevel(logging.ERROR)
            pipeline = Pipeline.start(
                template,
                {"SenderAddress": "shop@example.com"},
                clock,
                extra_env={
                    "CAMPAIGNS_DIR": str(campaigns),
                    "TEMPLATES_DIR": str(templates),
                    "RIGHTTIME_WRITE_KEYS": write_key,
                    "WRITE_KEYS_PARAMETER": "",
                },
            )
            yield pipeline, write_key
    finally:
        os.environ.clear()
        os.environ.update(saved)
        runtime.reset()
        use_clock(previous_clock)
        logger.setLevel(previous_level)
