"""API keys: write keys for ingestion, admin keys for the read API.

In AWS each set is a SecureString in SSM Parameter Store (comma-separated, to rotate without downtime),
cached for a few minutes; in local mode an environment variable.
"""

from __future__ import annotations

import hmac

from righttime import settings
from righttime.errors import ConfigurationError


def _keys(
    parameter: str | None, inline: str | None, what: str, parameter_env: str, inline_env: str
) -> list[str]:
    if parameter:
        from aws_lambda_powertools.utilities.parameters import get_parameter
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            raw = get_parameter(parameter, decrypt=True, max_age=settings.keys().cache_seconds)
        except GetParameterError as exc:
            raise ConfigurationError(
                f"cannot read the {what} keys from SSM parameter {parameter}: {exc}"
            ) from exc
    elif inline:
        raw = inline
    else:
        raise ConfigurationError(f"no {what} keys: set {parameter_env} (AWS) or {inline_env} (local)")
    keys = [key.strip() for key in str(raw).split(",") if key.strip()]
    if not keys:
        raise ConfigurationError(f"the {what} keys setting is empty")
    return keys


def write_keys() -> list[str]:
    config = settings.keys()
    return _keys(
        config.write_keys_parameter,
        config.write_keys,
        "write",
        "WRITE_KEYS_PARAMETER",
        "RIGHTTIME_WRITE_KEYS",
    )


def admin_keys() -> list[str]:
    config = settings.keys()
    return _keys(
        config.admin_keys_parameter,
        config.admin_keys,
        "admin",
        "ADMIN_KEYS_PARAMETER",
        "RIGHTTIME_ADMIN_KEYS",
    )


def _matches(candidate: str, keys: list[str]) -> bool:
    return any(hmac.compare_digest(candidate.encode(), key.encode()) for key in keys)


def is_write_key(candidate: str) -> bool:
    """Constant-time comparison against every current write key."""
    return _matches(candidate, write_keys())


def is_admin_key(candidate: str) -> bool:
    """Constant-time comparison against every current admin key."""
    return _matches(candidate, admin_keys())
