"""`righttime simulate`: replay a journey through the real pipeline on a virtual clock.

Every line reaches the real ingest handler when it arrived (its `receivedAt`, else its `timestamp`), in time
order whatever the file's order; between two lines the clock jumps straight to each due schedule, so the
sender fires exactly when EventBridge Scheduler would, and to each run of the due sweep that finds a customer
due (a program's wait, a birthday), on the sweep's grid, skipping the runs that would find nobody. After the
last line time goes on until `--until` (by default DRAIN_HORIZON later). Decisions are read from the messages
table's stream, as recorded. Same input, same output, on any number of processes: customers are sharded by a
stable hash (customers sharing an address stay together, as the suppression list joins them), each shard runs
its own engine, and the lines are merged in one canonical order (the instant they were produced, the customer,
then the customer's own order).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
import multiprocessing
import queue
import secrets
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from righttime.core.addresses import normalise_address
from righttime.core.clock import VirtualClock
from righttime.core.decisions import Decision, Outcome
from righttime.core.durations import parse_duration
from righttime.core.errors import InvalidRequestError
from righttime.core.events import PRODUCT_UPDATED, QueuedEvent
from righttime.core.report import Amount, Report, build_report, ticks
from righttime.stages.catalog import learn_from_order
from righttime.stages.explain import decision_json
from righttime.stages.ingest import parse
from righttime.wiring.root import install, root
from righttime_dev.journeys import JourneyError, journey_lines
from righttime_dev.local.pipeline import Driver, Envelope
from righttime_dev.local.ses_events import ENGAGEMENT, Fate

_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # validation only: every timestamp is before it
#: after the last event, time goes on this far unless `--until` says otherwise: a year of recurring dates (a
#: birthday), a 180-day win-back, and a month to spare; the clock jumps, so quiet days cost nothing
DRAIN_HORIZON = timedelta(days=400)
#: how many events a shard runs between two reports of its progress
_REPORT_EVERY = 200


@dataclass(frozen=True)
class JourneyEvent:
    line: int
    #: when it happened (`timestamp`)
    at: datetime
    #: when it reaches the pipeline: `receivedAt` when the line has one (a late arrival), else `timestamp`
    arrives: datetime
    #: the request that posts it: `{"batch": [message]}`, as JSON
    body: bytes
    #: a line of type `ses` (an engagement history): what SES reports (`open` or `click`) about the latest
    #: message to `address`, instead of a request
    ses: tuple[Fate, str] | None = None
    #: another shard's order, which this shard's catalog learns from (co-purchases span customers), instead
    #: of a request; counted in its own shard only
    learn_only: QueuedEvent | None = None
    #: counted in the run's events (a catalog update, played in every shard, counts in shard 0 only)
    counted: bool = True


@dataclass(frozen=True)
class Shard:
    """One of `of` slices of a journey's customers."""

    index: int = 0
    of: int = 1


def customer_of(message: dict[str, Any]) -> str:
    """The id the pipeline keys a line's profile by: the userId, else the anonymousId (numbers as text)."""
    for key in ("userId", "anonymousId"):
        value = message.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value:
            return value
    return ""


def shard_of(label: str, of: int) -> int:
    """The shard a customer (or a group of customers) runs in: a stable hash, the same on every run."""
    if of == 1:
        return 0
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "big") % of


def read_journey(path: Path, shard: Shard = Shard()) -> list[JourneyEvent]:
    """Parse and validate every line of `shard` (Segment format, one JSON object each, with a `timestamp`),
    in the order they reach the pipeline: by arrival, then by timestamp, then by line."""
    labels = _groups(path) if shard.of > 1 else {}
    events: list[JourneyEvent] = []
    for number, message in journey_lines(path):
        customer = customer_of(message)
        if shard_of(labels.get(customer, customer), shard.of) == shard.index:
            events.append(_validated(path, number, message))
        elif message.get("event") == PRODUCT_UPDATED:
            # The catalog is every customer's: each shard keeps its own copy, and tells its own customers.
            events.append(replace(_validated(path, number, message), counted=False))
        elif message.get("event") == "Order Completed" and message.get("type") == "track":
            # What customers buy together is learned from everyone's orders, whatever the shard.
            event = _validated(path, number, message)
            (queued,) = parse("batch", event.body, _FAR_FUTURE)
            learned = queued.model_copy(
                update={"received_at": event.arrives, "occurred_at": min(queued.occurred_at, event.arrives)}
            )
            events.append(replace(event, learn_only=learned, counted=False))
    if not events and shard.of == 1:
        raise JourneyError(f"{path}: no events")
    events.sort(key=lambda e: (e.arrives, e.at, e.line))
    return events


def _validated(path: Path, number: int, message: dict[str, Any]) -> JourneyEvent:
    if message.get("type") == SES_LINE:
        return _ses_line(path, number, message)
    if "type" not in message:
        raise JourneyError(f"{path}:{number}: type: required (identify, track, page, screen, group or alias)")
    if "timestamp" not in message:
        raise JourneyError(f"{path}:{number}: timestamp: required to place the event on the virtual clock")
    body = json.dumps({"batch": [message]}).encode()
    try:
        (queued,) = parse("batch", body, _FAR_FUTURE)
    except InvalidRequestError as exc:
        problems = "; ".join(f"{e.field.removeprefix('batch.0.')}: {e.message}" for e in exc.errors)
        raise JourneyError(f"{path}:{number}: {problems or exc.message}") from exc
    except (ValidationError, TypeError) as exc:
        raise JourneyError(f"{path}:{number}: {exc}") from exc
    at = queued.message.timestamp
    assert at is not None
    arrives = at
    if "receivedAt" in message:
        received = message["receivedAt"]
        try:
            arrives = datetime.fromisoformat(received) if isinstance(received, str) else None  # type: ignore[assignment]
        except ValueError:
            arrives = None  # type: ignore[assignment]
        if arrives is None or arrives.tzinfo is None:
            raise JourneyError(
                f"{path}:{number}: receivedAt: {received!r} is not an ISO 8601 time with a zone"
            )
    return JourneyEvent(number, at, arrives, body)


#: a journey line that is not a Segment message: SES reporting an open or a click of the latest message to an
#: address: `{"type": "ses", "fate": "open", "userId": "ada", "address": "ada@example.com", "timestamp": …}`
SES_LINE = "ses"


def _ses_line(path: Path, number: int, message: dict[str, Any]) -> JourneyEvent:
    engagement = ", ".join(f.value for f in ENGAGEMENT)
    fate = message.get("fate")
    if fate not in {f.value for f in ENGAGEMENT}:
        raise JourneyError(f"{path}:{number}: fate: {fate!r} is not one of {engagement}")
    address = message.get("address")
    if not isinstance(address, str) or "@" not in address:
        raise JourneyError(f"{path}:{number}: address: the recipient's address is required")
    if not customer_of(message):
        raise JourneyError(f"{path}:{number}: userId: required (the customer whose mail it is)")
    at: datetime | None
    try:
        at = datetime.fromisoformat(str(message.get("timestamp")))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise JourneyError(f"{path}:{number}: timestamp: an ISO 8601 time with a zone is required")
    return JourneyEvent(number, at.astimezone(UTC), at.astimezone(UTC), b"", (Fate(fate), address))


def _groups(path: Path) -> dict[str, str]:
    """customer -> the label of its group, for customers who share an e-mail address with another (the
    suppression list is keyed by address, so they must run in one shard); everyone else is alone."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.get(node, node) != node:
            parent[node] = parent.get(parent[node], parent[node])
            node = parent[node]
        return node

    for _, message in journey_lines(path, only_containing='"identify"'):
        traits = message.get("traits")
        email = traits.get("email") if isinstance(traits, dict) else None
        if message.get("type") != "identify" or not isinstance(email, str):
            continue
        customer, address = "c:" + customer_of(message), "a:" + normalise_address(email)
        a, b = root(customer), root(address)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[str, list[str]] = {}
    for node in parent:
        if node.startswith("c:"):
            members.setdefault(root(node), []).append(node[2:])
    return {c: min(group) for group in members.values() if len(group) > 1 for c in group}


# -- what a run counts ---------------------------------------------------------------------------------------


@dataclass
class CampaignTally:
    """What happened to one campaign's messages over a run."""

    triggered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    deferred: Counter[str] = field(default_factory=Counter)
    #: sends by the hour of day where the customer was (the decision's time zone)
    sends_by_local_hour: Counter[str] = field(default_factory=Counter)
    #: orders credited to its messages and to its holdout, their revenue net of refunds (docs/reporting.md)
    orders: int = 0
    revenue: Decimal = Decimal(0)
    held_out_orders: int = 0
    held_out_revenue: Decimal = Decimal(0)

    def merge(self, other: CampaignTally) -> None:
        self.triggered += other.triggered
        self.outcomes += other.outcomes
        self.suppressed += other.suppressed
        self.deferred += other.deferred
        self.sends_by_local_hour += other.sends_by_local_hour
        self.orders += other.orders
        self.revenue += other.revenue
        self.held_out_orders += other.held_out_orders
        self.held_out_revenue += other.held_out_revenue

    def credit(self, reason: dict[str, Any]) -> None:
        """An `attributed` decision's reason: an order credited, or a refund taking a credit back."""
        count = -1 if reason["code"] == "credit_refunded" else 1
        amount = Decimal(str(reason["revenue"]))
        if reason.get("held_out"):
            self.held_out_orders += count
            self.held_out_revenue += amount
        else:
            self.orders += count
            self.revenue += amount

    def figures(self) -> dict[str, int]:
        """Every count under one flat name, for comparing two runs."""
        found = {
            "triggered": self.triggered,
            **self.outcomes,
            **{f"suppressed:{reason}": n for reason, n in self.suppressed.items()},
            **{f"deferred:{reason}": n for reason, n in self.deferred.items()},
            **{f"sent at local hour {hour}": n for hour, n in self.sends_by_local_hour.items()},
            "orders credited": self.orders,
            "revenue credited (cents)": int(self.revenue * 100),
            "held-out orders": self.held_out_orders,
            "held-out revenue (cents)": int(self.held_out_revenue * 100),
        }
        return dict(sorted(found.items()))


_MAIN_OUTCOMES = (
    Outcome.SCHEDULED.value,
    Outcome.SENT.value,
    Outcome.SUPPRESSED.value,
    Outcome.DEFERRED.value,
)


@dataclass
class Tally:
    """A run's counts: events, decisions by outcome, and per campaign. Tallies of shards add up."""

    events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    campaigns: dict[str, CampaignTally] = field(default_factory=dict)
    #: the report's counters, per (UTC day, campaign), as the reports function keeps them (docs/reporting.md)
    rows: dict[tuple[str, str], dict[str, Amount]] = field(default_factory=dict)

    def count(self, decision: Decision) -> None:
        """Add `decision` to the report's counters."""
        for tick in ticks(decision):
            row = self.rows.setdefault((tick.day, tick.campaign_id), {})
            row[tick.name] = row.get(tick.name, 0) + tick.amount

    def report(self, generated_at: datetime, programs: Iterable[str] = ()) -> Report:
        """The campaign report of the whole run: every day a decision was made on."""
        if not self.rows:
            day = generated_at.astimezone(UTC).date()
            return build_report([], day, day, generated_at, programs)
        found = sorted(day for day, _ in self.rows)
        rows = [(day, campaign, row) for (day, campaign), row in self.rows.items()]
        return build_report(
            rows, date.fromisoformat(found[0]), date.fromisoformat(found[-1]), generated_at, programs
        )

    def add(self, line: dict[str, Any]) -> None:
        if line["type"] != "decision":
            return
        outcome, campaign = line["outcome"], self.campaigns.setdefault(line["campaign"], CampaignTally())
        self.outcomes[outcome] += 1
        campaign.outcomes[outcome] += 1
        codes = [reason["code"] for reason in line["reasons"]]
        # A campaign's trigger, a program's step reached (its message's own trigger), a program's trigger.
        step_reached = "program_step" in codes and outcome != Outcome.DEFERRED.value
        if "triggered" in codes or "program_triggered" in codes or step_reached:
            campaign.triggered += 1
        if outcome == Outcome.SUPPRESSED.value:
            campaign.suppressed.update(set(codes))
        elif outcome == Outcome.DEFERRED.value:
            campaign.deferred.update(set(codes))
        elif outcome == Outcome.SENT.value:
            local = datetime.fromisoformat(line["at"]).astimezone(_zone(line.get("timezone")))
            campaign.sends_by_local_hour[f"{local.hour:02d}"] += 1
        elif outcome == Outcome.ATTRIBUTED.value:
            campaign.credit(line["reasons"][0])

    def merge(self, other: Tally) -> None:
        self.events += other.events
        self.outcomes += other.outcomes
        for key, row in other.rows.items():
            into = self.rows.setdefault(key, {})
            for name, amount in row.items():
                into[name] = into.get(name, 0) + amount
        for name, campaign in other.campaigns.items():
            self.campaigns.setdefault(name, CampaignTally()).merge(campaign)

    @property
    def decisions(self) -> int:
        return sum(self.outcomes.values())

    def summary_lines(self) -> list[dict[str, Any]]:
        """One line per campaign, then the run's summary (always the last line)."""
        lines: list[dict[str, Any]] = []
        for name, campaign in sorted(self.campaigns.items()):
            lines.append(
                {
                    "type": "campaign",
                    "campaign": name,
                    "triggered": campaign.triggered,
                    **{outcome: campaign.outcomes.get(outcome, 0) for outcome in _MAIN_OUTCOMES},
                    "suppressed_by_reason": dict(sorted(campaign.suppressed.items())),
                    "deferred_by_reason": dict(sorted(campaign.deferred.items())),
                    "other_outcomes": {
                        k: n for k, n in sorted(campaign.outcomes.items()) if k not in _MAIN_OUTCOMES
                    },
                    "sends_by_local_hour": dict(sorted(campaign.sends_by_local_hour.items())),
                    "attributed": {
                        "orders": campaign.orders,
                        "revenue": str(campaign.revenue),
                        "held_out_orders": campaign.held_out_orders,
                        "held_out_revenue": str(campaign.held_out_revenue),
                    },
                }
            )
        lines.append(
            {
                "type": "summary",
                "events": self.events,
                "decisions": self.decisions,
                "sent": self.outcomes.get(Outcome.SENT.value, 0),
                "outcomes": dict(sorted(self.outcomes.items())),
            }
        )
        return lines


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str | None) -> ZoneInfo:
    """The zone a decision was made in (UTC when it names none, or none this machine knows)."""
    key = name or "UTC"
    if key not in _ZONES:
        try:
            _ZONES[key] = ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            _ZONES[key] = ZoneInfo("UTC")
    return _ZONES[key]


# -- running -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What every shard of a run needs (plain values: shards may run in other processes)."""

    journey: Path
    template: Path
    campaigns: Path
    templates: Path
    engine_name: str = "memory"
    #: a folder to write every sent e-mail to (.eml); None skips building the bytes nobody reads
    emails: Path | None = None
    #: when time stops: an instant, or how long after the journey's last event (`until_of`)
    until: datetime | timedelta = DRAIN_HORIZON


@dataclass
class Simulation:
    #: every output line, when kept (`keep_lines`)
    lines: list[dict[str, Any]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)

    @property
    def events(self) -> int:
        return self.tally.events

    @property
    def decisions(self) -> int:
        return self.tally.decisions


def simulate(
    journey: Path,
    *,
    template: Path,
    campaigns: Path,
    templates: Path,
    emit: Callable[[str], None] | None = None,
    engine_name: str = "memory",
    jobs: int = 1,
    emails: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    keep_lines: bool = True,
    until: str | None = None,
) -> Simulation:
    """Run `journey` through ingest -> evaluate -> schedule -> send on `jobs` processes; call `emit` with
    each output line (JSON text), in the same order whatever `jobs` is. `progress(done, total)` is called as
    events are processed. Time goes on after the last event until `until` (`until_of`)."""
    if engine_name not in ENGINES:
        raise ValueError(f"unknown engine {engine_name!r}: use one of {', '.join(ENGINES)}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    options = Options(journey, template, campaigns, templates, engine_name, emails, until_of(until))
    result = Simulation()

    def output(text: str, line: dict[str, Any] | None = None) -> None:
        if keep_lines:
            result.lines.append(line if line is not None else json.loads(text))
        if emit is not None:
            emit(text)

    if jobs == 1:
        events = read_journey(journey)
        result.tally = _run_shard(
            options, events, events[-1].arrives, lambda _key, text, line: output(text, line), progress
        )
    else:
        result.tally = _run_sharded(options, jobs, output, progress)
    for line in result.tally.summary_lines():
        output(json.dumps(line), line)
    return result


def until_of(text: str | None) -> datetime | timedelta:
    """`--until`: an ISO date (midnight UTC at its start) or instant (UTC unless it names an offset), or a
    duration after the journey's last event (`400d`, `26w`, `PT12H`); None is DRAIN_HORIZON after it."""
    if text is None:
        return DRAIN_HORIZON
    try:
        return parse_duration(text)
    except ValueError:
        pass
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise JourneyError(
            f"--until {text!r}: give an ISO date (2027-06-30) or instant, or a duration after the last event "
            "(400d, 26w)"
        ) from None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _end_of_time(options: Options, last_arrival: datetime) -> datetime:
    """The instant a run stops following time: `options.until`, after the journey's last arrival."""
    if isinstance(options.until, timedelta):
        return last_arrival + options.until
    if options.until < last_arrival:
        last = last_arrival.isoformat()
        raise JourneyError(f"--until {options.until.isoformat()} is before the journey's last event ({last})")
    return options.until


def _run_shard(
    options: Options,
    events: list[JourneyEvent],
    last_arrival: datetime,
    write: Callable[[str, str, dict[str, Any]], None],
    progress: Callable[[int, int], None] | None,
) -> Tally:
    """Run one shard's events on its own engine; hand every line to `write` in canonical order."""
    tally = Tally()
    if not events:
        return tally
    end = _end_of_time(options, last_arrival)
    clock = VirtualClock(start=events[0].arrives)
    ordered = _Ordered(clock, write, tally)
    with engine(
        options.engine_name,
        options.template,
        options.campaigns,
        options.templates,
        clock,
        emails=options.emails,
        # SES's events about a sent message are made from its bytes
        serialise_mail=True if any(e.ses for e in events) else None,
    ) as (pipeline, write_key):
        waiting: dict[str, Envelope] = {}

        def record(decision: Decision) -> None:
            tally.count(decision)
            ordered.add(decision.customer_id, {"type": "decision", **_public(decision)})
            if decision.outcome is Outcome.SENT:
                for accepted in pipeline.collect_envelopes():
                    waiting[accepted.ses_message_id] = accepted
                ses_id = next(
                    (
                        r.detail.get("ses_message_id")
                        for r in decision.reasons
                        if r.code.value == "delivered_to_ses"
                    ),
                    None,
                )
                envelope = waiting.pop(str(ses_id)) if str(ses_id) in waiting else None
                line = {
                    "type": "sent",
                    "at": decision.decided_at.isoformat(),
                    "user_id": decision.customer_id,
                    "campaign": decision.campaign_id,
                    "to": envelope.to if envelope else None,
                    "subject": envelope.subject if envelope else None,
                }
                ordered.add(decision.customer_id, line)

        pipeline.on_decision.append(record)
        auth = {
            "content-type": "application/json",
            "authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
        }
        for done, event in enumerate(events, start=1):
            _fire_until(pipeline, clock, event.arrives)
            clock.set(event.arrives)
            if event.ses is not None:
                pipeline.simulate_ses(event.ses[1], event.ses[0])
            elif event.learn_only is not None:
                learn_from_order(event.learn_only, root().catalog, clock.now())
            else:
                status, _, body = pipeline.http("POST", "/v1/batch", auth, event.body)
                if status != 200:
                    raise JourneyError(
                        f"{options.journey}:{event.line}: refused by ingest: HTTP {status} {body.decode()}"
                    )
            pipeline.run_until_idle()
            tally.events += event.counted
            if progress is not None and (done % _REPORT_EVERY == 0 or done == len(events)):
                progress(done, len(events))
        _fire_until(pipeline, clock, end)
        ordered.flush()
    return tally


class _Ordered:
    """Output lines in an order that does not depend on how customers were sharded: by the instant the
    pipeline produced them, then by customer, then in the customer's own order. The clock only moves
    forward, so the lines of one instant are sorted once it has passed."""

    def __init__(self, clock: VirtualClock, write: Callable[[str, str, dict[str, Any]], None], tally: Tally):
        self.clock, self.write, self.tally = clock, write, tally
        self.instant: datetime | None = None
        self.waiting: list[tuple[str, dict[str, Any]]] = []
        self.counts: Counter[str] = Counter()

    def add(self, customer: str, line: dict[str, Any]) -> None:
        now = self.clock.now()
        if now != self.instant:
            self.flush()
            self.instant = now
        self.counts[customer] += 1
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f")
        self.waiting.append((f"{stamp} {json.dumps(customer)} {self.counts[customer]:010d}", line))

    def flush(self) -> None:
        self.waiting.sort(key=lambda pair: pair[0])
        for key, line in self.waiting:
            self.tally.add(line)
            self.write(key, json.dumps(line), line)
        self.waiting.clear()


# -- many processes ------------------------------------------------------------------------------------------


def _run_sharded(
    options: Options,
    jobs: int,
    output: Callable[[str, dict[str, Any] | None], None],
    progress: Callable[[int, int], None] | None,
) -> Tally:
    """Run `jobs` shards in as many processes; merge their lines (each already in canonical order)."""
    context = multiprocessing.get_context("spawn")
    reports: Any = context.Queue()
    starts = [context.Queue() for _ in range(jobs)]
    done = [context.Value("q", 0, lock=False) for _ in range(jobs)]
    with tempfile.TemporaryDirectory(prefix="righttime-simulate-") as folder:
        paths = [Path(folder) / f"shard-{index}.lines" for index in range(jobs)]
        workers = [
            context.Process(
                target=_shard_worker,
                args=(options, Shard(index, jobs), paths[index], starts[index], done[index], reports),
                daemon=True,
            )
            for index in range(jobs)
        ]
        for worker in workers:
            worker.start()
        try:
            read = _collect(reports, workers, "read", jobs)
            errors = sorted((r[2], r[3]) for r in read if r[0] == "error")
            if errors:
                raise JourneyError(errors[0][1])
            sizes = {r[1]: r[2] for r in read}
            total = sum(sizes.values())
            if total == 0:
                raise JourneyError(f"{options.journey}: no events")
            last = max(r[3] for r in read if r[3] is not None)
            for start in starts:
                start.put(last)

            def shown() -> None:
                if progress is not None:
                    progress(sum(d.value for d in done), total)

            finished = _collect(reports, workers, "done", jobs, shown)
            failures = [r for r in finished if r[0] == "error"]
            if failures:
                raise JourneyError(failures[0][3])
            tally = Tally()
            for report in sorted(finished, key=lambda r: r[1]):
                tally.merge(report[2])
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
                worker.join()
        files = [path.open(encoding="utf-8") for path in paths]
        try:
            for entry in heapq.merge(*files, key=lambda text: text.partition("\t")[0]):
                output(entry.partition("\t")[2].rstrip("\n"), None)
        finally:
            for file in files:
                file.close()
    return tally


def _collect(
    reports: Any,
    workers: list[Any],
    phase: str,
    jobs: int,
    tick: Callable[[], None] = lambda: None,
) -> list[tuple[Any, ...]]:
    """Wait for every shard's report of `phase` (or its error); fail if a process dies without one."""
    got: dict[int, tuple[Any, ...]] = {}
    while len(got) < jobs:
        try:
            report = reports.get(timeout=0.25)
        except queue.Empty:
            tick()
            for index, worker in enumerate(workers):
                if index not in got and not worker.is_alive() and worker.exitcode not in (None, 0):
                    raise RuntimeError(
                        f"simulation shard {index} died (exit code {worker.exitcode})"
                    ) from None
            continue
        if report[0] in (phase, "error"):
            got[report[1]] = report
    tick()
    return list(got.values())


def _shard_worker(options: Options, shard: Shard, path: Path, start: Any, done: Any, reports: Any) -> None:
    """One shard in its own process: read and validate its lines, report, wait for the run's last arrival,
    run, and write its lines (key, tab, JSON) to `path`."""
    try:
        try:
            events = read_journey(options.journey, shard)
        except JourneyError as exc:
            reports.put(("error", shard.index, _line_of(str(exc)), str(exc)))
            return
        reports.put(("read", shard.index, len(events), events[-1].arrives if events else None))
        last = start.get()
        with path.open("w", encoding="utf-8") as out:

            def write(key: str, text: str, _line: dict[str, Any]) -> None:
                out.write(f"{key}\t{text}\n")

            def advanced(count: int, _total: int) -> None:
                done.value = count

            tally = _run_shard(options, events, last, write, advanced)
        reports.put(("done", shard.index, tally))
    except JourneyError as exc:
        reports.put(("error", shard.index, _line_of(str(exc)), str(exc)))
    except BaseException:
        reports.put(("error", shard.index, 0, f"shard {shard.index} failed:\n{traceback.format_exc()}"))


def _line_of(message: str) -> int:
    """The line number a JourneyError names (`path:line: ...`), for reporting the first of several."""
    parts = message.split(":", 2)
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0


# -- progress ------------------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on `stream` (stderr): events done, rate and time left, redrawn at most every
    `every` seconds. `monotonic` is injected so the bar can be tested without waiting."""

    def __init__(
        self,
        stream: IO[str],
        monotonic: Callable[[], float] = time.monotonic,
        every: float = 0.5,
        width: int = 30,
    ) -> None:
        self.stream, self.monotonic, self.every, self.width = stream, monotonic, every, width
        self.started = monotonic()
        self.drawn_at: float | None = None

    def __call__(self, done: int, total: int) -> None:
        now = self.monotonic()
        if self.drawn_at is not None and now - self.drawn_at < self.every and done < total:
            return
        self.drawn_at = now
        share = done / total if total else 1.0
        filled = int(self.width * share)
        rate = done / max(now - self.started, 1e-9)
        left = (total - done) / rate if rate > 0 else 0.0
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} {done:,}/{total:,} events"
            f"  {rate:,.0f}/s  {int(left) // 60}m{int(left) % 60:02d}s left "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.drawn_at is not None:
            self.stream.write("\n")
            self.stream.flush()


# -- comparing two campaign sets -----------------------------------------------------------------------------


def compare(
    journey: Path,
    *,
    template: Path,
    campaigns: Path,
    other_campaigns: Path,
    templates: Path,
    jobs: int = 1,
    engine_name: str = "memory",
    progress: Callable[[int, int], None] | None = None,
    until: str | None = None,
) -> list[dict[str, Any]]:
    """Run `journey` with `campaigns`, then with `other_campaigns`, and say per campaign what changes: one
    line per campaign with every count that differs (before, after, change), then the totals."""
    runs = [
        simulate(
            journey,
            template=template,
            campaigns=folder,
            templates=templates,
            jobs=jobs,
            engine_name=engine_name,
            progress=progress,
            keep_lines=False,
            until=until,
        ).tally
        for folder in (campaigns, other_campaigns)
    ]
    before, after = runs
    lines: list[dict[str, Any]] = []
    for name in sorted(set(before.campaigns) | set(after.campaigns)):
        old = before.campaigns.get(name, CampaignTally()).figures()
        new = after.campaigns.get(name, CampaignTally()).figures()
        lines.append(
            {
                "type": "difference",
                "campaign": name,
                "in": "both"
                if name in before.campaigns and name in after.campaigns
                else ("before" if name in before.campaigns else "after"),
                "changes": _changes(old, new),
            }
        )
    lines.append(
        {
            "type": "difference",
            "campaign": None,
            "events": before.events,
            "changes": _changes(dict(before.outcomes), dict(after.outcomes)),
        }
    )
    return lines


def _changes(old: dict[str, int], new: dict[str, int]) -> dict[str, dict[str, int]]:
    return {
        name: {
            "before": old.get(name, 0),
            "after": new.get(name, 0),
            "change": new.get(name, 0) - old.get(name, 0),
        }
        for name in sorted(set(old) | set(new))
        if old.get(name, 0) != new.get(name, 0)
    }


# -- the pipeline on an engine -------------------------------------------------------------------------------


_RUN_IDS = ("ses_message_id", "run", "message_id")


def _public(decision: Decision) -> dict[str, Any]:
    """The read API's shape of a decision without its ids: message and SES ids differ from run to run (and
    from engine to engine); a simulation's output must not."""
    document = decision_json(decision)
    del document["message_id"]
    document["trigger"] = {"event": document["trigger"]["event"]}
    # Ids that differ from run to run when the journey names no messageId: SES's, a program run's, and the
    # message an order is credited to.
    document["reasons"] = [{k: v for k, v in r.items() if k not in _RUN_IDS} for r in document["reasons"]]
    return document


def _fire_until(pipeline: Driver, clock: VirtualClock, until: datetime) -> None:
    """Jump the clock to each schedule due by `until` and to each run of the due sweep that finds a customer
    due by then, in order, and let the pipeline act on it. Runs that would find nobody are never visited."""
    while True:
        ahead = [at for at in (pipeline.next_fire_at(), pipeline.next_due_sweep_at()) if at is not None]
        if not ahead or min(ahead) > until:
            return
        clock.set(max(min(ahead), clock.now()))
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
    name: str,
    template: Path,
    campaigns: Path,
    templates: Path,
    clock: VirtualClock,
    *,
    emails: Path | None = None,
    serialise_mail: bool | None = None,
) -> Iterator[tuple[Driver, str]]:
    """The real handlers on the named engine, with a composition root installed for the run, and the write
    key that opens its ingest API. Sent e-mails are written to `emails` when given. The in-memory engine
    builds no e-mail bytes unless asked (`emails`, or `serialise_mail=True`); moto's SES always does."""
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
        # No one-click unsubscribe links in a simulation: nobody can click them.
        "UNSUBSCRIBE_URL": "",
        "UNSUBSCRIBE_KEYS_PARAMETER": "",
    }
    previous, previous_level = install(None), logger.log_level
    logger.setLevel(logging.ERROR)
    try:
        if name == "moto":
            from moto import mock_aws

            from righttime_dev.local.pipeline import Pipeline

            # moto in-process: a simulation needs no server, and skipping HTTP makes it several times faster.
            with mock_aws():
                yield (
                    Pipeline.start(template, SENDER, clock, aws=SIMULATED_AWS, app=app, outbox=emails),
                    write_key,
                )
        else:
            from righttime_dev.memory import MemoryPipeline

            serialise = emails is not None if serialise_mail is None else serialise_mail
            yield (
                MemoryPipeline.start(
                    template, SENDER, clock, app=app, outbox=emails, serialise_mail=serialise
                ),
                write_key,
            )
    finally:
        install(previous)
        logger.setLevel(previous_level)
