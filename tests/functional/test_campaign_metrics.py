"""The funnel per campaign in CloudWatch: the reports function's metrics carry a `Campaign` dimension, and the
stack's dashboard graphs exactly those metrics."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from righttime.wiring.root import from_environment, install
from righttime_dev.local.cfn import load_template, resolve
from righttime_dev.local.pipeline import LambdaContext, Pipeline
from tests.conftest import TEMPLATE
from tests.functional.conftest import sample_event

#: the funnel metrics docs/reporting.md lists
PUBLISHED = {"Triggered", "Sent", "Delivered", "Opened", "Clicked", "Converted", "Unsubscribed", "Complained"}


def _emf_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_each_campaign_gets_its_funnel_metrics_with_a_campaign_dimension(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # Given metrics published (as in AWS), and the sample batch: a cart reminder sent, and an order credited
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    install(from_environment({**pipeline.environment, "CAMPAIGN_METRICS": "true"}, clock=pipeline.clock))
    capsys.readouterr()
    # When the reports function counts it
    handler = pipeline.handlers["ReportsFunction"]
    assert handler(sample_event("reports-stream.json"), LambdaContext(function_name="ReportsFunction")) == {
        "batchItemFailures": []
    }
    # Then one EMF record names the campaign, with what it counted
    records = [r for r in _emf_lines(capsys.readouterr().out) if r.get("Campaign") == "cart_abandonment"]
    (record,) = records
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "righttime"
    assert sorted(directive["Dimensions"][0]) == ["Campaign", "service"]
    assert (record["Sent"], record["Converted"]) == ([1.0], [1.0])
    assert {m["Name"] for m in directive["Metrics"]} <= PUBLISHED


def test_campaign_metrics_can_be_turned_off(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # Given a stack deployed with CampaignMetrics=false
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    install(from_environment({**pipeline.environment, "CAMPAIGN_METRICS": "false"}, clock=pipeline.clock))
    capsys.readouterr()
    # When the reports function counts a batch
    handler = pipeline.handlers["ReportsFunction"]
    handler(sample_event("reports-stream.json"), LambdaContext(function_name="ReportsFunction"))
    # Then no metric carries a campaign (the function's own metric still goes out)
    records = _emf_lines(capsys.readouterr().out)
    assert records and not any("Campaign" in r for r in records)


def test_the_dashboard_graphs_the_metrics_the_reports_function_publishes():
    # Given the template's dashboard, with its region filled in as CloudFormation would
    resources = load_template(TEMPLATE)["Resources"]
    body = resources["CampaignDashboard"]["Properties"]["DashboardBody"]
    dashboard = json.loads(resolve(body, lambda name, _attribute: {"AWS::Region": "us-east-1"}[name]))
    # Then every metric it searches for is one the function publishes, by campaign
    expressions = [
        metric[0]["expression"]
        for widget in dashboard["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    ]
    searched = {re.search(r'MetricName="(\w+)"', e).group(1) for e in expressions}  # type: ignore[union-attr]
    assert searched and searched <= PUBLISHED
    assert all("{righttime,Campaign,service}" in e for e in expressions)
