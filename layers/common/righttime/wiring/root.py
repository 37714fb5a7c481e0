"""The composition root: the one place where adapters are chosen, configured and handed to the use cases.

In Lambda, `root()` builds it from the process environment on first use and keeps it for the container's
life; each collaborator inside is built the first time a handler asks for it, so ingest never creates a
DynamoDB client and evaluate never imports Jinja2. Each handler module calls `warm()` with the collaborators
its every invocation uses, so that in Lambda they are built during INIT (clients, campaigns) rather than
hidden in the first call. Local mode, simulation and tests build a `Root` their own way (other endpoints,
in-memory adapters, a virtual clock) and `install()` it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from righttime.core.clock import Clock, SystemClock
from righttime.core.cors import ANY_ORIGIN
from righttime.core.errors import ConfigurationError
from righttime.wiring import settings

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from righttime.adapters.clients import Clients
    from righttime.core.recovery import RecoveryTimings
    from righttime.stages.feedback import FeedbackRules
    from righttime.stages.ports import (
        Catalog,
        Counters,
        CustomerRecords,
        DeadLetters,
        EventQueue,
        Keys,
        Mailer,
        Schedules,
        Store,
    )
    from righttime.stages.send import MailIdentity
    from righttime.stages.send_time import PopulationHours
    from righttime.stages.unsubscribe import UnsubscribeKeys
    from righttime.wiring.content import Content


class Root:
    """Every collaborator the handlers use. Each argument is a factory, called once, on first use."""

    def __init__(
        self,
        *,
        clock: Clock,
        store: Callable[[], Store],
        queue: Callable[[], EventQueue],
        dead_letters: Callable[[], DeadLetters],
        schedules: Callable[[], Schedules],
        mailer: Callable[[], Mailer],
        keys: Callable[[], Keys],
        content: Callable[[], Content],
        mail: Callable[[], MailIdentity],
        max_receive_count: Callable[[], int],
        customer_records: Callable[[], CustomerRecords] | None = None,
        feedback: Callable[[], FeedbackRules] | None = None,
        recovery: Callable[[], RecoveryTimings] | None = None,
        unsubscribe_keys: Callable[[], UnsubscribeKeys] | None = None,
        counters: Callable[[], Counters] | None = None,
        campaign_metrics: Callable[[], bool] | None = None,
        population_hours: Callable[[Clock], PopulationHours] | None = None,
        catalog: Callable[[], Catalog] | None = None,
        allowed_origins: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        self.clock = clock
        self._allowed_origins = allowed_origins or (lambda: frozenset({ANY_ORIGIN}))
        self._counters = counters or _no_counters
        self._population_hours = population_hours or _no_population_hours
        self._catalog = catalog or _no_catalog
        self._customer_records = customer_records or _no_customer_records
        self._campaign_metrics = campaign_metrics or (lambda: False)
        self._unsubscribe_keys = unsubscribe_keys or (lambda: signing_keys(settings.UnsubscribeSettings()))
        self._feedback = feedback or (lambda: feedback_rules(settings.FeedbackSettings()))
        self._recovery = recovery or (lambda: recovery_timings(settings.SweepSettings()))
        self._store, self._queue, self._dead_letters = store, queue, dead_letters
        self._schedules, self._mailer, self._keys = schedules, mailer, keys
        self._content, self._mail, self._max_receive_count = content, mail, max_receive_count

    @cached_property
    def store(self) -> Store:
        return self._store()

    @cached_property
    def queue(self) -> EventQueue:
        return self._queue()

    @cached_property
    def dead_letters(self) -> DeadLetters:
        return self._dead_letters()

    @cached_property
    def schedules(self) -> Schedules:
        return self._schedules()

    @cached_property
    def mailer(self) -> Mailer:
        return self._mailer()

    @cached_property
    def keys(self) -> Keys:
        return self._keys()

    @cached_property
    def content(self) -> Content:
        return self._content()

    @cached_property
    def mail(self) -> MailIdentity:
        return self._mail()

    @cached_property
    def unsubscribe_keys(self) -> UnsubscribeKeys:
        """The keys that sign and check one-click unsubscribe links (checked when called)."""
        return self._unsubscribe_keys()

    @cached_property
    def counters(self) -> Counters:
        """The report's counters (the reports table)."""
        return self._counters()

    @cached_property
    def catalog(self) -> Catalog:
        """Products and the customers interested in them (the catalog table)."""
        return self._catalog()

    @cached_property
    def customer_records(self) -> CustomerRecords:
        """One customer's decisions page by page, and what a privacy request exports or erases."""
        return self._customer_records()

    @cached_property
    def population_hours(self) -> PopulationHours:
        """Every customer's engagement hours, for `send_time: optimal`: read at most once per 15 minutes."""
        return self._population_hours(self.clock)

    @cached_property
    def campaign_metrics(self) -> bool:
        """Whether the reports function publishes the funnel per campaign (CAMPAIGN_METRICS)."""
        return self._campaign_metrics()

    @cached_property
    def allowed_origins(self) -> frozenset[str]:
        """The origins whose pages may send events to ingest from a browser (RIGHTTIME_ALLOWED_ORIGINS)."""
        return self._allowed_origins()

    @cached_property
    def max_receive_count(self) -> int:
        """The events queue's maxReceiveCount: on the last try a failing event is dead-lettered."""
        return self._max_receive_count()

    @cached_property
    def feedback(self) -> FeedbackRules:
        """What SES's events lead to (TRANSIENT_BOUNCES_TO_SUPPRESS)."""
        return self._feedback()

    @cached_property
    def recovery(self) -> RecoveryTimings:
        """The sweeper's waits (UNKNOWN_TIMEOUT_MINUTES)."""
        return self._recovery()


def from_environment(
    env: Mapping[str, str], clock: Clock | None = None, clients: Clients | None = None
) -> Root:
    """The AWS adapters, configured from `env` (a deployed function's environment, or local mode's)."""
    env = dict(env)
    cached: list[Clients] = [clients] if clients is not None else []

    def aws() -> Clients:
        if not cached:
            from righttime.adapters.clients import Clients, Connection

            cached.append(Clients(Connection.from_environment(env)))
        return cached[0]

    def store() -> Store:
        from righttime.adapters.dynamodb import DynamoStore

        tables = settings.load(settings.TableSettings, env)
        return DynamoStore(
            aws().dynamodb(),
            profiles_table=tables.profiles_table,
            messages_table=tables.messages_table,
            suppression_table=tables.suppression_table,
            retention=timedelta(days=tables.retention_days),
        )

    def queue() -> EventQueue:
        from righttime.adapters.queue import SqsEventQueue

        return SqsEventQueue(aws().sqs(), settings.load(settings.IngestSettings, env).events_queue_url)

    def dead_letters() -> DeadLetters:
        from righttime.adapters.queue import SqsDeadLetters

        return SqsDeadLetters(aws().sqs(), settings.load(settings.DeadLetterSettings, env).events_dlq_url)

    def schedules() -> Schedules:
        from righttime.adapters.schedules import EventBridgeSchedules, ScheduleTarget

        config = settings.load(settings.ScheduleSettings, env)
        target = ScheduleTarget(
            group=config.schedule_group,
            sender_function_arn=config.sender_function_arn,
            role_arn=config.scheduler_role_arn,
            dead_letter_arn=config.schedule_dlq_arn,
            max_retry_attempts=config.max_retry_attempts,
            max_event_age_seconds=config.max_event_age_seconds,
        )
        return EventBridgeSchedules(aws().scheduler(), target)

    def counters() -> Counters:
        from righttime.adapters.reports import DynamoCounters

        return DynamoCounters(aws().dynamodb(), settings.load(settings.ReportSettings, env).reports_table)

    def catalog() -> Catalog:
        from righttime.adapters.catalog import DynamoCatalog

        return DynamoCatalog(aws().dynamodb(), settings.load(settings.CatalogSettings, env).catalog_table)

    def population_hours(clock: Clock) -> PopulationHours:
        from righttime.adapters.reports import DynamoCounters
        from righttime.stages.send_time import PopulationHours

        table = settings.load(settings.ReportSettings, env).reports_table
        return PopulationHours(DynamoCounters(aws().dynamodb(), table), clock)

    def customer_records() -> CustomerRecords:
        from righttime.adapters.privacy import DynamoCustomerRecords

        tables = settings.load(settings.TableSettings, env)
        catalog = env.get("CATALOG_TABLE") and settings.load(settings.CatalogSettings, env).catalog_table
        return DynamoCustomerRecords(
            aws().dynamodb(),
            profiles_table=tables.profiles_table,
            messages_table=tables.messages_table,
            suppression_table=tables.suppression_table,
            catalog_table=catalog or None,
        )

    def mailer() -> Mailer:
        from righttime.adapters.mailer import SesMailer

        return SesMailer(aws().sesv2(), settings.load(settings.MailSettings, env).configuration_set)

    return Root(
        clock=clock or SystemClock(),
        store=store,
        queue=queue,
        dead_letters=dead_letters,
        schedules=schedules,
        mailer=mailer,
        customer_records=customer_records,
        keys=lambda: api_keys(settings.load(settings.KeySettings, env), lambda: aws().ssm()),
        content=lambda: content_from(settings.load(settings.ContentSettings, env)),
        mail=lambda: mail_identity(env, lambda: aws().ssm()),
        max_receive_count=lambda: settings.load(settings.DeadLetterSettings, env).max_receive_count,
        feedback=lambda: feedback_rules(settings.load(settings.FeedbackSettings, env)),
        recovery=lambda: recovery_timings(settings.load(settings.SweepSettings, env)),
        unsubscribe_keys=lambda: signing_keys(
            settings.load(settings.UnsubscribeSettings, env), lambda: aws().ssm()
        ),
        counters=counters,
        population_hours=population_hours,
        catalog=catalog,
        campaign_metrics=lambda: settings.load(settings.CampaignMetricSettings, env).campaign_metrics,
        allowed_origins=lambda: settings.load(settings.CorsSettings, env).origins,
    )


def _no_catalog() -> Catalog:
    raise ConfigurationError("this process has no product catalog: set CATALOG_TABLE")


def _no_customer_records() -> CustomerRecords:
    raise ConfigurationError("this process reads no customer records: it has no DynamoDB tables")


def _no_population_hours(_clock: Clock) -> PopulationHours:
    raise ConfigurationError("this process reads no engagement hours: set REPORTS_TABLE")


def _no_counters() -> Counters:
    raise ConfigurationError("this process keeps no report counters: set REPORTS_TABLE")


def recovery_timings(config: settings.SweepSettings) -> RecoveryTimings:
    """The sweeper's waits, from its settings."""
    from righttime.core.recovery import RecoveryTimings

    return RecoveryTimings(unknown_timeout=timedelta(minutes=config.unknown_timeout_minutes))


def feedback_rules(config: settings.FeedbackSettings) -> FeedbackRules:
    """The feedback stage's rules, from its settings."""
    from righttime.stages.feedback import FeedbackRules

    return FeedbackRules(transient_bounces_to_suppress=config.transient_bounces_to_suppress)


def api_keys(config: settings.KeySettings, ssm: Callable[[], SSMClient] | None = None) -> Keys:
    """Write and admin keys from SSM (through `ssm`'s client) when a parameter is named, else from the
    inline setting."""
    from righttime.adapters.keys import ApiKeys, KeySource, missing_keys, split_keys, ssm_keys, static_keys

    def source(
        parameter: str | None, inline: str | None, what: str, parameter_env: str, inline_env: str
    ) -> KeySource:
        if parameter:
            if ssm is None:  # an engine without AWS (simulation): fails only if these keys are checked
                return missing_keys(f"{parameter_env} is set, but nothing here reads SSM: set {inline_env}")
            return ssm_keys(ssm(), parameter, what, config.cache_seconds)
        if inline:
            return static_keys(split_keys(inline, inline_env))
        return missing_keys(f"no {what} keys: set {parameter_env} (AWS) or {inline_env} (local)")

    return ApiKeys(
        write=source(
            config.write_keys_parameter,
            config.write_keys,
            "write",
            "WRITE_KEYS_PARAMETER",
            "RIGHTTIME_WRITE_KEYS",
        ),
        admin=source(
            config.admin_keys_parameter,
            config.admin_keys,
            "admin",
            "ADMIN_KEYS_PARAMETER",
            "RIGHTTIME_ADMIN_KEYS",
        ),
    )


def mail_identity(env: Mapping[str, str], ssm: Callable[[], SSMClient] | None = None) -> MailIdentity:
    from righttime.stages.send import MailIdentity
    from righttime.stages.unsubscribe import OneClick

    config = settings.load(settings.MailSettings, env)
    unsubscribe = settings.load(settings.UnsubscribeSettings, env)
    # An empty UNSUBSCRIBE_URL (a simulation) turns the links off.
    one_click = OneClick(unsubscribe.url, signing_keys(unsubscribe, ssm)) if unsubscribe.url else None
    return MailIdentity(config.sender_address, config.sender_name, config.unsubscribe_mailto, one_click)


def signing_keys(
    config: settings.UnsubscribeSettings, ssm: Callable[[], SSMClient] | None = None
) -> UnsubscribeKeys:
    """The one-click unsubscribe keys, from SSM (through `ssm`'s client) when a parameter is named, else from
    the inline setting; a missing or malformed set fails when a link is made or checked, naming the
    setting."""
    from righttime.adapters.keys import KeySource, missing_keys, split_keys, ssm_keys, static_keys
    from righttime.core.unsubscribe import SigningKey, parse_keys

    source: KeySource
    if config.keys_parameter and ssm is not None:
        source = ssm_keys(ssm(), config.keys_parameter, "unsubscribe", config.cache_seconds)
    elif config.keys_parameter:
        source = missing_keys("UNSUBSCRIBE_KEYS_PARAMETER is set, but nothing here reads SSM")
    elif config.keys:
        source = static_keys(split_keys(config.keys, "RIGHTTIME_UNSUBSCRIBE_KEYS"))
    else:
        source = missing_keys(
            "no unsubscribe keys: set UNSUBSCRIBE_KEYS_PARAMETER (AWS) or RIGHTTIME_UNSUBSCRIBE_KEYS (local)"
        )

    def keys() -> list[SigningKey]:
        try:
            return parse_keys(",".join(source()))
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc

    return keys


def content_from(config: settings.ContentSettings) -> Content:
    from righttime.wiring.content import Content

    return Content(config.campaigns_dir, config.templates_dir)


_current: Root | None = None


def root() -> Root:
    """The process's composition root: built from the environment on first use unless one was installed."""
    global _current  # noqa: PLW0603 - one root per Lambda container, by design
    if _current is None:
        _current = from_environment(os.environ)
    return _current


def warm(*parts: str) -> None:
    """In Lambda, build these collaborators of the root now, from a handler's module scope: INIT runs before
    the first event, so the clients and content every invocation needs are not hidden in the first call.

    `parts` name `Root` attributes, dotted for theirs (`content.renderer`). Elsewhere (tests, local mode,
    simulation), nothing happens: they install a root of their own after importing the handlers. A part
    whose settings are incomplete is left for the first call, where the handler reports the
    ConfigurationError as it does for any misconfiguration (a failed INIT would only say it failed).
    """
    if _current is not None or not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    built = root()
    for part in parts:
        target: object = built
        try:
            for name in part.split("."):
                target = getattr(target, name)
        except ConfigurationError:
            continue  # raised again, and reported, on first use: cached_property keeps no failure


def install(new: Root | None) -> Root | None:
    """Use `new` from now on (None: build from the environment again on next use); returns the previous."""
    global _current
    previous, _current = _current, new
    return previous
