"""The preference page behind a promotional e-mail's unsubscribe link, in a real headless Chromium, served by
`righttime local` over real HTTP: what a customer sees, ticks and saves."""

from __future__ import annotations

import email
import json
import urllib.request
from email.policy import default as default_policy
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from righttime.wiring.root import root
from righttime_dev.cli import post_json
from righttime_dev.local.server import LocalRighttime
from tests.conftest import WRITE_KEY
from tests.e2e.browser.conftest import save_screenshot
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

#: campaigns/policy.yaml `topics`, in the order the page lists them
TOPICS = {
    "reminders": "Reminders about what you left in your cart or looked at",
    "offers": "Offers, gifts and news from the shop",
    "recommendations": "Suggestions after an order, and requests for reviews",
}


def test_a_customer_unticks_a_topic_by_keyboard_and_its_reminders_stop(
    local: LocalRighttime, chrome: WebDriver
):
    # Given a customer who got a cart reminder (topic: reminders) with an unsubscribe link
    link = _reminder_link(local, "pia")

    # When they open the link in a browser
    chrome.get(link)

    # Then they see their preferences: a page in English with a title, and every topic as a labelled,
    # ticked checkbox
    assert chrome.title == "Your e-mail preferences"
    assert chrome.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    boxes = chrome.find_elements(By.CSS_SELECTOR, "input[type=checkbox]")
    assert [box.get_attribute("value") for box in boxes] == list(TOPICS)
    for box in boxes:
        label = chrome.find_element(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']")
        assert label.text == TOPICS[str(box.get_attribute("value"))]
        assert box.accessible_name == label.text  # what a screen reader announces
        assert box.is_selected()
    # And each box is big enough to hit with a finger (WCAG 2.5.8: 24 by 24 CSS pixels), and the two buttons
    # stand apart, so "Unsubscribe from everything" is not pressed when aiming at "Save my choices"
    for box in boxes:
        assert box.size["width"] >= 24 and box.size["height"] >= 24, box.size
    save, everything = chrome.find_elements(By.TAG_NAME, "button")
    assert (save.text, everything.text) == ("Save my choices", "Unsubscribe from everything")
    assert everything.rect["y"] - (save.rect["y"] + save.rect["height"]) >= 8
    save_screenshot(chrome, "preference-page")

    # When, with the keyboard only, they tab to the first topic, untick it with SPACE, tab on to
    # "Save my choices" and press ENTER
    keys = ActionChains(chrome)
    keys.send_keys(Keys.TAB).perform()
    focused = chrome.switch_to.active_element
    assert focused.get_attribute("id") == "topic-reminders"
    # (and they can see where the focus is: an outline at least 2 pixels wide)
    assert focused.value_of_css_property("outline-style") not in ("none", "")
    assert float(focused.value_of_css_property("outline-width").removesuffix("px")) >= 2
    keys.send_keys(Keys.SPACE).perform()
    assert not chrome.find_element(By.ID, "topic-reminders").is_selected()
    for _ in range(3):  # past the two other topics
        keys.send_keys(Keys.TAB).perform()
    assert chrome.switch_to.active_element.text == "Save my choices"
    keys.send_keys(Keys.ENTER).perform()

    # Then the browser shows that their choices are saved
    assert wait_for(lambda: chrome.title == "Your choices are saved", timeout=10)
    save_screenshot(chrome, "preference-page-saved")

    # And the profile records the opt-out of that one topic, with when, how and the message it came from
    profile = root().store.get_profile("pia")
    assert profile.topic_opt_outs == ["reminders"] and not profile.unsubscribed
    (change,) = profile.consent_history
    assert (change.topic, change.subscribed, change.how) == ("reminders", False, "preference_page")
    assert change.message_id is not None

    # And opening the link again shows that topic unticked and the others still ticked
    chrome.get(link)
    ticked = {str(b.get_attribute("value")): b.is_selected() for b in chrome.find_elements(By.NAME, "topic")}
    assert ticked == {"reminders": False, "offers": True, "recommendations": True}

    # And the next cart gets no reminder: the read API says the customer opted out of reminders
    _add_to_cart(local, "pia", "second-cart")
    assert wait_for(lambda: _suppressed(local, "pia", "topic_opted_out") is not None)
    reason = _suppressed(local, "pia", "topic_opted_out")
    assert reason == {"code": "topic_opted_out", "topic": "reminders"}
    assert len(local.pipeline.sent) == 1


def test_unsubscribe_from_everything_shows_the_done_page_and_stops_promotions(
    local: LocalRighttime, chrome: WebDriver
):
    # Given a customer who opened the unsubscribe link of a cart reminder in a browser
    chrome.get(_reminder_link(local, "ugo"))
    assert chrome.title == "Your e-mail preferences"
    # (on a phone 320 pixels wide, the page reflows: nothing to scroll sideways, WCAG 1.4.10)
    chrome.set_window_size(320, 720)
    assert chrome.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(chrome, "preference-page-phone")

    # When they press "Unsubscribe from everything"
    chrome.find_element(By.XPATH, "//button[normalize-space()='Unsubscribe from everything']").click()

    # Then the browser says they are unsubscribed
    assert wait_for(lambda: chrome.title == "You are unsubscribed", timeout=10)
    assert chrome.find_element(By.TAG_NAME, "h1").text == "You are unsubscribed"
    assert "will not receive our marketing e-mail" in chrome.find_element(By.TAG_NAME, "main").text
    save_screenshot(chrome, "unsubscribe-done-page")

    # And when they open the link again, the page says they are unsubscribed, with every topic unticked
    chrome.back()
    chrome.refresh()
    assert (
        "You are unsubscribed from all our marketing e-mail" in chrome.find_element(By.TAG_NAME, "main").text
    )
    assert [box.is_selected() for box in chrome.find_elements(By.NAME, "topic")] == [False, False, False]
    save_screenshot(chrome, "preference-page-unsubscribed")

    # And the next promotional message to them is suppressed: the read API says they unsubscribed
    _add_to_cart(local, "ugo", "second-cart")
    assert wait_for(lambda: _suppressed(local, "ugo", "unsubscribed") is not None)
    assert len(local.pipeline.sent) == 1
    profile = root().store.get_profile("ugo")
    assert profile.unsubscribed
    # And the consent history says it was done on the page, not by a mail client's one-click POST
    assert [(c.subscribed, c.how) for c in profile.consent_history] == [(False, "preference_page")]


def _reminder_link(local: LocalRighttime, user: str) -> str:
    """Have `user` abandon a cart and wait for the reminder; its `List-Unsubscribe` link."""
    identify = {"userId": user, "traits": {"email": f"{user}@example.com"}}
    assert post_json(f"{local.url}/v1/identify", identify, WRITE_KEY)[0] == 200
    _add_to_cart(local, user, "first-cart")
    assert wait_for(lambda: len(local.pipeline.sent) == 1)
    message = email.message_from_bytes(local.pipeline.sent[0].raw, policy=default_policy)
    assert message["To"] == f"{user}@example.com"
    link = str(message["List-Unsubscribe"]).strip("<>")
    assert link.startswith(f"{local.url}/v1/unsubscribe?t=")
    return link


def _add_to_cart(local: LocalRighttime, user: str, message_id: str) -> None:
    track = {
        "userId": user,
        "event": "Product Added",
        "messageId": message_id,
        "properties": {"product_id": "mug", "name": "Blue mug", "price": 9},
    }
    assert post_json(f"{local.url}/v1/track", track, WRITE_KEY)[0] == 200


def _suppressed(local: LocalRighttime, user: str, code: str) -> dict[str, Any] | None:
    """The reason `code` of a suppressed cart reminder, as the read API (with the admin key) gives it."""
    request = urllib.request.Request(
        f"{local.url}/v1/profiles/{user}/decisions?campaign=cart_abandonment",
        headers={"Authorization": f"Bearer {local.options.admin_key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        document = json.loads(response.read())
    for decision in document["decisions"]:
        if decision["outcome"] == "suppressed":
            for reason in decision["reasons"]:
                if reason["code"] == code:
                    return dict(reason)
    return None
