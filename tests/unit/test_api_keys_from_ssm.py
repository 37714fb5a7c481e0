"""Write and admin keys read from SSM Parameter Store with botocore, cached for KEYS_CACHE_SECONDS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.session import get_session
from botocore.stub import Stubber

from righttime.adapters.keys import ApiKeys, missing_keys, ssm_keys
from righttime.core.errors import ConfigurationError

PARAMETER = "/righttime/write-keys"


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ssm() -> Iterator[tuple[Any, Stubber]]:
    client = get_session().create_client(
        "ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def answer(stubber: Stubber, value: str) -> None:
    stubber.add_response(
        "get_parameter",
        {"Parameter": {"Name": PARAMETER, "Type": "SecureString", "Value": value}},
        {"Name": PARAMETER, "WithDecryption": True},
    )


def test_a_key_in_the_parameter_is_accepted_and_others_are_not(ssm: tuple[Any, Stubber]) -> None:
    # Given two write keys in a SecureString, comma-separated during a rotation
    client, stubber = ssm
    answer(stubber, "old-key, new-key")
    keys = ApiKeys(write=ssm_keys(client, PARAMETER, "write", 300), admin=missing_keys("none"))
    # When requests present keys
    # Then both current keys pass and anything else fails, with one read of SSM
    assert keys.is_write_key("new-key")
    assert keys.is_write_key("old-key")
    assert not keys.is_write_key("guess")


def test_keys_are_read_again_once_the_cache_is_old(ssm: tuple[Any, Stubber]) -> None:
    # Given keys cached for 300 seconds, then rotated in SSM
    client, stubber = ssm
    ticks = Ticks()
    answer(stubber, "old-key")
    answer(stubber, "new-key")
    read = ssm_keys(client, PARAMETER, "write", 300, monotonic=ticks)
    assert list(read()) == ["old-key"]
    # When less than the cache's age has passed, the old key is still served without calling SSM
    ticks.now += 299
    assert list(read()) == ["old-key"]
    # Then after it, the rotated key is read
    ticks.now += 2
    assert list(read()) == ["new-key"]


def test_a_missing_parameter_names_itself(ssm: tuple[Any, Stubber]) -> None:
    # Given a parameter that does not exist
    client, stubber = ssm
    stubber.add_client_error("get_parameter", "ParameterNotFound", "not there")
    read = ssm_keys(client, PARAMETER, "write", 300)
    # When the keys are needed
    # Then the error says which keys and which parameter
    with pytest.raises(
        ConfigurationError, match=f"cannot read the write keys from SSM parameter {PARAMETER}"
    ):
        read()


def test_a_failed_read_is_tried_again_on_the_next_check(ssm: tuple[Any, Stubber]) -> None:
    # Given SSM throttling once, then answering
    client, stubber = ssm
    stubber.add_client_error("get_parameter", "ThrottlingException", "slow down")
    answer(stubber, "the-key")
    read = ssm_keys(client, PARAMETER, "write", 300)
    with pytest.raises(ConfigurationError):
        read()
    # When the next request comes
    # Then SSM is asked again rather than the failure being remembered
    assert list(read()) == ["the-key"]


def test_an_empty_parameter_is_a_configuration_error(ssm: tuple[Any, Stubber]) -> None:
    # Given a parameter holding only commas and spaces
    client, stubber = ssm
    answer(stubber, " , ")
    # When the keys are needed
    # Then the error names the parameter
    with pytest.raises(ConfigurationError, match=f"the write keys in SSM parameter {PARAMETER}: no keys"):
        ssm_keys(client, PARAMETER, "write", 300)()
