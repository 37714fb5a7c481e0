"""Segment's browser SDK, unmodified, against `righttime local`: the real npm bundle of analytics.js
(Analytics 2.0, `@segment/analytics-next`, pinned in analytics_js/package-lock.json) in headless Chromium,
on a shop page served from another origin than righttime, so that CORS is what a real shop meets.

The page loads analytics.js with Segment's own snippet, self-hosted as Segment documents it
(`analytics._cdn`): the shop's server serves the bundle and the source's settings, which point analytics.js
at righttime; nothing is fetched from Segment (docs/sdks.md).
`make npm-deps` installs the bundle (`make test` and `make e2e` run it first)."""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from righttime.wiring.root import root
from righttime_dev.local.server import LocalRighttime
from tests.conftest import WRITE_KEY
from tests.e2e.browser.conftest import save_screenshot
from tests.e2e.conftest import local_options, wait_for

pytestmark = pytest.mark.e2e

PACKAGE = Path(__file__).parent / "analytics_js"
BUNDLES = PACKAGE / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
#: the file Segment's CDN serves as analytics.min.js, the one the snippet loads
STANDALONE = BUNDLES / "standalone.js"
CUSTOMER = "shopper-7"
ADDRESS = "shopper-7@example.com"

#: Segment's analytics.js snippet (5.2.x) as a shop pastes it, with the two lines Segment documents for
#: self-hosting: the script's address and `analytics._cdn`. Then the calls a product page makes.
SHOP_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Blue mug - Test shop</title>
<script>
  !function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize)
  if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");
  else{analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm",
  "pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on",
  "addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];
  analytics.factory=function(e){return function(){if(window[i].initialized)
  return window[i][e].apply(window[i],arguments);var n=Array.prototype.slice.call(arguments);
  if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){
  var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",c:c&&c.getAttribute("href")||
  void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})}
  n.unshift(e);analytics.push(n);return analytics}};
  for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];
  analytics[key]=analytics.factory(key)}analytics.load=function(key,n){
  var t=document.createElement("script");t.type="text/javascript";t.async=!0;
  t.setAttribute("data-global-segment-analytics-key",i);
  t.src=location.origin+"/analytics.js/v1/"+key+"/analytics.min.js";
  var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};
  analytics._writeKey="__WRITE_KEY__";analytics._cdn=location.origin;analytics.SNIPPET_VERSION="5.2.1";
  analytics.load("__WRITE_KEY__");
  analytics.page();
  analytics.identify("__CUSTOMER__", {email: "__ADDRESS__", first_name: "Sam"});
  }}();
</script>
</head>
<body>
<main>
<h1>Blue mug</h1>
<p>A mug, blue. 9 EUR.</p>
<button id="add" type="button">Add to cart</button>
<p id="status" role="status"></p>
</main>
<script>
  document.getElementById("add").addEventListener("click", function () {
    analytics.track("Product Added", {product_id: "mug", name: "Blue mug", price: 9, quantity: 1})
      .then(function () { document.getElementById("status").textContent = "Added to your cart"; });
  });
</script>
</body>
</html>
"""


def source_settings(api: str, delivery: str = "standard") -> dict[str, Any]:
    """The source's settings, which analytics.js reads from `<_cdn>/v1/projects/<write key>/settings`: here,
    the whole of them, pointing it at righttime (`api`: its URL) and nowhere else. `delivery`: one request
    per call (standard, to /v1/i, /v1/t, ...) or batches (to /v1/b)."""
    scheme, _, host = api.partition("://")
    segment: dict[str, Any] = {"apiKey": WRITE_KEY, "apiHost": f"{host}/v1", "protocol": scheme}
    if delivery == "batching":
        segment["deliveryStrategy"] = {"strategy": "batching", "config": {"size": 10, "timeout": 200}}
    return {
        "integrations": {"Segment.io": segment},
        # analytics.js's own telemetry would go to api.segment.io/v1/m
        "metrics": {"sampleRate": 0},
    }


@dataclass
class Shop:
    """The shop's web server, on an origin of its own: its page, the analytics.js bundle and its settings."""

    url: str
    api: str = ""
    delivery: str = "standard"


class _ShopHandler(BaseHTTPRequestHandler):
    shop: Shop

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/":
            page = (
                SHOP_PAGE.replace("__WRITE_KEY__", WRITE_KEY)
                .replace("__CUSTOMER__", CUSTOMER)
                .replace("__ADDRESS__", ADDRESS)
            )
            self._send(200, "text/html; charset=utf-8", page.encode())
        elif path == f"/v1/projects/{WRITE_KEY}/settings":
            self._send(
                200,
                "application/json",
                json.dumps(source_settings(self.shop.api, self.shop.delivery)).encode(),
            )
        elif path == f"/analytics.js/v1/{WRITE_KEY}/analytics.min.js":
            self._send(200, "text/javascript", STANDALONE.read_bytes())
        elif path.startswith("/analytics-next/bundles/") and "/" not in path.removeprefix(
            "/analytics-next/bundles/"
        ):
            chunk = BUNDLES / path.removeprefix("/analytics-next/bundles/")
            if chunk.is_file():
                self._send(200, "text/javascript", chunk.read_bytes())
            else:
                self._send(404, "text/plain", b"no such bundle")
        else:
            self._send(404, "text/plain", b"not found")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def shop() -> Iterator[Shop]:
    if not STANDALONE.is_file():
        pytest.fail(
            f"analytics.js is not installed ({STANDALONE.relative_to(PACKAGE.parents[3])} is missing): "
            "run `make npm-deps` (npm ci in tests/e2e/browser/analytics_js)",
            pytrace=False,
        )
    handler: type[_ShopHandler] = type("Handler", (_ShopHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.shop = Shop(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler.shop
    finally:
        server.shutdown()
        server.server_close()


class Requests(list[tuple[str, str]]):
    """The method and path of every request righttime local answered, in order."""

    def record(self, local: LocalRighttime) -> None:
        answer = local.pipeline.http

        def recorded(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
            self.append((method, path))
            return answer(method, path, *args, **kwargs)

        local.pipeline.http = recorded  # type: ignore[method-assign]


@pytest.fixture
def requests() -> Requests:
    return Requests()


def start_local(tmp_path: Path, allowed_origins: str) -> LocalRighttime:
    return LocalRighttime(local_options(tmp_path, allowed_origins=allowed_origins))


@pytest.fixture
def righttime_for_the_shop(
    isolated_env: None, tmp_path: Path, shop: Shop, requests: Requests
) -> Iterator[LocalRighttime]:
    """Local mode allowing the shop's origin only: CORS by the list, not by the wildcard."""
    with start_local(tmp_path, allowed_origins=shop.url) as stack:
        shop.api = stack.url
        requests.record(stack)
        yield stack
    assert stack.errors == [], f"local pipeline raised: {stack.errors!r}"


@pytest.fixture
def righttime_for_another_shop(
    isolated_env: None, tmp_path: Path, shop: Shop, requests: Requests
) -> Iterator[LocalRighttime]:
    """Local mode allowing some other site's pages, not the shop's."""
    with start_local(tmp_path, allowed_origins="https://another-shop.example") as stack:
        shop.api = stack.url
        requests.record(stack)
        yield stack
    assert stack.errors == [], f"local pipeline raised: {stack.errors!r}"


@pytest.mark.parametrize("delivery", ["standard", "batching"])
def test_a_shopper_identified_by_analytics_js_who_adds_to_cart_gets_one_cart_reminder(
    righttime_for_the_shop: LocalRighttime, shop: Shop, chrome: WebDriver, requests: Requests, delivery: str
) -> None:
    local = righttime_for_the_shop
    console = Console(chrome)
    shop.delivery = delivery  # each call on its own short path, or batches to /v1/b
    # Given a shop page on its own origin, with analytics.js loaded by Segment's snippet and pointed at
    # righttime: it sends the page view, and identifies the signed-in shopper with their address
    chrome.get(f"{shop.url}/")
    assert chrome.title == "Blue mug - Test shop"
    assert wait_for(lambda: chrome.execute_script("return window.analytics.initialized === true"), 15), (
        f"analytics.js did not start: {console.read()}"
    )
    assert wait_for(lambda: _address_on_profile() == ADDRESS, 15), f"not identified: {console.read()}"

    # When the shopper adds the mug to the cart
    chrome.find_element(By.ID, "add").click()
    assert wait_for(lambda: chrome.find_element(By.ID, "status").text == "Added to your cart", 15)
    save_screenshot(chrome, f"analytics-js-shop-page-{delivery}")

    # Then exactly one cart reminder reaches the shopper, addressed to them
    assert wait_for(lambda: len(local.pipeline.sent) >= 1, 30), f"no reminder: {console.read()}"
    wait_for(lambda: len(local.pipeline.sent) > 1, 3)  # three more virtual hours, for a duplicate to show
    [sent] = local.pipeline.sent
    message = email.message_from_bytes(sent.raw, policy=default_policy)
    assert message["To"] == ADDRESS
    assert "left 1 item in your cart" in str(message["Subject"])
    # And nothing analytics.js sent was refused or failed: no error about righttime in the page's console
    assert [entry for entry in console.read() if local.url in entry] == []
    # And it came the way analytics.js sends it: asked first (it sends Authorization), then posted to
    # Segment's short paths, one per call or in batches
    posted = {path for method, path in requests if method == "POST"}
    assert ("OPTIONS", "/v1/t" if delivery == "standard" else "/v1/b") in requests
    assert posted == ({"/v1/p", "/v1/i", "/v1/t"} if delivery == "standard" else {"/v1/b"})


def test_a_shop_page_on_an_origin_righttime_does_not_allow_is_refused_by_the_browser_and_nothing_is_queued(
    righttime_for_another_shop: LocalRighttime, shop: Shop, chrome: WebDriver, requests: Requests
) -> None:
    local = righttime_for_another_shop
    # Given righttime allowing another site's pages only
    # When the shop's page, with analytics.js pointed at righttime, sends the page view and the identify,
    # and the shopper adds to cart
    chrome.get(f"{shop.url}/")
    assert wait_for(lambda: chrome.execute_script("return window.analytics.initialized === true"), 15)
    chrome.find_element(By.ID, "add").click()

    # Then the browser refuses to send them: CORS, in the page's console
    console = Console(chrome)

    def refusals() -> list[str]:
        return [e for e in console.read() if "CORS policy" in e and local.url in e]

    assert wait_for(lambda: bool(refusals()), 15), f"no CORS refusal in the console: {console.read()}"
    # And nothing reached righttime: no profile, no customer, no message
    wait_for(lambda: False, 2)  # analytics.js retries; let it
    assert _profiles_count(local) == 0
    assert local.pipeline.sent == []
    # (the browser asked, was refused, and so never posted)
    assert ("OPTIONS", "/v1/p") in requests
    assert [path for method, path in requests if method == "POST"] == []


def _address_on_profile() -> str | None:
    """The address righttime keeps on the customer's profile (None until the identify is evaluated)."""
    return root().store.get_profile(CUSTOMER).email


def _profiles_count(local: LocalRighttime) -> int:
    """Every profile in the stack's table, anonymous visitors included."""
    pipeline = local.pipeline
    dynamodb = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    ).client("dynamodb", endpoint_url=pipeline.endpoint_url)
    table = pipeline.stack.physical["ProfilesTable"]
    return int(dynamodb.scan(TableName=table, Select="COUNT")["Count"])


class Console:
    """What the page logged to its console (errors and warnings), kept across reads: each of chromedriver's
    reads empties its buffer."""

    def __init__(self, chrome: WebDriver) -> None:
        self.chrome = chrome
        self.entries: list[str] = []

    def read(self) -> list[str]:
        self.entries += [str(e.get("message", "")) for e in self.chrome.get_log("browser")]  # type: ignore[attr-defined]
        return list(self.entries)
