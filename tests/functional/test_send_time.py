"""Optimal send time through the real handlers on moto: opens SES reports at 19:xx on a customer's clock make
the next `send_time: optimal` promotion wait for 19:00 there, the decision says why, and the reports function
counts those opens in the population's hours."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from righttime.core.clock import VirtualClock
from righttime.wiring.root import root
from righttime_dev.local.pipeline import Pipeline
from righttime_dev.local.ses_events import Fate
from tests.conftest import ROOT, TEMPLATE, WRITE_KEY
from tests.functional.conftest import UNSUBSCRIBE_KEYS, post

#: a receipt sent at once (transactional: no caps), to build an engagement history
NEWSLETTER = """
id: newsletter_receipt
name: Newsletter receipt
kind: transactional
trigger: {event: Newsletter Requested}
timing: {delay: 0s}
template: welcome
"""
#: the promotion under test
OFFER = """
id: evening_offer
name: Offer, at the customer's best hour
trigger: {event: Offer Unlocked}
timing:
  delay: 0s
  send_time: {mode: optimal, max_delay: 24h}
template: welcome
"""


@pytest.fixture
def optimal_pipeline(
    moto_endpoint: str, isolated_env: None, clock: VirtualClock, tmp_path: Path
) -> Iterator[Pipeline]:
    """The stack on moto, with the shipped campaigns and the two above."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    campaigns = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", campaigns)
    (campaigns / "newsletter_receipt.yaml").write_text(NEWSLETTER, encoding="utf-8")
    (campaigns / "evening_offer.yaml").write_text(OFFER, encoding="utf-8")
    yield Pipeline.start(
        TEMPLATE,
        {"SenderAddress": "shop@example.com"},
        clock,
        aws={
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        },
        app={
            "CAMPAIGNS_DIR": str(campaigns),
            "TEMPLATES_DIR": str(ROOT / "templates"),
            "RIGHTTIME_WRITE_KEYS": WRITE_KEY,
            "WRITE_KEYS_PARAMETER": "",
            "ADMIN_KEYS_PARAMETER": "",
            "RIGHTTIME_UNSUBSCRIBE_KEYS": UNSUBSCRIBE_KEYS,
            "UNSUBSCRIBE_KEYS_PARAMETER": "",
        },
        outbox=tmp_path / "outbox",
    )


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    # Paris is UTC+1 in November
    return datetime(2026, 11, day, hour - 1, minute, tzinfo=UTC)


def _customer(pipeline: Pipeline, user: str) -> None:
    traits = {"email": f"{user}@example.com", "timezone": "Europe/Paris"}
    post(pipeline, "/v1/identify", {"userId": user, "traits": traits})


def _opened_at_seven_pm(pipeline: Pipeline, clock: VirtualClock, user: str, days: range) -> None:
    """A receipt at 19:05 on the customer's clock on each of `days`, opened at once."""
    for day in days:
        clock.set(paris(day, 19, 5))
        post(pipeline, "/v1/track", {"userId": user, "event": "Newsletter Requested"})
        pipeline.run_until_idle()
        clock.set(paris(day, 19, 6))  # the schedule fires
        pipeline.run_until_idle()
        pipeline.simulate_ses(f"{user}@example.com", Fate.OPEN)
        pipeline.run_until_idle()


def _scheduled(user: str, campaign: str) -> dict[str, Any]:
    (decision,) = [d for d in root().store.decisions(user, campaign) if d.outcome.value == "scheduled"]
    return decision.model_dump(mode="json")


def test_an_optimal_promotion_waits_for_the_hour_the_customer_opens_mail(
    optimal_pipeline: Pipeline, clock: VirtualClock
) -> None:
    pipeline = optimal_pipeline
    # Given Ada in Paris, who opened five messages at about 19:05 her time, and Bob, who opened none
    _customer(pipeline, "ada")
    _customer(pipeline, "bob")
    _opened_at_seven_pm(pipeline, clock, "ada", range(21, 26))
    assert len(pipeline.sent) == 5

    # When both unlock the offer at 10:00 on 26 November, Paris time
    clock.set(paris(26, 10))
    for user in ("ada", "bob"):
        post(pipeline, "/v1/track", {"userId": user, "event": "Offer Unlocked"})
    pipeline.run_until_idle()
    clock.set(paris(26, 10, 1))
    pipeline.run_until_idle()

    # Then Ada's waits for 19:00 her time, and the decision says why: her five opens, at 19:xx
    ada = _scheduled("ada", "evening_offer")
    assert ada["outcome"] == "scheduled"
    # (at her own offset within the policy's 5-minute release spread, as everyone who reads at 19:00)
    assert paris(26, 19) <= datetime.fromisoformat(ada["send_at"]) < paris(26, 19, 5)
    (optimised,) = [r for r in ada["reasons"] if r["code"] == "send_time_optimised"]
    assert optimised["detail"] == {
        "hour": 19,
        "evidence": 5,
        "fallback": "customer",
        "timezone": "Europe/Paris",
        "max_delay": "1d",
        "until": paris(26, 19).isoformat(),
    }
    # And Bob's goes now: he has no opens, and five opens in the whole population are too few to go by
    bob = _scheduled("bob", "evening_offer")
    (unmoved,) = [r for r in bob["reasons"] if r["code"] == "send_time_optimised"]
    assert unmoved["detail"]["fallback"] == "none" and unmoved["detail"]["evidence"] == 0
    assert len(pipeline.sent) == 6

    # And the reports function counted Ada's opens in the population's 19:00 hour of November
    hours = root().population_hours()
    assert hours is not None and hours.counts[19] == 5 and hours.total == 5

    # And at 19:00 her time the sender sends it
    clock.set(paris(26, 19, 6))
    pipeline.run_until_idle()
    assert len(pipeline.sent) == 7
    outcomes = [d.outcome.value for d in root().store.decisions("ada", "evening_offer")]
    assert outcomes[:2] == ["scheduled", "sent"]
