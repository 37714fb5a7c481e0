"""Write keys: in AWS a SecureString in SSM Parameter Store (comma-separated, to rotate without downtime),
cached for a few minutes; in local mode an environment variable."""

from __future__ import annotations

import hmac

from righttime import settings
from righttime.errors import ConfigurationError


def current_keys() -> list[str]:
    config = settings.ingest()
    if config.write_keys_parameter:
        from aws_lambda_powertools.utilities.parameters import get_parameter

        raw = get_parameter(
            config.write_keys_parameter, decrypt=True, max_age=config.write_keys_cache_seconds
        )
    elif config.write_keys:
        raw = config.write_keys
    else:
        raise ConfigurationError(
            "no write keys: set WRITE_KEYS_PARAMETER (AWS) or RIGHTTIME_WRITE_KEYS (local)"
        )
    keys = [key.strip() for key in str(raw).split(",") if key.strip()]
    if not keys:
        raise ConfigurationError("the write keys setting is empty")
    return keys


def is_valid(candidate: str) -> bool:
    """Constant-time comparison against every current key."""
    return any(hmac.compare_digest(candidate.encode(), key.encode()) for key in current_keys())
