"""Settings: environment variables validated into models, one group at a time.

The composition root parses each group the first time a collaborator needs it, so a missing variable fails
with a message naming it when it matters, never at import time. Nothing here reads `os.environ`: the root
hands in the mapping (the process environment in Lambda, one built for the purpose in local mode and tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from righttime.core.cors import parse_origins
from righttime.core.errors import ConfigurationError


class _EnvModel(BaseModel):
    # built on first use: a handler reads two or three of these groups, not all of them
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class TableSettings(_EnvModel):
    profiles_table: str = Field(alias="PROFILES_TABLE", min_length=1)
    messages_table: str = Field(alias="MESSAGES_TABLE", min_length=1)
    suppression_table: str = Field(alias="SUPPRESSION_TABLE", min_length=1)
    #: how long decisions and finished messages are kept (DynamoDB's TTL deletes them after that)
    retention_days: int = Field(alias="RETENTION_DAYS", default=90, ge=7, le=3650)


class CatalogSettings(_EnvModel):
    catalog_table: str = Field(alias="CATALOG_TABLE", min_length=1)


class ReportSettings(_EnvModel):
    reports_table: str = Field(alias="REPORTS_TABLE", min_length=1)


class CampaignMetricSettings(_EnvModel):
    #: publish the funnel per campaign as CloudWatch metrics (each campaign's metrics are billed)
    campaign_metrics: bool = Field(alias="CAMPAIGN_METRICS", default=True)


class IngestSettings(_EnvModel):
    events_queue_url: str = Field(alias="EVENTS_QUEUE_URL", min_length=1)


class CorsSettings(_EnvModel):
    #: the pages (origins) whose browsers may send events to ingest, comma-separated, or * for any: write keys
    #: are public in every page that loads analytics.js, so Segment's own API allows any origin too
    allowed_origins: str = Field(alias="RIGHTTIME_ALLOWED_ORIGINS", default="*")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        parse_origins(value)  # a ValueError names the entry; load() reports it under the variable's name
        return value

    @property
    def origins(self) -> frozenset[str]:
        return parse_origins(self.allowed_origins)


class KeySettings(_EnvModel):
    # In AWS the keys live in SSM Parameter Store (SecureStrings, comma-separated for rotation)...
    write_keys_parameter: str | None = Field(alias="WRITE_KEYS_PARAMETER", default=None)
    admin_keys_parameter: str | None = Field(alias="ADMIN_KEYS_PARAMETER", default=None)
    # ...in local mode they come straight from the environment.
    write_keys: str | None = Field(alias="RIGHTTIME_WRITE_KEYS", default=None)
    admin_keys: str | None = Field(alias="RIGHTTIME_ADMIN_KEYS", default=None)
    cache_seconds: int = Field(alias="KEYS_CACHE_SECONDS", default=300, ge=0)


class DeadLetterSettings(_EnvModel):
    events_dlq_url: str = Field(alias="EVENTS_DLQ_URL", min_length=1)
    #: the events queue's maxReceiveCount: on the last try a failing event is dead-lettered with its reason
    max_receive_count: int = Field(alias="EVENTS_MAX_RECEIVE_COUNT", default=5, ge=1, le=1000)


class ScheduleSettings(_EnvModel):
    schedule_group: str = Field(alias="SCHEDULE_GROUP", min_length=1)
    sender_function_arn: str = Field(alias="SENDER_FUNCTION_ARN", min_length=1)
    scheduler_role_arn: str = Field(alias="SCHEDULER_ROLE_ARN", min_length=1)
    schedule_dlq_arn: str = Field(alias="SCHEDULE_DLQ_ARN", min_length=1)
    max_retry_attempts: int = Field(alias="SCHEDULE_MAX_RETRY_ATTEMPTS", default=10, ge=0, le=185)
    max_event_age_seconds: int = Field(
        alias="SCHEDULE_MAX_EVENT_AGE_SECONDS", default=86_400, ge=60, le=86_400
    )


class MailSettings(_EnvModel):
    sender_address: str = Field(alias="SENDER_ADDRESS", min_length=3)
    sender_name: str = Field(alias="SENDER_NAME", default="")
    configuration_set: str | None = Field(alias="SES_CONFIGURATION_SET", default=None)
    unsubscribe_mailto: str | None = Field(alias="UNSUBSCRIBE_MAILTO", default=None)


class UnsubscribeSettings(_EnvModel):
    #: the API's one-click unsubscribe URL (`https://.../v1/unsubscribe`): promotional messages carry it
    url: str | None = Field(alias="UNSUBSCRIBE_URL", default=None, pattern=r"^(https?://.+)?$")
    # In AWS the signing keys live in an SSM SecureString (`id:secret,...`, the first signs)...
    keys_parameter: str | None = Field(alias="UNSUBSCRIBE_KEYS_PARAMETER", default=None)
    # ...in local mode they come straight from the environment.
    keys: str | None = Field(alias="RIGHTTIME_UNSUBSCRIBE_KEYS", default=None)
    cache_seconds: int = Field(alias="KEYS_CACHE_SECONDS", default=300, ge=0)


class SweepSettings(_EnvModel):
    #: how long an unknown send outcome waits for SES's events before the sweeper resends it (once)
    unknown_timeout_minutes: int = Field(alias="UNKNOWN_TIMEOUT_MINUTES", default=30, ge=5, le=1440)


class FeedbackSettings(_EnvModel):
    #: transient bounces in a row (no delivery between) that put an address on the suppression list
    transient_bounces_to_suppress: int = Field(alias="TRANSIENT_BOUNCES_TO_SUPPRESS", default=3, ge=1, le=20)


class ContentSettings(_EnvModel):
    campaigns_dir: Path = Field(alias="CAMPAIGNS_DIR")
    templates_dir: Path = Field(alias="TEMPLATES_DIR")


_M = TypeVar("_M", bound=_EnvModel)


def load(model: type[_M], env: Mapping[str, str]) -> _M:
    """`model` parsed from `env`, or ConfigurationError naming every missing or invalid variable."""
    try:
        return model.model_validate(dict(env))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigurationError(f"environment is incomplete for {model.__name__}: {problems}") from exc
