"""AWS clients (botocore), created lazily (never at import) and cached per service for the container's life.

Every client honours `AWS_ENDPOINT_URL`, which is how local mode and tests point them at moto.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient


@cache
def _client(service: str) -> Any:
    # botocore directly: boto3 adds nothing for low-level clients but costs every cold start its import.
    from botocore.config import Config
    from botocore.session import get_session

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
    return get_session().create_client(service, config=config)


def dynamodb() -> DynamoDBClient:
    return _client("dynamodb")  # type: ignore[no-any-return]


def sqs() -> SQSClient:
    return _client("sqs")  # type: ignore[no-any-return]


def scheduler() -> EventBridgeSchedulerClient:
    return _client("scheduler")  # type: ignore[no-any-return]


def sesv2() -> SESV2Client:
    return _client("sesv2")  # type: ignore[no-any-return]


def reset() -> None:
    """Forget every client (tests and local mode call this after changing the endpoint or credentials)."""
    _client.cache_clear()
