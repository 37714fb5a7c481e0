"""`make bench`: the figures that matter, measured side by side in one run, printed and written to
bench/results.json. Ratios to a baseline measured in the same run hold on a noisy machine; absolute
milliseconds are shown for context only."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "common"
HANDLERS = {
    "ingest": ("functions/ingest", "ingest_handler"),
    "evaluate": ("functions/evaluate", "evaluate_handler"),
    "scheduler": ("functions/scheduler", "scheduler_handler"),
    "sender": ("functions/sender", "sender_handler"),
    "api": ("functions/api", "api_handler"),
    "feedback": ("functions/feedback", "feedback_handler"),
}
TARGETS = {"ingest": 1.5, "evaluate": 1.5, "sender": 2.0}

# Public AWS prices, us-east-1, as published on the AWS pricing pages (checked 2026-11-22).
PRICES_DATE = "2026-11-22"
PRICES_REGION = "us-east-1"
PRICES: dict[str, float] = {
    "api_gateway_rest_per_million_requests": 3.50,
    "api_gateway_http_per_million_requests": 1.00,
    "cloudwatch_logs_ingestion_per_gb": 0.50,
    "dynamodb_storage_per_gb_month": 0.25,
    "lambda_per_million_requests": 0.20,
    "lambda_arm64_per_gb_second": 0.0000133334,
    "sqs_fifo_per_million_requests": 0.50,
    "dynamodb_on_demand_per_million_write_units": 0.625,
    "dynamodb_on_demand_per_million_read_units": 0.125,
    "eventbridge_scheduler_per_million_invocations": 1.00,
}
# What the cost estimate assumes about things the counts cannot show.
LAMBDA_MEMORY_GB: dict[str, float] = {
    "ingest": 0.25,
    "evaluate": 0.5,
    "scheduler": 0.25,
    "sender": 0.5,
    "feedback": 0.25,
    "reports": 0.25,
}
LAMBDA_SECONDS_PER_INVOCATION: dict[str, float] = {
    "ingest": 0.03,
    "evaluate": 0.08,
    "scheduler": 0.05,
    "sender": 0.15,
    "feedback": 0.05,
    "reports": 0.2,
}
EVENTS_PER_API_REQUEST = 1
#: decisions items per invocation of the reports function on AWS: its event source gathers up to 1,000
#: records for up to 10 s, so any traffic worth pricing per million events fills batches of 100 or more
REPORT_BATCH = 100
SQS_BATCH_SIZE = 10
#: Lambda's own START, END and REPORT lines (about 90 + 60 + 230 bytes) and one Powertools metrics (EMF) line
#: of about 400 bytes, per invocation: local runs publish no metrics, so these are estimates
LOG_BYTES_PER_INVOCATION = 780
#: the issue's targets: engine cost per million events, SES excluded, logs included, mature profiles
COST_TARGET_ONE_PER_REQUEST = 5.0
COST_TARGET_TWENTY_PER_REQUEST = 3.5
#: the template's RetentionDays: decisions and messages are kept this long, then DynamoDB's TTL deletes them
RETENTION_DAYS = 90
ASSUMPTIONS = {
    "log_bytes_per_invocation_platform_and_metrics": LOG_BYTES_PER_INVOCATION,
    "retention_days": RETENTION_DAYS,
    "lambda_memory_gb": LAMBDA_MEMORY_GB,
    "lambda_duration_seconds_per_invocation": LAMBDA_SECONDS_PER_INVOCATION,
    "events_per_api_request": EVENTS_PER_API_REQUEST,
    "sqs_batch_size_seen_by_evaluate": SQS_BATCH_SIZE,
    "decisions_items_per_reports_invocation": REPORT_BATCH,
    "note": "SQS polling by the Lambda event source mapping is counted as one ReceiveMessage and one "
    "DeleteMessageBatch per batch; DynamoDB stream reads by Lambda are free; SES is excluded. The reports "
    "function's counter writes are priced as its adapter would make them for batches of "
    "decisions_items_per_reports_invocation records (local mode hands it a few records at a time), and the "
    "CloudWatch campaign metrics (a monthly cost per campaign, not per event) are left out.",
}


# -- 1. cold start, with the first invocation (bench/cold_start.py) ----------------------------------------


def cold_start(runs: int) -> dict[str, Any]:
    """Median (import + first invocation) of each handler, fresh process each run, against `import boto3` +
    one client + one call; AWS answered by a local stub replaying moto's recorded answers (see its module)."""
    from cold_start import measure  # bench/ is on sys.path: `make bench` runs this file as a script

    result: dict[str, Any] = measure(runs)
    for name, figure in result["handlers"].items():
        figure["target_ratio"] = TARGETS.get(name)
    return result


# -- 2. AWS calls per event ---------------------------------------------------------------------------------

READS = {"GetItem", "BatchGetItem", "Query"}
WRITES = {"PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem", "DeleteItem"}
FUNCTION_NAMES = {
    "IngestFunction": "ingest",
    "EvaluateFunction": "evaluate",
    "SchedulerFunction": "scheduler",
    "SenderFunction": "sender",
    "ApiFunction": "api",
    "FeedbackFunction": "feedback",
    "SweeperFunction": "sweeper",
    "DueFunction": "due",
    "ReportsFunction": "reports",
}


@contextmanager
def _counting() -> Iterator[tuple[Counter[tuple[str, str, str]], list[str], Callable[[Any], None]]]:
    """Count every AWS call the handlers make, by handler, service and operation (botocore event hooks on
    each client the composition root creates). The third value adds a DynamoDB meter to every DynamoDB
    client, made before or after."""
    from righttime.adapters.clients import Clients

    counts: Counter[tuple[str, str, str]] = Counter()
    current = ["-"]
    original = Clients._client
    dynamodb_clients: list[Any] = []
    meters: list[Any] = []

    def counted(self: Clients, service: str) -> Any:
        client = original(self, service)
        if not getattr(client, "_righttime_counted", False):

            def hook(model: Any, **_: Any) -> None:
                counts[(current[0], model.service_model.service_name, model.name)] += 1

            client.meta.events.register("before-call.*.*", hook)
            client._righttime_counted = True
            if service == "dynamodb":
                dynamodb_clients.append(client)
                for meter in meters:
                    meter(client)
        return client

    def add_meter(watch: Callable[[Any], None]) -> None:
        meters.append(watch)
        for client in dynamodb_clients:
            watch(client)

    Clients._client = counted  # type: ignore[method-assign]
    try:
        yield counts, current, add_meter
    finally:
        Clients._client = original  # type: ignore[method-assign]


def aws_calls(customers: int, campaign_counts: tuple[int, ...] = (5, 50, 500)) -> dict[str, Any]:
    """Drive a realistic mix through the real handlers on moto; count each handler's AWS calls, meter
    DynamoDB's billed units item by item, and price a million events, in four scenarios: new profiles with
    the default campaigns, and mature (about 3 KB) profiles with 5, 50 and 500 campaigns."""
    scenarios: dict[str, Any] = {}
    for mature, count in [(False, campaign_counts[0])] + [(True, c) for c in campaign_counts]:
        # 500 campaigns decide ~70 campaigns per event on moto: fewer customers keep the run short
        size = customers if count <= 50 else max(30, customers // 5)
        name = f"{'mature' if mature else 'new'} profiles, {count} campaigns"
        scenarios[name] = _mix(size, count, mature)
    headline = scenarios[f"mature profiles, {campaign_counts[0]} campaigns"]
    return {**headline, "scenarios": scenarios}


def _mix(customers: int, campaign_count: int, mature: bool) -> dict[str, Any]:
    import base64
    import tempfile

    import boto3
    from billing import Meter  # bench/ is on sys.path: `make bench` runs this file as a script

    from righttime.core.clock import VirtualClock
    from righttime_dev.journeys import generated_journey
    from righttime_dev.simulate import _fire_until, engine

    events = generated_journey(customers)
    clock = VirtualClock(start=events[0][0])
    with tempfile.TemporaryDirectory() as scratch:
        campaigns = _campaign_dir(campaign_count, Path(scratch))
        log_bytes = _LogBytes()
        with (
            _counting() as (counts, current, add_meter),
            engine("moto", ROOT / "template.yaml", campaigns, ROOT / "templates", clock) as (pipeline, key),
            log_bytes,
        ):
            meter = Meter(boto3.client("dynamodb", region_name="us-east-1"), current)
            add_meter(meter.watch)
            invocations: Counter[str] = Counter()
            decisions_items: list[dict[str, Any]] = []
            for logical_id, handler in list(pipeline.handlers.items()):

                def wrapped(
                    event: Any, context: Any, _h: Any = handler, _n: str = FUNCTION_NAMES[logical_id]
                ) -> Any:
                    current[0], invocations[_n] = _n, invocations[_n] + 1
                    if _n == "reports":
                        decisions_items.extend(event["Records"])
                    try:
                        return _h(event, context)
                    finally:
                        current[0] = "-"

                pipeline.handlers[logical_id] = wrapped
            if mature:
                _seed_mature_profiles(pipeline, {str(m.get("userId")) for _, m in events if m.get("userId")})
            auth = {
                "content-type": "application/json",
                "authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
            }
            for at, message in events:
                _fire_until(pipeline, clock, at)
                clock.set(at)
                status, _, body = pipeline.http(
                    "POST", "/v1/batch", auth, json.dumps({"batch": [message]}).encode()
                )
                assert status == 200, body
                pipeline.run_until_idle()
            _fire_until(pipeline, clock, events[-1][0] + timedelta(days=30))
            sent = len(pipeline.collect_sent()) + len(pipeline.sent)
    fired = invocations["sender"]
    per: dict[str, Any] = {}
    units = {"sender": ("message fired", fired), "feedback": ("SES event", invocations["feedback"])}
    units["sweeper"] = ("sweeper run", invocations["sweeper"])
    units["due"] = ("due sweep run", invocations["due"])
    for function in ("ingest", "evaluate", "scheduler", "sender", "feedback", "sweeper", "due", "reports"):
        calls = {f"{service}:{op}": n for (fn, service, op), n in sorted(counts.items()) if fn == function}
        unit, divisor = units.get(function, ("event", len(events)))
        divisor = max(divisor, 1)
        per[function] = {
            "per": unit,
            "calls": calls,
            "dynamodb_reads": round(
                sum(n for k, n in calls.items() if k.split(":")[1] in READS) / divisor, 3
            ),
            "dynamodb_writes": round(
                sum(n for k, n in calls.items() if k.split(":")[1] in WRITES) / divisor, 3
            ),
            "write_units": round(
                sum(u for (fn, _), u in meter.write_units.items() if fn == function) / divisor, 2
            ),
            "read_units": round(
                sum(u for (fn, _), u in meter.read_units.items() if fn == function) / divisor, 2
            ),
            "other": {
                k: round(n / divisor, 3) for k, n in calls.items() if k.split(":")[1] not in READS | WRITES
            },
            "invocations": invocations[function],
        }
    total_calls = sum(n for (fn, _, _), n in counts.items() if fn != "-")
    result = {
        "customers": customers,
        "campaigns": campaign_count,
        "mature_profiles": mature,
        "events": len(events),
        "messages_fired": fired,
        "emails_sent": sent,
        "per_handler": per,
        "total_calls_per_event": round(total_calls / len(events), 3),
        "item_sizes_bytes": {k: round(statistics.mean(v)) for k, v in sorted(meter.sizes.items())},
        "application_log_bytes": log_bytes.total,
        "reports_batched": _report_writes(decisions_items),
    }
    result["cost"] = _cost(result, counts, meter)
    return result


def _report_writes(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What the reports function writes on AWS for these decisions items handed over REPORT_BATCH at a time:
    per batch, one transaction of a marker and one counter row per (day, campaign) the batch touches, each
    item under 1 KB (2 write units in a transaction), as `righttime.stages.report.count` groups them."""
    from righttime.adapters.dynamodb import decisions_from_item
    from righttime.core.report import add_up, ticks
    from righttime.stages.report import ROWS_PER_GROUP

    batches, units = 0, 0
    for start in range(0, len(records), REPORT_BATCH):
        batch = records[start : start + REPORT_BATCH]
        decisions = [d for r in batch for d in decisions_from_item(r["dynamodb"]["NewImage"])]
        rows = len(add_up(tick for decision in decisions for tick in ticks(decision)))
        transactions = max(1, math.ceil(rows / ROWS_PER_GROUP))
        batches += 1
        units += 2 * (rows + transactions)
    return {"decisions_items": len(records), "invocations": batches, "write_units": units}


def _campaign_dir(count: int, scratch: Path) -> Path:
    """The default campaigns, or `count` campaigns made from them: one order confirmation, and variants of
    the three promotional ones, each with its own id, priority and price threshold on its trigger; the shipped
    programs beside them, unchanged."""
    import yaml

    if count == 5:
        return ROOT / "campaigns"
    rng = random.Random(count)
    defaults = {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "campaigns").glob("*.yaml")}
    (scratch / "policy.yaml").write_text((ROOT / "campaigns" / "policy.yaml").read_text())
    campaigns = {n: c for n, c in defaults.items() if n != "policy" and "steps" not in c}
    promotional = [c for _, c in sorted(campaigns.items()) if c.get("kind") == "promotional"]
    (scratch / "order_confirmation.yaml").write_text(yaml.safe_dump(defaults["order_confirmation"]))
    for name in sorted(set(defaults) - set(campaigns) - {"policy"}):  # the programs, as shipped
        (scratch / f"{name}.yaml").write_text((ROOT / "campaigns" / f"{name}.yaml").read_text())
    for index in range(count - 1):
        spec = dict(promotional[index % len(promotional)])
        spec["id"] = f"{spec['id']}_{index:03d}"
        spec["priority"] = rng.randrange(1, 100)
        trigger = dict(spec["trigger"])
        trigger["where"] = [{"field": "price", "op": "gte", "value": rng.randrange(0, 120)}]
        spec["trigger"] = trigger
        (scratch / f"{spec['id']}.yaml").write_text(yaml.safe_dump(spec))
    return scratch


def _seed_mature_profiles(pipeline: Any, customers: set[str]) -> None:
    """Give each customer a profile of about 3 KB (as JSON) before the mix: a year of history, five campaigns
    sent, traits, engagement, categories. Written with an uncounted client."""
    import boto3

    from righttime.adapters.dynamodb import profile_item

    client = boto3.client("dynamodb", region_name="us-east-1")
    table = pipeline.stack.physical["ProfilesTable"]
    for customer in sorted(customers):
        client.put_item(TableName=table, Item=profile_item(mature_profile(customer)))


def mature_profile(customer: str) -> Any:
    from righttime.core.profiles import Profile

    now = datetime(2026, 11, 1, tzinfo=UTC)
    rng = random.Random(customer)
    campaigns = [
        "cart_abandonment",
        "browse_abandonment",
        "post_purchase_series--v1--cross_sell",
        "search_abandonment",
    ]
    return Profile.model_validate(
        {
            "customer_id": customer,
            "version": 1,
            "timezone": rng.choice(["Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"]),
            "locale": "en-US",
            "birthday": "1988-04-12",
            "traits": {"plan": "gold", "city": "Lyon", "loyalty_points": 1234, "signup_source": "instagram"},
            "orders_count": 7,
            "lifetime_value": "612.40",
            "last_order_at": (now - timedelta(days=40)).isoformat(),
            "last_order_id": "o-98765",
            "last_order_categories": ["knitwear", "accessories"],
            "first_seen_at": (now - timedelta(days=300)).isoformat(),
            "last_seen_at": (now - timedelta(days=2)).isoformat(),
            "sends": [
                {"at": (now - timedelta(days=3 * i + 10)).isoformat(), "campaign_id": c, "promotional": True}
                for i, c in enumerate(campaigns * 2)
            ],
            "history": {
                c: {
                    "last_sent_at": (now - timedelta(days=10)).isoformat(),
                    "sent_count": 3,
                    "keys": ["k1", "k2"],
                }
                for c in [*campaigns, "order_confirmation"]
            },
            "recent_categories": {c: (now - timedelta(days=40)).isoformat() for c in ["knitwear", "shoes"]},
            "engagement": [
                {
                    "kind": "open",
                    "at": (now - timedelta(days=i)).isoformat(),
                    "message_id": f"{rng.getrandbits(128):032x}",
                    "campaign_id": campaigns[i % 4],
                }
                for i in range(8)
            ],
            "recent_events": [f"{rng.getrandbits(48):012x}"[:8] for _ in range(40)],
        }
    )


class _LogBytes:
    """Bytes the handlers' Powertools loggers write at the deployed level (the template's LogLevel)."""

    def __init__(self) -> None:
        self.total = 0

    def __enter__(self) -> _LogBytes:
        import logging

        meter = self

        class Counting(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                meter.total += len(self.format(record)) + 1

        self._handler = Counting()
        self._logger = logging.getLogger("righttime")
        self._logger.addHandler(self._handler)
        return self

    def __exit__(self, *_: object) -> None:
        self._logger.removeHandler(self._handler)


def _cost(
    result: dict[str, Any], counts: Counter[tuple[str, str, str]], meter: Any, events_per_request: int = 1
) -> dict[str, Any]:
    """Engine cost per million events, per line item, from the counts, the metered units, public prices and
    the stated assumptions; at 1 and at 20 events per API request."""
    events: int = result["events"]
    million = 1_000_000

    def per_event(n: float) -> float:
        return n / events

    invocations = {
        # the sweepers are left out: they run every few minutes whatever the traffic (a fixed cost)
        fn: result["per_handler"][fn]["invocations"]
        for fn in ("ingest", "evaluate", "scheduler", "sender", "feedback")
    }
    invocations["evaluate"] = events / SQS_BATCH_SIZE  # batches in AWS, not 1 by 1

    def lambda_line(fn: str, n: float) -> float:
        each = (
            PRICES["lambda_per_million_requests"] / million
            + LAMBDA_SECONDS_PER_INVOCATION[fn] * LAMBDA_MEMORY_GB[fn] * PRICES["lambda_arm64_per_gb_second"]
        )
        return per_event(n) * million * each

    wru = {fn: sum(u for (f, _), u in meter.write_units.items() if f == fn) for fn in invocations}
    rru = {fn: sum(u for (f, _), u in meter.read_units.items() if f == fn) for fn in invocations}
    stored_bytes = (
        result["item_sizes_bytes"].get("decisions", 0) * _count_writes(meter, "decisions")
        + result["item_sizes_bytes"].get("message", 0) * result["messages_fired"]
    )
    months_kept = RETENTION_DAYS / 30
    storage = (
        per_event(stored_bytes) * million / 2**30 * PRICES["dynamodb_storage_per_gb_month"] * months_kept
    )

    def lines(per_request: int) -> dict[str, float]:
        ingest_calls = invocations["ingest"] / per_request
        sqs_sends = ingest_calls * math.ceil(per_request / 10)
        logs_bytes = result["application_log_bytes"] + LOG_BYTES_PER_INVOCATION * (
            sum(invocations.values())
            - invocations["ingest"]
            + ingest_calls
            + result["reports_batched"]["invocations"]
        )
        return {
            "api_gateway_http": per_event(ingest_calls) * PRICES["api_gateway_http_per_million_requests"],
            "lambda_ingest": lambda_line("ingest", ingest_calls),
            "lambda_evaluate": lambda_line("evaluate", invocations["evaluate"]),
            "lambda_scheduler": lambda_line("scheduler", invocations["scheduler"]),
            "lambda_sender": lambda_line("sender", invocations["sender"]),
            "lambda_feedback": lambda_line("feedback", invocations["feedback"]),
            "sqs_fifo": per_event(sqs_sends + 2 * events / SQS_BATCH_SIZE)
            * PRICES["sqs_fifo_per_million_requests"],
            **{
                f"dynamodb_{fn}": per_event(wru[fn]) * PRICES["dynamodb_on_demand_per_million_write_units"]
                + per_event(rru[fn]) * PRICES["dynamodb_on_demand_per_million_read_units"]
                for fn in ("evaluate", "sender", "feedback", "scheduler")
            },
            "dynamodb_storage": storage,
            "lambda_reports": lambda_line("reports", result["reports_batched"]["invocations"]),
            "dynamodb_reports": per_event(result["reports_batched"]["write_units"])
            * PRICES["dynamodb_on_demand_per_million_write_units"],
            "eventbridge_scheduler": per_event(result["messages_fired"])
            * PRICES["eventbridge_scheduler_per_million_invocations"],
            "cloudwatch_logs": per_event(logs_bytes)
            * million
            / 2**30
            * PRICES["cloudwatch_logs_ingestion_per_gb"],
        }

    one, twenty = lines(1), lines(20)
    return {
        "usd_per_million_events": round(sum(one.values()), 2),
        "usd_per_million_events_20_per_request": round(sum(twenty.values()), 2),
        "breakdown_usd": {k: round(v, 3) for k, v in one.items()},
        "breakdown_usd_20_per_request": {k: round(v, 3) for k, v in twenty.items()},
        "write_units_per_event": round(per_event(sum(wru.values())), 2),
        "read_units_per_event": round(per_event(sum(rru.values())), 2),
        "prices": {**PRICES, "date": PRICES_DATE, "region": PRICES_REGION},
        "assumptions": ASSUMPTIONS,
    }


def _count_writes(meter: Any, kind: str) -> int:
    return len(meter.sizes.get(kind, []))


# -- 3. policy core throughput ------------------------------------------------------------------------------


def _campaigns(count: int, rng: random.Random) -> list[Any]:
    from righttime.core.campaigns import Campaign

    events = ["Product Viewed", "Product Added", "Products Searched", "Checkout Started", "Order Completed"]
    campaigns = []
    for index in range(count):
        promotional = rng.random() < 0.85
        spec: dict[str, Any] = {
            "id": f"c{index:03d}",
            "name": f"Campaign {index}",
            "template": "t",
            "priority": rng.randrange(0, 100),
            "kind": "promotional" if promotional else "transactional",
            "trigger": {
                "event": rng.choice(events),
                "where": [{"field": "price", "op": "gte", "value": rng.randrange(0, 50)}],
            },
            "timing": {"delay": f"{rng.randrange(0, 48)}h", "send_by": "3d"},
            "exit": {"events": ["Order Completed"]},
        }
        if promotional:
            spec["timing"]["window"] = {"start": "09:00", "end": "20:00"}
            spec["audience"] = [{"field": "has_email", "op": "equals", "value": True}]
        campaigns.append(Campaign.model_validate(spec))
    return campaigns


#: evaluations per CPU-second the policy core must reach (issue 9); none at 5 campaigns
POLICY_TARGETS: dict[int, int | None] = {5: None, 50: 5_000, 500: 500}
#: (evaluations/s x campaigns) at 500 over the same at 50: 1.0 is exactly linear, below it the cost of an
#: evaluation grows faster than the number of campaigns
POLICY_LINEAR_TARGET = 0.8


def policy_throughput(seconds: float) -> dict[str, Any]:
    """Evaluations per CPU-second of the pure decision code on one core (one thread; CPU time, so other jobs
    on the machine do not count), for 5, 50 and 500 campaigns, and how close to linear the cost grows.

    Fifty customers in five zones take turns, each event a different one, as a function sees them."""
    from righttime.core.events import QueuedEvent, TrackMessage
    from righttime.core.global_policy import GlobalPolicy
    from righttime.core.policy import plan_event
    from righttime.core.profiles import Profile

    policy = GlobalPolicy.model_validate(
        {
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "frequency_caps": [{"max": 1, "per": "day"}, {"max": 3, "per": "7d"}],
            "purchase_cooldown": "3d",
            "recent_purchase": {"window": "30d"},
            "min_delay": {"Product Viewed": "1h"},
        }
    )
    now = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
    names = ["Product Viewed", "Product Added", "Products Searched", "Checkout Started", "Order Completed"]
    zones = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC"]
    events = [
        QueuedEvent(
            message=TrackMessage(
                userId=f"u{i}",
                messageId=f"m{i}",
                event=names[i % len(names)],
                properties={"price": 30, "product_id": "p", "category": "shirts"},
            ),
            received_at=now,
            occurred_at=now,
        )
        for i in range(50)
    ]
    profiles = [
        Profile(
            customer_id=f"u{i}",
            email=f"u{i}@example.com",
            timezone=zones[i % len(zones)],
            version=3,
            orders_count=1,
        )
        for i in range(len(events))
    ]
    results: dict[str, Any] = {}
    for count, target in POLICY_TARGETS.items():
        campaigns = _campaigns(count, random.Random(count))
        plan_event(profiles[0], events[0], campaigns, policy, now)  # a function loads its campaigns once
        done = 0
        started, cpu = time.perf_counter(), time.process_time()
        while time.process_time() - cpu < seconds:
            turn = done % len(events)
            plan_event(profiles[turn], events[turn], campaigns, policy, now)
            done += 1
        cpu_seconds, elapsed = time.process_time() - cpu, time.perf_counter() - started
        results[str(count)] = {
            "evaluations_per_cpu_second": round(done / cpu_seconds),
            "evaluations_per_second": round(done / elapsed),
            "evaluations": done,
            "target": target,
        }
    at_50, at_500 = (results[n]["evaluations_per_cpu_second"] * int(n) for n in ("50", "500"))
    return {
        "per_campaign_count": results,
        "linear": round(at_500 / at_50, 2),
        "linear_target": POLICY_LINEAR_TARGET,
        "seconds_each": seconds,
        "core": "one (single thread, CPU time)",
    }


# -- 4. simulation throughput -----------------------------------------------------------------------


def simulation_throughput(sizes: list[int], moto_events: int) -> dict[str, Any]:
    """Events per second through `righttime simulate` on each engine, for generated journeys: the in-memory
    engine at every size in `sizes` (its rate should stay flat as the journey grows), moto at `moto_events`
    (it is 20-60 times slower), and whether both engines' output agreed on the journey they both ran."""
    from righttime_dev.journeys import journey_of_size, write_journey
    from righttime_dev.simulate import simulate

    def run(events: int, engine: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with tempfile.TemporaryDirectory() as folder:
            journey = write_journey(Path(folder) / "journey.jsonl", journey_of_size(events))
            started, cpu = time.perf_counter(), time.process_time()
            result = simulate(
                journey,
                template=ROOT / "template.yaml",
                campaigns=ROOT / "campaigns",
                templates=ROOT / "templates",
                engine_name=engine,
            )
            elapsed, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        return {
            "engine": engine,
            "events": result.events,
            "decisions": result.decisions,
            "seconds": round(elapsed, 2),
            "cpu_seconds": round(cpu_seconds, 2),
            "events_per_second": round(result.events / elapsed, 1),
            "events_per_cpu_second": round(result.events / max(cpu_seconds, 1e-9), 1),
        }, result.lines

    memory = []
    lines_at: dict[int, list[dict[str, Any]]] = {}
    for size in sizes:
        figures, lines = run(size, "memory")
        memory.append(figures)
        lines_at[size] = lines
    moto, moto_lines = run(moto_events, "moto")
    same = lines_at.get(moto_events)
    if same is None:
        same = run(moto_events, "memory")[1]
    rates = [m["events_per_cpu_second"] for m in memory]
    return {
        "memory": memory,
        "moto": moto,
        "speedup": round(memory[0]["events_per_cpu_second"] / max(moto["events_per_cpu_second"], 1e-9), 1),
        "flatness": round(min(rates) / max(rates), 2),
        "engines_agree": same == moto_lines,
    }


# -- 6. back-testing a million events -----------------------------------------------------------------------

#: a million events through `righttime simulate` in a quarter of an hour (issue 9)
BACKTEST_TARGET_EVENTS = 1_000_000
BACKTEST_TARGET_SECONDS = 15 * 60


def backtest(events: int, jobs: int) -> dict[str, Any]:
    """Wall time of `righttime simulate --jobs N` over a generated journey (bench/journey_generator.py: many
    customers and zones, a purchase mix, lines out of order and late arrivals), lines produced and merged as
    the command does but not printed. Generating the journey is not counted."""
    import resource

    from journey_generator import write  # bench/ is on sys.path: `make bench` runs this file as a script

    from righttime_dev.simulate import simulate

    with tempfile.TemporaryDirectory(prefix="righttime-backtest-") as folder:
        journey = write(Path(folder) / "journey.jsonl", events)
        before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        started = time.perf_counter()
        result = simulate(
            journey,
            template=ROOT / "template.yaml",
            campaigns=ROOT / "campaigns",
            templates=ROOT / "templates",
            jobs=jobs,
            keep_lines=False,
        )
        seconds = time.perf_counter() - started
        after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before, strict=True))
    per_second = result.events / seconds
    return {
        "events": result.events,
        "jobs": jobs,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "events_per_second": round(per_second, 1),
        "events_per_cpu_second": round(result.events / max(cpu, 1e-9), 1),
        "decisions": result.decisions,
        "sent": result.tally.outcomes.get("sent", 0),
        "seconds_for_target_events": round(BACKTEST_TARGET_EVENTS / per_second, 1),
        # What the same work takes when the processes have their cores to themselves: the CPU it cost, shared
        # by `jobs` cores. Beside the wall time, it tells a busy machine from a slow simulation.
        "seconds_for_target_events_on_idle_cores": round(
            cpu / result.events * BACKTEST_TARGET_EVENTS / min(jobs, os.cpu_count() or 1), 1
        ),
        "extrapolated": result.events != BACKTEST_TARGET_EVENTS,
        "target_seconds": BACKTEST_TARGET_SECONDS,
    }


# -- report ---------------------------------------------------------------------------------------


# -- 5. the largest batch ----------------------------------------------------------------------------------

#: API Gateway's integration timeout, and the ingest function's own (template.yaml)
API_GATEWAY_TIMEOUT_SECONDS = 29.0
INGEST_TIMEOUT_SECONDS = 10.0
#: An assumed SendMessageBatch round trip from Lambda to SQS FIFO in the same region, for the modelled figure
SQS_CALL_SECONDS = 0.02


def large_batch(messages: int) -> dict[str, Any]:
    """Time for the ingest handler to accept Segment's largest batch: `messages` small messages, under 500 KB.

    Measured twice: through the real handler on in-process moto, and through the real parse, lanes and
    SqsEventQueue with a client that answers each SendMessageBatch after SQS_CALL_SECONDS (what AWS would
    cost; moto's own per-call cost is not AWS's)."""
    import base64
    from typing import cast

    from righttime.adapters.queue import SqsEventQueue
    from righttime.core.clock import VirtualClock
    from righttime.stages.ingest import accept
    from righttime_dev.simulate import engine

    batch = [{"type": "track", "userId": f"c{i % 500}", "event": "E"} for i in range(messages)]
    body = json.dumps({"batch": batch}, separators=(",", ":")).encode()
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    with engine(
        "moto", ROOT / "template.yaml", ROOT / "campaigns", ROOT / "templates", VirtualClock(now)
    ) as (
        pipeline,
        key,
    ):
        auth = {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
        started = time.perf_counter()
        status, _, answer = pipeline.http("POST", "/v1/batch", auth, body)
        on_moto = time.perf_counter() - started
        assert status == 200, answer

    class _Sqs:
        calls = 0

        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            _Sqs.calls += 1
            time.sleep(SQS_CALL_SECONDS)
            return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    queue = SqsEventQueue(cast(Any, _Sqs()), "https://sqs.example/events.fifo")
    started = time.perf_counter()
    accept(
        "batch",
        body,
        content_encoding=None,
        authorization="Basic " + base64.b64encode(b"k:").decode(),
        received_at=now,
        is_valid_key=lambda _: True,
        enqueue=queue.send,
    )
    modelled = time.perf_counter() - started
    return {
        "messages": messages,
        "body_bytes": len(body),
        "seconds_on_moto": round(on_moto, 2),
        "seconds_at_modelled_sqs_latency": round(modelled, 2),
        "sqs_calls": _Sqs.calls,
        "sqs_call_seconds_assumed": SQS_CALL_SECONDS,
        "seconds_if_sent_one_call_at_a_time": round(_Sqs.calls * SQS_CALL_SECONDS, 2),
        "api_gateway_timeout_seconds": API_GATEWAY_TIMEOUT_SECONDS,
        "ingest_timeout_seconds": INGEST_TIMEOUT_SECONDS,
    }


# -- co-purchase learning and recommendations ----------------------------------------------------------------

#: basket sizes of the generated orders and how often each comes (products per order)
BASKET_SIZES = {1: 40, 2: 30, 3: 15, 4: 10, 5: 5}


def copurchase(orders: int, products: int = 500, carts: int = 300) -> dict[str, Any]:
    """What learning what is bought together costs per order, and what `recommendations()` reads per message:
    the real adapter on moto, metered item by item, with orders drawn from a Zipf-like popularity over
    `products` and basket sizes of BASKET_SIZES."""
    from billing import Meter, item_size  # bench/ is on sys.path: `make bench` runs this file as a script
    from moto import mock_aws

    from righttime.adapters.catalog import DynamoCatalog
    from righttime.core.catalog import Product
    from righttime.core.events import QueuedEvent, TrackMessage
    from righttime.core.profiles import CartItem, Profile
    from righttime.stages.catalog import learn_from_order
    from righttime.stages.recommend import Recommender

    rng = random.Random(12)
    ids = [f"p{n:04d}" for n in range(products)]
    popularity = [1 / (rank + 1) for rank in range(products)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with mock_aws():
        import boto3

        client = boto3.client("dynamodb", region_name="us-east-1")
        template = yaml_template()
        props = template["Resources"]["CatalogTable"]["Properties"]
        client.create_table(
            TableName="catalog",
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            LocalSecondaryIndexes=props["LocalSecondaryIndexes"],
            BillingMode="PAY_PER_REQUEST",
        )
        catalog = DynamoCatalog(client, "catalog")
        for n, product_id in enumerate(ids):
            stock = 0 if n % 10 == 9 else 20  # one product in ten sold out
            catalog.put_product(
                Product(
                    product_id=product_id,
                    name=f"Product {n}",
                    price=Decimal(10),
                    stock=stock,
                    updated_at=start,
                ),
                None,
            )
        current = ["learn"]
        meter = Meter(boto3.client("dynamodb", region_name="us-east-1"), current)  # its own reads: unmetered
        meter.watch(client)
        calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
        sizes = list(BASKET_SIZES)
        for n in range(orders):
            at = start + timedelta(minutes=n)
            size = rng.choices(sizes, weights=list(BASKET_SIZES.values()))[0]
            basket = list(dict.fromkeys(rng.choices(ids, weights=popularity, k=size)))
            lines = [{"product_id": p, "category": f"c{int(p[1:]) % 40}"} for p in basket]
            message = TrackMessage(
                event="Order Completed",
                userId=f"c{n}",
                messageId=f"m{n}",
                properties={"order_id": f"o{n}", "products": lines},
            )
            learn_from_order(QueuedEvent(message=message, received_at=at, occurred_at=at), catalog, at)
        learned = dict(calls)
        write_units = sum(meter.write_units.values())
        pairs_sizes = [
            item_size(item)
            for page in client.get_paginator("scan").paginate(TableName="catalog")  # the bench's own look
            for item in page["Items"]
            if item["sk"]["S"] == "#pairs"
        ]
        current[0] = "recommend"
        calls.clear()
        for n in range(carts):
            cart = [CartItem(product_id=p) for p in dict.fromkeys(rng.choices(ids, weights=popularity, k=3))]
            recommender = Recommender(catalog, Profile(customer_id=f"r{n}", cart=cart), {}, low_stock=5)
            recommender([line.model_dump() for line in cart], 3)
        read_units = sum(u for (fn, _), u in meter.read_units.items() if fn == "recommend")
    return {
        "orders": orders,
        "products": products,
        "calls_per_order": {op: round(count / orders, 3) for op, count in sorted(learned.items())},
        "write_units_per_order": round(write_units / orders, 3),
        "usd_per_million_orders": round(
            write_units / orders * PRICES["dynamodb_on_demand_per_million_write_units"], 2
        ),
        "pairs_items": len(pairs_sizes),
        "pairs_item_bytes_mean": round(statistics.mean(pairs_sizes)) if pairs_sizes else 0,
        "pairs_item_bytes_max": max(pairs_sizes, default=0),
        "recommendation_read_units_per_message": round(read_units / carts, 3),
        "recommendation_calls_per_message": {
            op: round(count / carts, 3) for op, count in sorted(calls.items())
        },
    }


def yaml_template() -> dict[str, Any]:
    from righttime_dev.local.cfn import load_template

    return load_template(ROOT / "template.yaml")


def _row(figure: str, value: str, target: str, ok: bool | None) -> str:
    mark = {True: "ok", False: "MISSED", None: ""}[ok]
    return f"{figure:<52} {value:>22}   {target:<26} {mark}"


def report(results: dict[str, Any]) -> list[str]:
    lines = [_row("figure", "value", "target", None), "-" * 110]
    cold = results.get("cold_start")
    if cold:
        lines.append(
            _row("cold start baseline (boto3 + 1 client + 1 call)", f"{cold['baseline_ms']} ms", "", None)
        )
        for name, figure in cold["handlers"].items():
            target = figure["target_ratio"]
            lines.append(
                _row(
                    f"cold start {name} (import + first call)",
                    f"{figure['ms']} ms = {figure['ratio']}x",
                    f"<= {target}x baseline" if target else "(no target)",
                    figure["ratio"] <= target if target else None,
                )
            )
            lines.append(
                f"    INIT {figure['init_ms']} ms + first call {figure['first_call_ms']} ms"
                f" ({len(figure['aws_calls'])} AWS calls, {figure['outcome']})"
            )
            heaviest = ", ".join(
                f"{i['module']} {i['cumulative_ms']}ms" for i in figure["heaviest_imports"]["init"][:3]
            )
            lines.append(f"    heaviest imports: {heaviest}")
            costs = ", ".join(f"{c['step']} {c['cumulative_ms']}ms" for c in figure["first_call_costs"][:3])
            lines.append(f"    first call: {costs}")
    calls = results.get("aws_calls")
    if calls:
        targets = {
            "ingest": ("<= 1 read + 1 write + 1 send", 1, 1),
            "evaluate": ("<= 1 read + 1 write", 1, 1),
            "sender": ("<= 1 read + 2 writes + 1 SES", 1, 2),
        }
        for name in ("ingest", "evaluate", "scheduler", "sender", "feedback", "sweeper", "due", "reports"):
            figure = calls["per_handler"][name]
            value = f"{figure['dynamodb_reads']}R {figure['dynamodb_writes']}W " + " ".join(
                f"{k.split(':')[1]}={v}" for k, v in figure["other"].items()
            )
            target = targets.get(name)
            ok = (
                None
                if target is None
                else (figure["dynamodb_reads"] <= target[1] and figure["dynamodb_writes"] <= target[2])
            )
            lines.append(
                _row(
                    f"AWS calls per {figure['per']}: {name}",
                    value[:22],
                    target[0] if target else ("create/delete per change" if name == "scheduler" else ""),
                    ok,
                )
            )
            if len(value) > 22:
                lines.append(f"    {value}")
        lines.append(_row("AWS calls per event, all handlers", str(calls["total_calls_per_event"]), "", None))
        for name, scenario in calls.get("scenarios", {}).items():
            cost = scenario["cost"]
            lines.append(
                _row(
                    f"$ per 1M events, 1/request, {name}",
                    f"${cost['usd_per_million_events']}",
                    f"<= ${COST_TARGET_ONE_PER_REQUEST}",
                    cost["usd_per_million_events"] <= COST_TARGET_ONE_PER_REQUEST,
                )
            )
            lines.append(
                _row(
                    f"$ per 1M events, 20/request, {name}",
                    f"${cost['usd_per_million_events_20_per_request']}",
                    f"<= ${COST_TARGET_TWENTY_PER_REQUEST}",
                    cost["usd_per_million_events_20_per_request"] <= COST_TARGET_TWENTY_PER_REQUEST,
                )
            )
            units = f"{cost['write_units_per_event']} write + {cost['read_units_per_event']} read units"
            sizes = ", ".join(f"{k} {v}" for k, v in scenario["item_sizes_bytes"].items())
            lines.append(f"    DynamoDB {units} per event; items (bytes billed): {sizes}")
        lines.append(
            f"    line items (mature profiles, {calls['campaigns']} campaigns, 1 event per request):"
        )
        lines.append("    " + ", ".join(f"{k} ${v}" for k, v in calls["cost"]["breakdown_usd"].items()))
        lines.append(f"    prices: us-east-1 list prices of {PRICES_DATE} (bench/bench.py)")
    policy = results.get("policy")
    if policy:
        for count, figure in policy["per_campaign_count"].items():
            target = figure["target"]
            lines.append(
                _row(
                    f"policy evaluations per CPU-second, {count} campaigns",
                    str(figure["evaluations_per_cpu_second"]),
                    f">= {target:,}/s per core" if target else "(no target)",
                    figure["evaluations_per_cpu_second"] >= target if target else None,
                )
            )
        lines.append(
            _row(
                "policy linear: (evals/s x campaigns) 500 / 50",
                str(policy["linear"]),
                f">= {policy['linear_target']} (1.0 = linear)",
                policy["linear"] >= policy["linear_target"],
            )
        )
    simulation = results.get("simulation")
    if simulation:
        for figure in simulation["memory"]:
            lines.append(
                _row(
                    f"simulate in memory: events per CPU-second, {figure['events']} events",
                    str(figure["events_per_cpu_second"]),
                    ">= 300",
                    figure["events_per_cpu_second"] >= 300,
                )
            )
        moto = simulation["moto"]
        lines.append(
            _row(
                f"simulate on moto: events per CPU-second, {moto['events']} events",
                str(moto["events_per_cpu_second"]),
                "",
                None,
            )
        )
        lines.append(_row("simulate: memory / moto speed", f"{simulation['speedup']}x", "", None))
        lines.append(
            _row(
                "simulate in memory: slowest / fastest size",
                str(simulation["flatness"]),
                ">= 0.8 (flat as it grows)",
                simulation["flatness"] >= 0.8,
            )
        )
        lines.append(
            _row(
                f"engines agree on the {moto['events']}-event journey",
                str(simulation["engines_agree"]),
                "True",
                bool(simulation["engines_agree"]),
            )
        )
    pairs = results.get("copurchase")
    if pairs:
        lines.append(
            _row(
                f"co-purchase learning per order ({pairs['orders']:,} orders)",
                f"{pairs['write_units_per_order']} WU = ${pairs['usd_per_million_orders']}/1M",
                "(no target)",
                None,
            )
        )
        lines.append(f"    calls per order: {pairs['calls_per_order']}")
        lines.append(
            _row(
                "  pairs item size, mean / max (bounded by the prune)",
                f"{pairs['pairs_item_bytes_mean']} / {pairs['pairs_item_bytes_max']} B",
                "< 400 KB",
                pairs["pairs_item_bytes_max"] < 400 * 1024,
            )
        )
        lines.append(
            _row(
                "recommendations() per message (3 cart lines)",
                f"{pairs['recommendation_read_units_per_message']} RU",
                "(no target)",
                None,
            )
        )
    batch = results.get("large_batch")
    if batch:
        lines.append(
            _row(
                f"ingest accepts {batch['messages']:,} messages ({batch['body_bytes'] // 1024} KB), moto",
                f"{batch['seconds_on_moto']} s",
                f"< {batch['api_gateway_timeout_seconds']:.0f} s (API Gateway)",
                batch["seconds_on_moto"] < batch["api_gateway_timeout_seconds"],
            )
        )
        lines.append(
            _row(
                f"  the same at {batch['sqs_call_seconds_assumed'] * 1000:.0f} ms per SQS call",
                f"{batch['seconds_at_modelled_sqs_latency']} s",
                f"< {batch['ingest_timeout_seconds']:.0f} s (ingest timeout)",
                batch["seconds_at_modelled_sqs_latency"] < batch["ingest_timeout_seconds"],
            )
        )
        lines.append(
            f"    {batch['sqs_calls']} SendMessageBatch calls; one at a time they would take "
            f"{batch['seconds_if_sent_one_call_at_a_time']} s"
        )
    run = results.get("backtest")
    if run:
        million = run["seconds_for_target_events"]
        label = f"back-test {BACKTEST_TARGET_EVENTS:,} events, --jobs {run['jobs']}"
        lines.append(
            _row(
                label + (f" (from {run['events']:,})" if run["extrapolated"] else ""),
                f"{million / 60:.1f} min",
                f"<= {run['target_seconds'] // 60} min",
                million <= run["target_seconds"],
            )
        )
        lines.append(
            _row(
                f"back-test events/s, --jobs {run['jobs']} (wall)",
                str(run["events_per_second"]),
                f">= {BACKTEST_TARGET_EVENTS / run['target_seconds']:,.0f}",
                run["events_per_second"] >= BACKTEST_TARGET_EVENTS / run["target_seconds"],
            )
        )
        idle = run["seconds_for_target_events_on_idle_cores"]
        lines.append(
            _row(
                f"  the same, CPU-bound on {run['jobs']} idle cores (estimate)",
                f"{idle / 60:.1f} min",
                f"<= {run['target_seconds'] // 60} min",
                idle <= run["target_seconds"],
            )
        )
        lines.append(
            f"    {run['events']:,} events in {run['seconds']} s, {run['cpu_seconds']} CPU-s "
            f"({run['events_per_cpu_second']} events per CPU-second), {run['decisions']:,} decisions, "
            f"{run['sent']:,} sent"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="cold-start runs per handler (median)")
    parser.add_argument("--customers", type=int, default=150, help="customers in the AWS-calls mix")
    parser.add_argument("--orders", type=int, default=3_000, help="orders in the co-purchase measurement")
    parser.add_argument("--policy-seconds", type=float, default=2.0)
    parser.add_argument(
        "--simulation-sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1_000, 5_000, 20_000],
        help="journey sizes (events) for the in-memory engine, comma-separated",
    )
    parser.add_argument("--moto-events", type=int, default=1_000, help="journey size for the moto engine")
    parser.add_argument("--batch-messages", type=int, default=10_000, help="messages in the largest batch")
    parser.add_argument(
        "--backtest-events", type=int, default=BACKTEST_TARGET_EVENTS, help="journey size for the back-test"
    )
    parser.add_argument("--backtest-jobs", type=int, default=2, help="processes for the back-test")
    parser.add_argument(
        "--only",
        choices=["cold_start", "aws_calls", "copurchase", "policy", "simulation", "large_batch", "backtest"],
        action="append",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    only = set(
        args.only
        or ["cold_start", "aws_calls", "copurchase", "policy", "simulation", "large_batch", "backtest"]
    )
    results: dict[str, Any] = {
        "measured_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),  # a report's date, not logic
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "cold_start": lambda: cold_start(args.runs),
        "aws_calls": lambda: aws_calls(args.customers),
        "copurchase": lambda: copurchase(args.orders),
        "policy": lambda: policy_throughput(args.policy_seconds),
        "simulation": lambda: simulation_throughput(args.simulation_sizes, args.moto_events),
        "large_batch": lambda: large_batch(args.batch_messages),
        "backtest": lambda: backtest(args.backtest_events, args.backtest_jobs),
    }
    for name, step in steps.items():
        if name in only:
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            results[name] = step()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(report(results)))
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
