"""`righttime simulate`: replay a journey through the real pipeline on a virtual clock.

Every line is posted to the real ingest handler at its own `timestamp`; between two lines the clock jumps
straight to each due schedule, so the sender fires exactly when EventBridge Scheduler would. Decisions
are read from the messages table's stream, as recorded. Same input, same output.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from righttime.core.clock import VirtualClock
from righttime.core.decisions import Decision, Outcome
from righttime.core.errors import InvalidRequestError
from righttime.stages.explain import decision_json
from righttime.stages.ingest import parse
from righttime.wiring.root import install
from righttime_dev.journeys import JourneyError, journey_lines
from righttime_dev.local.pipeline import Driver

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
    engine_name: str = "memory",
) -> Simulation:
    """Run `journey` through ingest -> evaluate -> schedule -> send; call `emit` with each output line."""
    events = read_journey(journey)
    result = Simulation()
    clock = VirtualClock(start=events[0].at)
    with engine(engine_name, template, campaigns, templates, clock) as (pipeline, write_key):
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
                mail = _headers(raw) if raw else None
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


def _headers(raw: bytes) -> dict[str, str]:
    """To and Subject of a sent email, decoded (RFC 2047): the headers only, which is all a line shows and
    a fraction of the cost of parsing the whole message."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    return {name: str(make_header(decode_header(str(headers[name] or "")))) for name in ("To", "Subject")}


def _public(decision: Decision) -> dict[str, Any]:
    """The read API's shape of a decision without its ids: message and SES ids differ from run to run (and
    from engine to engine); a simulation's output must not."""
    document = decision_json(decision)
    del document["message_id"]
    document["trigger"] = {"event": document["trigger"]["event"]}
    document["reasons"] = [{k: v for k, v in r.items() if k != "ses_message_id"} for r in document["reasons"]]
    return document


def _fire_until(pipeline: Driver, clock: VirtualClock, until: datetime) -> None:
    """Jump the clock to each schedule due before `until`, in order, and let the pipeline act on it."""
    while (due := pipeline.next_fire_at()) is not None and due <= until:
        clock.set(max(due, clock.now()))
        pipeline.run_until_idle()


#: the engines a simulation can run on: in memory (fast, the default) or on in-process moto (fidelity)
ENGINES = ("memory", "moto")
#: AWS as a simulation on moto sees it: no endpoint (moto intercepts in process), dummy credentials
SIMULATED_AWS = {
    "AWS_ACCESS_KEY_ID": "simulate",
    "AWS_SECRET_ACCESS_KEY": "simulate",
    "AWS_REGION": "us-east-1",
}
SENDER = {"SenderAddress": "shop@example.com"}


@contextmanager
def engine(
    name: str, template: Path, campaigns: Path, templates: Path, clock: VirtualClock
) -> Iterator[tuple[Driver, str]]:
    """The real handlers on the named engine, with a composition root installed for the run, and the write
    key that opens its ingest API."""
    import logging

    from righttime.wiring.observability import logger

    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")
    write_key = secrets.token_urlsafe(12)
    app = {
        "CAMPAIGNS_DIR": str(campaigns),
        "TEMPLATES_DIR": str(templates),
        "RIGHTTIME_WRITE_KEYS": write_key,
        "WRITE_KEYS_PARAMETER": "",
    }
    previous, previous_level = install(None), logger.log_level
    logger.setLevel(logging.ERROR)
    try:
        if name == "moto":
            from moto import mock_aws

            from righttime_dev.local.pipeline import Pipeline

            # moto in-process: a simulation needs no server, and skipping HTTP makes it several times faster.
            with mock_aws():
                yield Pipeline.start(template, SENDER, clock, aws=SIMULATED_AWS, app=app), write_key
        else:
            from righttime_dev.memory import MemoryPipeline

            yield MemoryPipeline.start(template, SENDER, clock, app=app), write_key
    finally:
        install(previous)
        logger.setLevel(previous_level)
