"""Ports: what the use cases need from the world, as Protocols. Adapters implement them (DynamoDB, SQS,
EventBridge Scheduler, SES, SSM in `righttime.adapters`; in memory in `righttime_dev.memory`), and the
composition root (`righttime.wiring.root`) decides which ones a process gets.

The exceptions here are part of the contracts: every implementation raises them in the same situations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol

from righttime.core.catalog import Interest, Product
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage
from righttime.core.events import QueuedEvent
from righttime.core.policy import Move, Plan
from righttime.core.profiles import Profile
from righttime.core.send_time import HourCounts

# -- storage -----------------------------------------------------------------------------------------------


@dataclass
class Conflict(Exception):
    """Someone else changed what a plan was based on; re-read and plan again.

    `settled` holds the ids of messages that are no longer pending (sent or cancelled meanwhile).
    """

    settled: set[str]
    #: labels of the writes whose condition failed ("profile", "message:<id>", ...)
    failed: set[str]


class TooManyWrites(Exception):
    """One event would change more messages than one atomic write holds. Retrying cannot help: the event
    goes to the dead-letter queue with this reason, and nothing of it is written."""


class Claim(StrEnum):
    """What a claim on a message came to."""

    #: this attempt holds the message until its lease runs out
    CLAIMED = "claimed"
    #: another attempt holds it, or it is no longer pending
    TAKEN = "taken"
    #: the customer's profile changed since the send was decided: decide again
    STALE = "stale"


class Store(Protocol):
    """Profiles, messages, decisions and suppression for one deployment."""

    def get_profile(self, customer_id: str) -> Profile:
        """The stored profile, or a new empty one (version 0) for a customer seen for the first time."""
        ...

    def commit_plan(self, plan: Plan, read_version: int, now: datetime) -> None:
        """Write everything one event changed, atomically (the profile records the event's messageId).
        Raises Conflict if the profile or a message changed since they were read."""
        ...

    def commit_merge(
        self, plan: Plan, read_version: int, other: Plan, other_read_version: int, now: datetime
    ) -> None:
        """Commit `plan` and the other profile's `other` (a merged profile's tombstone, the messages it
        closes, its decisions) in one atomic write, each profile on the version it was read at
        (docs/identity.md). Raises Conflict if either profile or a message changed since it was read."""
        ...

    def load_for_send(
        self, customer_id: str, message_id: str, planned_address_key: str | None
    ) -> tuple[Profile, OutboundMessage | None, str | None]:
        """Profile, message and the suppression reason of the address, as one consistent read."""
        ...

    def claim(
        self,
        message: OutboundMessage,
        profile_version: int,
        attempt_id: str,
        now: datetime,
        lease_until: datetime,
    ) -> Claim:
        """Lease a pending message to one attempt, if the profile is still at `profile_version`; repeating the
        same attempt's claim succeeds again."""
        ...

    def start_attempt(self, message: OutboundMessage, attempt_id: str, now: datetime) -> bool:
        """Record that this attempt is about to call the mail service (False: it lost the message)."""
        ...

    def finish(
        self,
        message: OutboundMessage,
        attempt_id: str,
        status: MessageStatus,
        decision: Decision,
        now: datetime,
        *,
        ses_message_id: str | None = None,
    ) -> bool:
        """Settle what an attempt did, with its decision, in one write on the message alone."""
        ...

    def apply_to_profile(self, customer_id: str, change: Callable[[Profile], bool]) -> None:
        """Apply an idempotent `change` to the profile, retrying with backoff while others write it."""
        ...

    def record_decision(self, decision: Decision, position: tuple[int, int]) -> None:
        """Record a decision that changes no state (a note on what happened); `position` orders it among
        the decisions of the same instant."""
        ...

    def settle(
        self,
        profile: Profile,
        message: OutboundMessage,
        status: MessageStatus,
        decision: Decision,
        now: datetime,
        change: Callable[[Profile], object],
        *,
        ses_message_id: str | None = None,
    ) -> bool:
        """Give a message its final status, record the decision and `change` the profile, atomically."""
        ...

    def defer(
        self,
        profile: Profile,
        message: OutboundMessage,
        move: Move,
        decision: Decision,
        now: datetime,
        change: Callable[[Profile], object],
        *,
        attempt_id: str | None = None,
        attempts: int | None = None,
    ) -> bool:
        """Move a pending message (or one `attempt_id` holds) later, with the profile's reference."""
        ...

    def suppression_reason(self, address: str) -> str | None: ...

    def suppress(self, address: str, reason: str, now: datetime) -> None: ...

    def get_message(self, customer_id: str, message_id: str) -> OutboundMessage | None: ...

    def decisions(self, customer_id: str, campaign_id: str | None = None) -> Iterator[Decision]:
        """Every decision recorded for a customer, oldest first (optionally for one campaign)."""
        ...

    def messages_of(self, customer_id: str) -> list[OutboundMessage]: ...

    # -- sweeping: the in-flight index (`righttime.core.recovery`) ------------------------------------------

    def due_in_flight(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(customer id, message id) of at most `limit` messages of one shard of the in-flight index due a
        look by `now`, the longest overdue first."""
        ...

    def give_back(
        self,
        profile: Profile,
        message: OutboundMessage,
        move: Move,
        decision: Decision,
        now: datetime,
        change: Callable[[Profile], object],
        *,
        resends: int | None = None,
    ) -> bool:
        """Make a pending, sending (SES never called) or unknown message pending again as `move`'s generation,
        if nothing changed since it was read."""
        ...

    def watch_again(self, message: OutboundMessage, at: datetime) -> bool:
        """Have the sweeper look at `message` again at `at`, if it is still as it was read."""
        ...

    def stop_watching(self, message: OutboundMessage) -> bool:
        """Take a settled message out of the in-flight index, if it is still as it was read."""
        ...

    # -- the date index: profiles with something due (`righttime.core.due`) ---------------------------------

    def due_customers(self, shard: int, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """(customer id, due instant) of at most `limit` profiles of one shard of the date index due by
        `now`, the earliest first."""
        ...

    def postpone_due(self, customer_id: str, seen_due_at: datetime, until: datetime) -> bool:
        """Move the customer's date index entry from `seen_due_at` to `until` (the profile itself is left
        as it is), if it still says `seen_due_at`; False if a profile write moved it on since."""
        ...

    # -- feedback: what SES's events change (`righttime.stages.feedback`) ------------------------------------

    def ses_accepted(
        self,
        message: OutboundMessage,
        attempt_id: str | None,
        ses_message_id: str,
        decision: Decision,
        now: datetime,
    ) -> SesAcceptance:
        """SES's events prove it accepted `message`: settle it as sent with `decision`, unless it is settled
        already or the attempt that sent it still holds a live lease (then only note `ses_message_id`)."""
        ...

    def record_feedback(self, message: OutboundMessage, field: str, at: datetime, decision: Decision) -> bool:
        """Stamp the message's `field` (`delivered_at`, `bounced_at`, ...) with `at` and record `decision`,
        atomically, the first time only: False if the message already has it (a repeated event) or is gone."""
        ...

    def suppress_address(self, address: str, reason: str, at: datetime, message_id: str) -> bool:
        """Put `address` on the suppression list for `reason`, unless it is there already (False); the
        first reason stays."""
        ...


class SesAcceptance(StrEnum):
    """What proof of SES's acceptance did to a message."""

    #: it was unknown, pending, or held by an attempt that is gone: now sent
    SETTLED = "settled"
    #: its sending attempt is still at work and will settle it; SES's id is noted on it
    IN_FLIGHT = "in_flight"
    #: already settled: nothing to do
    SETTLED_BEFORE = "settled_before"


# -- queues --------------------------------------------------------------------------------------------------


class EventQueue(Protocol):
    def send(self, events: Sequence[QueuedEvent]) -> None:
        """Queue every event, in order per customer, or raise QueueUnavailableError."""
        ...


class DeadLetters(Protocol):
    def send(self, body: str, group: str, dedupe: str, reason: str, error_type: str) -> None:
        """Park an event that can never be evaluated, with its reason."""
        ...


# -- schedules -----------------------------------------------------------------------------------------------


class Schedules(Protocol):
    def upsert(self, message: OutboundMessage, now: datetime) -> None:
        """Create the one-time schedule of the message's generation, or move it if it exists."""
        ...

    def delete(self, message_id: str, generation: int) -> bool:
        """Delete one generation's schedule; False if there was none."""
        ...


# -- mail ----------------------------------------------------------------------------------------------------


class SendRejected(Exception):
    """The mail service refused the message for good (bad address, unverified sender): retrying won't help."""


class SendUnavailable(Exception):
    """The mail service did not take the message, and may later (throttled, paused, unreachable)."""


class SendOutcomeUnknown(Exception):
    """The request may have reached the mail service (a timeout, a dropped connection, a server error): only
    the service's own events can say whether the message went out."""


#: the longest one `Mailer.send` may take, connection and answer included: the sender does not start a send
#: it cannot finish (and record) before its invocation's deadline
MAIL_CALL_SECONDS = 12


class Mailer(Protocol):
    def send(self, mime: EmailMessage, tags: dict[str, str]) -> str:
        """Send `mime`; return the provider's message id, or raise SendRejected, SendUnavailable or
        SendOutcomeUnknown."""
        ...


# -- keys ----------------------------------------------------------------------------------------------------


class Keys(Protocol):
    """API keys: write keys open ingestion, admin keys the read API. Comparisons are constant-time."""

    def is_write_key(self, candidate: str) -> bool: ...

    def is_admin_key(self, candidate: str) -> bool: ...


# -- report counters -----------------------------------------------------------------------------------------

#: one counter row's additions: counter name -> amount (an int, or a Decimal of revenue)
CounterRow = dict[str, int | Decimal]


class CountersUnavailable(Exception):
    """The counters could not be written or read just now (throttled, unreachable): try again later."""


class Counters(Protocol):
    """The report's counters: one row per (UTC day, campaign), added to atomically (docs/reporting.md)."""

    def add(self, batch: str, through: str, rows: dict[tuple[str, str], CounterRow], now: datetime) -> bool:
        """Add `rows` to the counters and record batch `batch` as added, `through` the position of its last
        record, all or nothing. False, adding nothing, when `batch` was added before. Raises
        CountersUnavailable."""
        ...

    def added_through(self, batch: str) -> str | None:
        """The position of the last record batch `batch` added, or None if it was never added."""
        ...

    def rows(self, day: str) -> Iterator[tuple[str, CounterRow]]:
        """(campaign, counters) of every campaign counted on UTC `day`. Raises CountersUnavailable."""
        ...


# -- the product catalog -------------------------------------------------------------------------------------


class Catalog(Protocol):
    """Products, and the customers interested in each (docs/content.md)."""

    def product(self, product_id: str) -> Product | None:
        """The product as stored (a consistent read), or None."""
        ...

    def products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """The stored products among `product_ids` (at most 100), by id; unknown ids are left out."""
        ...

    def put_product(self, product: Product, replaces: Product | None) -> bool:
        """Store `product` if the stored one is still `replaces` (None: there is none). False otherwise."""
        ...

    def add_interest(self, interest: Interest, expires_at: datetime) -> None:
        """Record (or renew) the customer's interest in the product until `expires_at`."""
        ...

    def interested(self, product_id: str, since: datetime, limit: int) -> list[Interest]:
        """Customers whose latest interest in the product is at or after `since`, the most recent first, at
        most `limit`."""
        ...

    def learn(
        self, key: str, partners: Sequence[str], weight: Decimal, order_tag: str, now: datetime
    ) -> bool:
        """Add `weight` to each partner of `key` (`P#<product>` or `C#<category>`), once per `order_tag`,
        atomically; prune the item to its heaviest partners when it has grown. False if the order was applied
        to it already."""
        ...

    def pairs(self, keys: Sequence[str]) -> dict[str, dict[str, Decimal]]:
        """The partners and weights of each of `keys` (at most 100) that has any."""
        ...


# -- the population's engagement hours (send-time optimisation) ----------------------------------------------


class EngagementHours(Protocol):
    """Every customer's opens and clicks by hour on their clock, kept beside the report's counters
    (righttime.core.report, `hours#<month>`)."""

    def population_hours(self, months: Sequence[str]) -> HourCounts:
        """The counts of the `months` partitions (`hours#2026-11`), summed. Raises CountersUnavailable."""
        ...


# -- privacy requests and the read API's pages ---------------------------------------------------------------


class InvalidCursor(ValueError):
    """A page cursor this deployment did not hand out (garbage, cut short or edited)."""


@dataclass(frozen=True)
class DecisionPage:
    """One page of a customer's decisions, the newest first; `next_cursor` reads on (None: that was all)."""

    decisions: list[Decision]
    next_cursor: str | None


class CustomerRecords(Protocol):
    """What righttime holds about one customer beyond the profile, read page by page and erased on request
    (docs/privacy.md). Every read is a Query on the customer's own partition or a GetItem by key."""

    def decisions_page(
        self, customer_id: str, campaign_id: str | None, limit: int, cursor: str | None
    ) -> DecisionPage:
        """At most `limit` decisions, the newest first, after `cursor` (a page's `next_cursor`); optionally
        of one campaign. Raises InvalidCursor."""
        ...

    def messages(self, customer_id: str, limit: int) -> tuple[list[OutboundMessage], bool]:
        """The customer's messages (at most `limit`), and whether there were more."""
        ...

    def interests(self, customer_id: str, product_ids: Sequence[str]) -> list[Interest]:
        """The customer's interest entries on the products named."""
        ...

    def suppression(self, keys: Sequence[str]) -> dict[str, str]:
        """The suppression reason stored under each of `keys` (hashed addresses or customers) that has one."""
        ...

    def suppress_erased(self, keys: Sequence[str], now: datetime) -> None:
        """Suppress every one of `keys` for `erased`, keeping no address in clear beside them."""
        ...

    def delete_interests(self, customer_id: str, product_ids: Sequence[str]) -> int:
        """Delete the customer's interest entries on the products named; how many there were."""
        ...

    def delete_records(self, customer_id: str, limit: int) -> tuple[int, int, bool]:
        """Delete at most `limit` of the customer's message and decision items: (messages, decisions) deleted,
        and whether any are left."""
        ...

    def delete_profile(self, customer_id: str) -> bool:
        """Delete the profile; False if there was none."""
        ...
