"""AWS clients (botocore), created on first use, one per service, for the life of their owner.

The composition root builds one `Clients` per process from a `Connection`: in Lambda the default credential
chain and region; in local mode and tests an explicit endpoint (moto) and dummy credentials. Every client
comes from one botocore session: a second client reuses the first one's loaded endpoints, partitions and
credentials, which costs a cold start a few milliseconds instead of tens.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient


@dataclass(frozen=True)
class Connection:
    """Where the clients connect; None means botocore's own default (environment, config files, role)."""

    region: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Connection:
        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
        )


#: DynamoDB, SQS, Scheduler: requests that are safe to repeat (conditional writes, idempotent creates)
_DEFAULT: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 4},
    "connect_timeout": 3,
    "read_timeout": 10,
}
#: SES sends are not safe to repeat: one attempt, and a worst case (2 s + 10 s) within ports.MAIL_CALL_SECONDS
_SES: dict[str, Any] = {
    "retries": {"mode": "standard", "total_max_attempts": 1},
    "connect_timeout": 2,
    "read_timeout": 10,
}


class Clients:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._made: dict[str, Any] = {}
        self._session: Any = None
        # botocore sessions are not safe to create clients from concurrently (local mode's threads do)
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        client = self._made.get(service)
        if client is not None:
            return client
        with self._lock:
            return self._made.get(service) or self._create(service)

    def _create(self, service: str) -> Any:
        # botocore directly: boto3 adds nothing for low-level clients, but costs a cold start its import.
        from botocore.config import Config
        from botocore.session import get_session

        if self._session is None:
            self._session = get_session()
        config = Config(**(_SES if service == "sesv2" else _DEFAULT))
        c = self.connection
        client = self._session.create_client(
            service,
            region_name=c.region,
            endpoint_url=c.endpoint_url,
            aws_access_key_id=c.access_key_id,
            aws_secret_access_key=c.secret_access_key,
            aws_session_token=c.session_token,
            config=config,
        )
        self._made[service] = client
        return client

    def dynamodb(self) -> DynamoDBClient:
        return self._client("dynamodb")  # type: ignore[no-any-return]

    def sqs(self) -> SQSClient:
        return self._client("sqs")  # type: ignore[no-any-return]

    def scheduler(self) -> EventBridgeSchedulerClient:
        return self._client("scheduler")  # type: ignore[no-any-return]

    def sesv2(self) -> SESV2Client:
        return self._client("sesv2")  # type: ignore[no-any-return]

    def ssm(self) -> SSMClient:
        return self._client("ssm")  # type: ignore[no-any-return]
