"""Privacy requests end to end: `righttime local` over real HTTP, curl-style calls and `righttime profile`
(docs/privacy.md); and the read API reaching every customer id ingest accepts."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from righttime_dev import profile_cli
from righttime_dev.cli import post_json
from righttime_dev.local.server import LocalRighttime
from tests.conftest import WRITE_KEY
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def _request(local: LocalRighttime, method: str, path: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"{local.url}{path}", method=method, headers={"Authorization": f"Bearer {local.options.admin_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _shopper(local: LocalRighttime, user_id: str, email: str = "zoe@example.com") -> None:
    """An identified customer who carted a product, over HTTP, until its cart reminder is planned."""
    batch = [
        {"type": "identify", "userId": user_id, "traits": {"email": email}},
        {"type": "track", "userId": user_id, "event": "Product Added", "properties": {"product_id": "p1"}},
    ]
    assert post_json(f"{local.url}/v1/batch", {"batch": batch}, WRITE_KEY)[0] == 200
    path = f"/v1/profiles/{quote(user_id, safe='')}/decisions"
    assert wait_for(lambda: bool(_request(local, "GET", path)[1].get("decisions")))


def _profile(local: LocalRighttime, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    """`righttime profile ...` against local mode: exit status, stdout, stderr."""
    commands = argparse.ArgumentParser(prog="righttime").add_subparsers(dest="command")
    profile_cli.add_parser(commands)
    args = commands._name_parser_map["profile"].parse_args(  # type: ignore[attr-defined]
        [*argv, "--url", local.url, "--admin-key", local.options.admin_key]
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = profile_cli.run(args, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("user_id", ["zoe/shop", "order#7?", 'say "hi"', "émile 🛒", "50%off"])
def test_the_read_api_reads_a_customer_whose_id_a_path_cannot_hold(local: LocalRighttime, user_id: str):
    # Given a customer whose id holds `/`, `#`, `?`, `"`, `%`, a space or non-ASCII, ingested over HTTP
    _shopper(local, user_id)

    # When an admin asks for its decisions with the id percent-encoded
    status, body = _request(local, "GET", f"/v1/profiles/{quote(user_id, safe='')}/decisions")

    # Then the answer is that customer's
    assert status == 200
    assert body["user_id"] == user_id
    assert {d["user_id"] for d in body["decisions"]} == {user_id}  # type: ignore[attr-defined]


def test_export_then_erase_over_http_with_curl_style_calls(local: LocalRighttime):
    # Given a customer with a pending cart reminder
    _shopper(local, "zoe")

    # When the admin exports it, then erases it
    status, export = _request(local, "GET", "/v1/profiles/zoe")
    assert status == 200
    status, erased = _request(local, "DELETE", "/v1/profiles/zoe")

    # Then the export held the profile, the message and the decisions; the erasure removed them all
    assert export["profile"]["email"] == "zoe@example.com"  # type: ignore[index]
    assert [m["campaign_id"] for m in export["messages"]] == ["cart_abandonment"]  # type: ignore[attr-defined]
    assert export["decisions"]
    assert status == 200 and erased["found"] is True and erased["complete"] is True
    assert erased["erased"]["schedules"] == 1 and erased["erased"]["messages"] == 1  # type: ignore[index]
    assert _request(local, "GET", "/v1/profiles/zoe")[0] == 404
    assert _request(local, "GET", "/v1/profiles/zoe/decisions")[1]["decisions"] == []

    # And a second erasure finds nothing left
    status, again = _request(local, "DELETE", "/v1/profiles/zoe")
    assert status == 200 and again["found"] is False


def test_righttime_profile_shows_exports_and_deletes(local: LocalRighttime, tmp_path: Path):
    # Given a customer whose id holds a slash and a space
    _shopper(local, "shop/zoe b", email="zoe.b@example.com")

    # When a marketer looks, exports to a file, then deletes (confirming by typing the id)
    shown = _profile(local, "show", "shop/zoe b")
    exported = _profile(local, "export", "shop/zoe b", "--output", str(tmp_path / "zoe.json"))
    refused = _profile(local, "delete", "shop/zoe b", stdin="no\n")
    deleted = _profile(local, "delete", "shop/zoe b", stdin="shop/zoe b\n")
    gone = _profile(local, "show", "shop/zoe b")

    # Then show summarises with the address masked, export holds the document, delete asked first
    assert shown[0] == 0 and "z***@example.com" in shown[1] and "zoe.b@" not in shown[1]
    assert "messages: 1 (1 pending)" in shown[1]
    assert exported[0] == 0
    assert json.loads((tmp_path / "zoe.json").read_text())["user_id"] == "shop/zoe b"
    assert refused[0] == 2 and "nothing was erased" in refused[2] and "Traceback" not in refused[2]
    assert (
        deleted[0] == 0
        and "erased shop/zoe b" in deleted[1]
        and "1 pending schedules cancelled" in deleted[1]
    )
    assert gone[0] == 2 and gone[2].count("\n") == 1 and "holds nothing" in gone[2]


def test_righttime_profile_user_errors_are_one_line(local: LocalRighttime):
    commands = argparse.ArgumentParser(prog="righttime").add_subparsers(dest="command")
    profile_cli.add_parser(commands)
    parser = commands._name_parser_map["profile"]  # type: ignore[attr-defined]
    for argv in (
        ["show", "zoe", "--url", "http://127.0.0.1:9", "--admin-key", "k"],  # nothing listens
        ["show", "zoe", "--url", local.url, "--admin-key", "wrong"],
        ["export", "zoe", "--url", "ftp://x", "--admin-key", "k"],
    ):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = profile_cli.run(parser.parse_args(argv))
        assert code == 2 and err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue(), argv
