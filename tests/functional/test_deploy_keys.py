"""`make keys`: the stack's three key parameters are created in SSM when missing, and never overwritten."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from righttime.adapters.keys import split_keys
from righttime.core.unsubscribe import parse_keys
from righttime_dev import keys

REGION = "eu-west-1"
WRITE, ADMIN, UNSUBSCRIBE = "/righttime/write-keys", "/righttime/admin-keys", "/righttime/unsubscribe-keys"


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


def stored(ssm: Any, name: str) -> tuple[str, str]:
    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    return parameter["Type"], parameter["Value"]


def test_an_empty_account_gets_three_secure_strings_the_functions_accept(
    ssm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an account with no righttime parameters
    # When make keys runs
    status = keys.main(["--region", REGION])

    # Then each parameter is a SecureString in the format its function reads
    out = capsys.readouterr().out
    assert status == 0
    (write_type, write), (admin_type, admin) = stored(ssm, WRITE), stored(ssm, ADMIN)
    unsubscribe_type, unsubscribe = stored(ssm, UNSUBSCRIBE)
    assert {write_type, admin_type, unsubscribe_type} == {"SecureString"}
    assert split_keys(write, "write") == [write]
    assert write != admin
    assert [key.key_id for key in parse_keys(unsubscribe)] == ["k1"]
    # And the write and admin keys are printed once, for the SDKs and the read API, but no signing secret
    assert f"{WRITE}: write key {write}" in out
    assert f"{ADMIN}: admin key {admin}" in out
    assert unsubscribe.split(":", 1)[1] not in out
    assert f"region   {REGION}. Next: make deploy SENDER=" in out


def test_existing_keys_are_kept_and_a_second_run_changes_nothing(
    ssm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a write key the shop's SDKs already use
    ssm.put_parameter(Name=WRITE, Type="SecureString", Value="in-use-key")

    # When make keys runs twice
    keys.main(["--region", REGION])
    first = {name: stored(ssm, name) for name in (WRITE, ADMIN, UNSUBSCRIBE)}
    capsys.readouterr()
    keys.main(["--region", REGION])

    # Then the write key is untouched, the missing two were created once, and the second run only reports
    assert first[WRITE] == ("SecureString", "in-use-key")
    assert {name: stored(ssm, name) for name in (WRITE, ADMIN, UNSUBSCRIBE)} == first
    out = capsys.readouterr().out
    assert out.count("kept") == 3
    assert "created" not in out
    assert "in-use-key" not in out


def test_other_names_are_named_in_the_deploy_command(ssm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a second stack that keeps its write keys under another name
    # When make keys runs with that name
    keys.main(["--region", REGION, "--write-parameter", "/shop-staging/write-keys"])

    # Then that parameter is created, and the deploy hint passes its name to the stack
    assert stored(ssm, "/shop-staging/write-keys")[0] == "SecureString"
    assert "PARAMS='WriteKeysParameterName=/shop-staging/write-keys'" in capsys.readouterr().out


def test_no_region_is_one_line_and_status_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a shell with no region anywhere (no variable, an empty AWS config)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))

    # When make keys runs, Then it says what to do, without a traceback
    assert keys.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("make keys: no AWS region")
    assert len(err.splitlines()) == 1
