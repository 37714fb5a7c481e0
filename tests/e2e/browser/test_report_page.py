"""The HTML campaign report in a real headless Chromium, opened from a file as a marketer opens the one
`righttime report --html` wrote: every figure the page shows equals the report's JSON, a too-small holdout
says so, and the page loads nothing from anywhere."""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from righttime.core.report import build_report
from righttime_dev.report_html import render_html
from tests.e2e.browser.conftest import WINDOW, save_screenshot

pytestmark = pytest.mark.e2e

#: a screenshot taller than this is cut off (Chromium's own limit on a surface is 16384 px)
MAX_HEIGHT = 16_000

# Counter rows as the report store keeps them: (UTC day, campaign, counters) over three days.
ROWS: list[tuple[str, str, dict[str, int | Decimal]]] = [
    # A cart reminder with a 10 % holdout big enough to show it sells: 10 % against 4 %.
    (
        "2026-11-02",
        "cart_abandonment",
        {
            "triggered": 1300, "scheduled": 1200, "held_out": 120, "sent": 1100, "delivered": 1080,
            "opened": 520, "clicked": 160, "bounced": 12, "complained": 1, "unsubscribed": 4,
            "converted": 110, "held_out_converted": 5, "suppressed": 60, "suppressed:frequency_cap": 45,
            "suppressed:unsubscribed": 15, "deferred": 30, "deferred:quiet_hours": 30,
            "revenue:EUR": Decimal("5405.50"), "revenue:USD": Decimal("812.00"),
            "held_out_revenue:EUR": Decimal("241.90"),
        },
    ),
    (
        "2026-11-03",
        "cart_abandonment",
        {
            "triggered": 800, "scheduled": 760, "held_out": 80, "sent": 700, "delivered": 690,
            "opened": 300, "clicked": 90, "converted": 72, "refunded": 2, "held_out_converted": 3,
            "suppressed": 20, "suppressed:frequency_cap": 20, "revenue:EUR": Decimal("3320.10"),
            "held_out_revenue:EUR": Decimal("120.00"),
        },
    ),
    # A browse reminder whose holdout is still tiny: nothing can be concluded.
    (
        "2026-11-03",
        "browse_abandonment",
        {
            "triggered": 70, "scheduled": 64, "held_out": 6, "sent": 60, "delivered": 59, "opened": 25,
            "clicked": 7, "converted": 4, "revenue:USD": Decimal("199.99"),
        },
    ),
    # A price-drop alert without a holdout.
    (
        "2026-11-04",
        "price_drop",
        {
            "triggered": 320, "scheduled": 310, "sent": 300, "delivered": 296, "opened": 140,
            "clicked": 41, "bounced": 4, "converted": 12, "revenue:EUR": Decimal("1049.00"),
            "deferred": 10, "deferred:quiet_hours": 8, "deferred:send_window": 2,
        },
    ),
    # A win-back program: customers enter it (some held out), and its two steps send.
    ("2026-11-02", "win_back", {"triggered": 460, "entered": 400, "held_out": 60, "held_out_converted": 5}),
    (
        "2026-11-02",
        "win_back--v1--we_miss_you",
        {
            "triggered": 400, "scheduled": 400, "sent": 390, "delivered": 385, "opened": 150,
            "clicked": 40, "converted": 18, "suppressed": 10, "suppressed:unsubscribed": 10,
            "revenue:EUR": Decimal("990.00"),
        },
    ),
    (
        "2026-11-04",
        "win_back--v1--last_chance",
        {
            "triggered": 220, "scheduled": 220, "sent": 215, "delivered": 212, "opened": 70,
            "clicked": 15, "converted": 12, "unsubscribed": 3, "revenue:EUR": Decimal("480.00"),
            "revenue:USD": Decimal("75.25"),
        },
    ),
]  # fmt: skip


@pytest.fixture
def report() -> dict[str, Any]:
    built = build_report(
        ROWS,
        date(2026, 11, 1),
        date(2026, 11, 7),
        datetime(2026, 11, 8, 6, tzinfo=UTC),
        programs=["win_back"],
    )
    return built.document()


def test_every_figure_on_the_page_equals_the_report_json(
    report: dict[str, Any], chrome: WebDriver, tmp_path: Path
):
    # Given the report of four campaigns (one a program with two steps): one with a lift it can show, one
    # with a holdout too small to conclude, one with no holdout, in two currencies
    conclusions = {line["id"]: line["lift"]["conclusion"] for line in report["campaigns"]}
    assert conclusions["cart_abandonment"] == "higher"
    assert conclusions["browse_abandonment"] == "too_small"
    assert conclusions["price_drop"] == "no_holdout"
    assert set(report["totals"]["revenue"]) == {"EUR", "USD"}
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")

    # When a marketer opens the file in a browser
    chrome.get(page.as_uri())
    _fit_window_to_page(chrome)
    shown = [
        (element.get_attribute("data-figure") or "", element.text)
        for element in chrome.find_elements(By.CSS_SELECTOR, "[data-figure]")
    ]
    save_screenshot(chrome, "campaign-report")

    # Then each figure's visible text is the JSON's number, and every number of the JSON is shown
    expected = json_figures(report)
    assert shown, "the page shows no figure"
    mismatches = [
        (key, text, expected.get(key, "<not in the JSON>"))
        for key, text in shown
        if key not in expected or not same_figure(text, expected[key])
    ]
    assert mismatches == []
    assert set(expected) - {key for key, _ in shown} == set()


def test_a_too_small_holdout_says_so_where_the_campaign_is_shown(
    report: dict[str, Any], chrome: WebDriver, tmp_path: Path
):
    # Given the report, whose browse reminder has a holdout of 6 customers
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")

    # When it is opened in a browser
    chrome.get(page.as_uri())

    # Then the browse reminder's section says in words that nothing can be concluded, and the others don't
    sections = {
        section.get_attribute("data-campaign"): section
        for section in chrome.find_elements(By.CSS_SELECTOR, "section.campaign")
    }
    verdict = sections["browse_abandonment"].find_element(By.CSS_SELECTOR, ".lift .verdict")
    assert verdict.is_displayed()
    assert "Sample too small to conclude" in verdict.text
    assert "Sample too small to conclude" not in sections["cart_abandonment"].text
    # And the steps of the program are shown inside it, below its own figures
    steps = sections["win_back"].find_elements(By.CSS_SELECTOR, ".steps section.step")
    assert [step.get_attribute("data-campaign") for step in steps] == [
        "win_back--v1--last_chance",
        "win_back--v1--we_miss_you",
    ]
    assert all(step.is_displayed() for step in steps)


def test_the_page_loads_nothing_from_anywhere(report: dict[str, Any], chrome: WebDriver, tmp_path: Path):
    # Given the report written to a file
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")

    # When the browser opens it
    chrome.get(page.as_uri())

    # Then it fetched no resource (no stylesheet, font, image or script) beyond the page itself
    assert chrome.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert chrome.title == "Campaign report, 2026-11-01 to 2026-11-07"


def _fit_window_to_page(driver: WebDriver) -> None:
    """Make the window as tall as the page, so that the screenshot shows all of it."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(WINDOW[0], min(max(height, WINDOW[1]), MAX_HEIGHT))


def json_figures(report: dict[str, Any]) -> dict[str, Any]:
    """Every number in the report JSON, under the `data-figure` key the page is to show it with."""
    figures: dict[str, Any] = {"@report:from": report["from"], "@report:to": report["to"]}
    figures["@report:generated_at"] = report["generated_at"]
    totals = report["totals"]
    figures.update(_amounts("@totals", totals["counts"], totals["revenue"], totals["held_out_revenue"]))

    def add(line: dict[str, Any]) -> None:
        owner = line["id"]
        figures.update(_amounts(owner, line["counts"], line["revenue"], line["held_out_revenue"]))
        for field in ("suppressed_by_reason", "deferred_by_reason"):
            figures.update({f"{owner}:{field}.{reason}": n for reason, n in line[field].items()})
        lift = line["lift"]
        for name in ("exposed", "exposed_converted", "held_out", "held_out_converted"):
            figures[f"{owner}:lift.{name}"] = lift[name]
        for name in ("exposed_rate", "held_out_rate"):
            figures[f"{owner}:lift.{name}"] = ("rate", lift[name])
        figures[f"{owner}:lift.difference"] = ("points", lift["difference"])
        if lift["ci95"] is not None:
            figures[f"{owner}:lift.ci95_low"] = ("points", lift["ci95"][0])
            figures[f"{owner}:lift.ci95_high"] = ("points", lift["ci95"][1])
        stages = ["entered"] if line["kind"] == "program" else ["triggered", "scheduled"]
        stages += ["sent", "delivered", "opened", "clicked", "converted"]
        first = line["counts"][stages[0]]
        for stage in stages:
            count = line["counts"][stage]
            figures[f"{owner}:funnel.{stage}"] = count
            figures[f"{owner}:funnel.{stage}.share"] = ("share", count / first if first else None)
        for step in line["steps"]:
            add(step)

    for line in report["campaigns"]:
        add(line)
    return figures


def _amounts(
    owner: str, counts: dict[str, int], revenue: dict[str, str], held: dict[str, str]
) -> dict[str, Any]:
    found: dict[str, Any] = {f"{owner}:{name}": n for name, n in counts.items()}
    found.update({f"{owner}:revenue.{currency}": ("money", a, currency) for currency, a in revenue.items()})
    found.update(
        {f"{owner}:held_out_revenue.{currency}": ("money", a, currency) for currency, a in held.items()}
    )
    return found


def same_figure(text: str, value: Any) -> bool:
    """Whether the page's `text` shows the JSON's `value` (within the rounding the page's format allows)."""
    if isinstance(value, str):
        return text == value
    if isinstance(value, int):
        return text.replace(",", "").isdigit() and int(text.replace(",", "")) == value
    kind, *rest = value
    if kind == "money":
        amount, currency = rest
        number, _, shown_currency = text.partition(" ")
        return shown_currency == currency and Decimal(number.replace(",", "")) == Decimal(amount)
    (fraction,) = rest
    if fraction is None:
        return text == "n/a"
    # rates: "10.00%" (two decimals); differences: "+6.3 pp" and shares: "83.3%" (one decimal)
    number = float(text.removesuffix(" pp").removesuffix("%"))
    tolerance = 0.00005 if kind == "rate" else 0.0005
    return math.isclose(number / 100, fraction, abs_tol=tolerance + 1e-12)


def test_the_page_prints_every_campaign_without_its_links(
    report: dict[str, Any], chrome: webdriver.Chrome, tmp_path: Path
):
    # Given the report opened in a browser
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    chrome.get(page.as_uri())

    # When it is laid out for print, and printed
    chrome.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    pdf = base64.b64decode(chrome.print_page())

    # Then every campaign and step is on paper, the list of links is not, and the PDF has pages
    sections = chrome.find_elements(By.CSS_SELECTOR, "section.campaign")
    assert len(sections) == 6
    assert all(section.is_displayed() for section in sections)
    assert not chrome.find_element(By.CSS_SELECTOR, "nav").is_displayed()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) > 1
