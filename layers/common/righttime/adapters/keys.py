"""API keys: write keys for ingestion, admin keys for the read API.

In AWS each set is a SecureString in SSM Parameter Store (comma-separated, to rotate without downtime),
cached for a few minutes by Powertools Parameters; in local mode and tests, a list given at start.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence

from righttime.core.errors import ConfigurationError

#: where a set of keys comes from: called on every check, so a cache belongs inside it
KeySource = Callable[[], Sequence[str]]


def ssm_keys(parameter: str, what: str, max_age: int) -> KeySource:
    """Keys from an SSM SecureString, cached for `max_age` seconds (Powertools Parameters)."""

    def read() -> Sequence[str]:
        from aws_lambda_powertools.utilities.parameters import get_parameter
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            raw = get_parameter(parameter, decrypt=True, max_age=max_age)
        except GetParameterError as exc:
            raise ConfigurationError(
                f"cannot read the {what} keys from SSM parameter {parameter}: {exc}"
            ) from exc
        return split_keys(str(raw), f"the {what} keys in SSM parameter {parameter}")

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
