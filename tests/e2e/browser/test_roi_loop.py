"""The whole loop in local mode, over real HTTP, as issue 11's "done when" says: a cart reminder is sent,
opened and clicked, and the order that follows is credited with its revenue in the report; a held-out
customer is never mailed the reminder, but their order is counted against the holdout; a one-click POST
unsubscribes, and the next reminder is suppressed. `righttime report --html` writes the page, and a real
headless Chromium shows the same numbers as the JSON."""

from __future__ import annotations

import email
import email.utils
import json
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from righttime.core.holdout import held_out
from righttime.wiring.root import root
from righttime_dev.cli import main, post_json
from righttime_dev.local.server import LocalRighttime
from tests.conftest import ROOT, WRITE_KEY
from tests.e2e.browser.conftest import WINDOW, save_screenshot
from tests.e2e.browser.test_report_page import json_figures, same_figure
from tests.e2e.conftest import local_options, wait_for

pytestmark = pytest.mark.e2e

CAMPAIGN = "cart_abandonment"
HOLDOUT = Decimal(50)
ADMIN_KEY = "loop-admin-key"


@pytest.fixture
def local_with_holdout(isolated_env: None, tmp_path: Path) -> Iterator[LocalRighttime]:
    """Local mode (3600x clock), the shipped campaigns, the cart reminder holding out half its customers."""
    campaigns = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", campaigns)
    cart = campaigns / f"{CAMPAIGN}.yaml"
    cart.write_text(cart.read_text() + f"\nholdout: {HOLDOUT}%\n")
    with LocalRighttime(local_options(tmp_path, admin_key=ADMIN_KEY, campaigns=campaigns)) as stack:
        yield stack
    assert stack.errors == [], f"local pipeline raised: {stack.errors!r}"


def _customer(held: bool) -> str:
    return next(f"loop-{n}" for n in range(1000) if held_out(CAMPAIGN, f"loop-{n}", HOLDOUT) is held)


def _send(local: LocalRighttime, message: dict[str, Any]) -> None:
    assert post_json(f"{local.url}/v1/batch", {"batch": [message]}, WRITE_KEY)[0] == 200


def _to(raw: bytes) -> str:
    return email.utils.parseaddr(str(email.message_from_bytes(raw)["To"]))[1]


def _outcomes(user: str) -> list[tuple[str, list[str]]]:
    return [(d.outcome.value, d.reason_codes) for d in root().store.decisions(user, CAMPAIGN)]


def _report(local: LocalRighttime) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{local.url}/v1/reports/campaigns", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _line(report: dict[str, Any]) -> dict[str, Any]:
    return next((line for line in report["campaigns"] if line["id"] == CAMPAIGN), {"counts": {}})


def test_send_open_click_order_holdout_and_unsubscribe_add_up_in_the_report_a_browser_shows(
    local_with_holdout: LocalRighttime, chrome: WebDriver, tmp_path: Path
):
    local = local_with_holdout
    mailed, held = _customer(held=False), _customer(held=True)
    # Given two customers who leave a cart: one gets the reminder, the other is in the holdout
    for user in (mailed, held):
        _send(local, {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}})
        _send(
            local,
            {"type": "track", "userId": user, "event": "Product Added", "properties": {"product_id": "p"}},
        )
    assert wait_for(lambda: any(o == "sent" for o, _ in _outcomes(mailed)), timeout=60)
    assert wait_for(lambda: any(o == "held_out" for o, _ in _outcomes(held)))

    assert wait_for(lambda: any(_to(s.raw) == f"{mailed}@example.com" for s in local.pipeline.sent))

    # When the mailed customer opens the reminder and clicks it (SES's events, played by local mode)
    for fate in ("open", "click"):
        query = urllib.parse.urlencode(
            {"address": f"{mailed}@example.com", "link": "https://shop.example/cart"}
        )
        request = urllib.request.Request(f"{local.url}/local/ses/{fate}?{query}", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202 and json.loads(response.read())["reported_for"] is not None
    # And both customers order
    for user, revenue in ((mailed, "49.90"), (held, "20.00")):
        order = {"order_id": f"order-{user}", "revenue": revenue, "currency": "EUR"}
        _send(local, {"type": "track", "userId": user, "event": "Order Completed", "properties": order})
    assert wait_for(lambda: all(any(o == "attributed" for o, _ in _outcomes(u)) for u in (mailed, held)))

    # And the mailed customer's mail client POSTs the reminder's one-click link
    (reminder,) = [
        s
        for s in local.pipeline.sent
        if email.message_from_bytes(s.raw)["To"].endswith(f"{mailed}@example.com")
        and "cart" in str(email.message_from_bytes(s.raw, policy=default_policy)["Subject"]).lower()
    ]
    link = email.message_from_bytes(reminder.raw, policy=default_policy)["List-Unsubscribe"].strip("<>")
    post = urllib.request.Request(
        link,
        data=b"List-Unsubscribe=One-Click",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(post, timeout=10) as response:
        assert response.status == 200
    # And leaves another cart
    _send(
        local,
        {
            "type": "track",
            "userId": mailed,
            "event": "Product Added",
            "properties": {"product_id": "q"},
            "messageId": "second-cart",
        },
    )

    # Then the next reminder is suppressed, because they unsubscribed
    assert wait_for(lambda: any(o == "suppressed" and "unsubscribed" in r for o, r in _outcomes(mailed)))
    # And the held-out customer was never sent the reminder
    assert not any(o == "sent" for o, _ in _outcomes(held))
    # And the report counts the whole loop
    wanted = {
        "sent": 1,
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "converted": 1,
        "held_out": 1,
        "held_out_converted": 1,
        "unsubscribed": 1,
    }

    def counted() -> dict[str, int]:
        return {k: _line(_report(local))["counts"].get(k) for k in wanted}

    assert wait_for(lambda: counted() == wanted), counted()
    line = _line(_report(local))
    assert line["revenue"] == {"EUR": "49.90"} and line["held_out_revenue"] == {"EUR": "20.00"}
    assert line["suppressed_by_reason"].get("unsubscribed", 0) >= 1
    assert line["lift"]["conclusion"] == "too_small"

    # When the marketer writes the report page with the CLI, and opens it in a browser
    page, answer = tmp_path / "report.html", tmp_path / "report.json"
    assert main(["report", "--url", local.url, "--admin-key", ADMIN_KEY, "--html", str(page)]) == 0
    assert main(["report", "--url", local.url, "--admin-key", ADMIN_KEY, "--json"]) == 0
    chrome.get(page.as_uri())
    height = int(chrome.execute_script("return document.documentElement.scrollHeight"))
    chrome.set_window_size(WINDOW[0], min(max(height, WINDOW[1]), 16_000))
    save_screenshot(chrome, "roi-loop-report")
    shown = {
        element.get_attribute("data-figure"): element.text
        for element in chrome.find_elements(By.CSS_SELECTOR, "[data-figure]")
    }

    # Then every figure of the cart reminder on the page is the API's
    document = _report(local)
    answer.write_text(json.dumps(document))
    expected = {k: v for k, v in json_figures(document).items() if k.startswith(f"{CAMPAIGN}:")}
    assert expected and all(same_figure(shown[key], value) for key, value in expected.items()), [
        (key, shown.get(key), value)
        for key, value in expected.items()
        if not same_figure(shown.get(key, ""), value)
    ]
    section = chrome.find_element(By.CSS_SELECTOR, f'section.campaign[data-campaign="{CAMPAIGN}"]')
    assert "Sample too small to conclude" in section.text
