"""API keys: write keys for ingestion, admin keys for the read API.

In AWS each set is a SecureString in SSM Parameter Store (comma-separated, to rotate without downtime),
read with the process's botocore SSM client and cached for a few minutes; in local mode and tests, a list
given at start.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from righttime.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

#: where a set of keys comes from: called on every check, so a cache belongs inside it
KeySource = Callable[[], Sequence[str]]


def ssm_keys(
    client: SSMClient,
    parameter: str,
    what: str,
    max_age: int,
    monotonic: Callable[[], float] = time.monotonic,
) -> KeySource:
    """Keys from an SSM SecureString, read again once `max_age` seconds old (0: on every check).

    botocore rather than Powertools Parameters, which imports boto3: a cold start would pay for it twice.
    A failed read is not cached, so the next check tries SSM again.
    """
    cached: list[tuple[float, Sequence[str]]] = []

    def read() -> Sequence[str]:
        if cached and monotonic() - cached[0][0] < max_age:
            return cached[0][1]
        try:
            raw = client.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
        except (ClientError, BotoCoreError, KeyError) as exc:
            raise ConfigurationError(
                f"cannot read the {what} keys from SSM parameter {parameter}: {exc}"
            ) from exc
        keys = split_keys(str(raw), f"the {what} keys in SSM parameter {parameter}")
        cached[:] = [(monotonic(), keys)]
        return keys

    return read


def static_keys(keys: Sequence[str]) -> KeySource:
    """Keys fixed at start (local mode, tests)."""
    fixed = tuple(keys)
    return lambda: fixed


def missing_keys(message: str) -> KeySource:
    """No keys are configured: every check fails with `message`, naming the setting to fix."""

    def fail() -> Sequence[str]:
        raise ConfigurationError(message)

    return fail


def split_keys(raw: str, where: str) -> list[str]:
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        raise ConfigurationError(f"{where}: no keys (expected a comma-separated list)")
    return keys


class ApiKeys:
    """The `Keys` port: constant-time comparison against every current key of a set."""

    def __init__(self, write: KeySource, admin: KeySource) -> None:
        self._write = write
        self._admin = admin

    def is_write_key(self, candidate: str) -> bool:
        return _matches(candidate, self._write())

    def is_admin_key(self, candidate: str) -> bool:
        return _matches(candidate, self._admin())


def _matches(candidate: str, keys: Sequence[str]) -> bool:
    return any(hmac.compare_digest(candidate.encode(), key.encode()) for key in keys)
