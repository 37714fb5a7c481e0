"""The in-memory engine: an adapter for every port, kept in this process, and a driver that runs the real
handlers on them. `righttime simulate` uses it by default; `--engine moto` runs the same journey on moto.

The adapters keep what DynamoDB would keep, in DynamoDB's own item form (so numbers, dates and missing
attributes read back exactly as they would from the tables), honour the same conditions (versions, claims,
de-duplication), and record the messages table's changes as its stream would. A contract suite
(tests/contract) runs every journey on both engines and asserts identical decisions and sends.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.utils import parseaddr
from functools import partial
from pathlib import Path
from typing import Any

from righttime.adapters.dynamodb import (
    DECISION_PREFIX,
    MAX_MESSAGE_WRITES,
    MAX_TRANSACTION_ITEMS,
    MESSAGE_PREFIX,
    decision_position,
    decision_sort_key,
    decisions_from_item,
    decisions_item,
    feedback_sort_key,
    profile_from_item,
    profile_item,
)
from righttime.adapters.items import from_item, to_item, to_values
from righttime.adapters.queue import dedupe_id, group_id
from righttime.adapters.schedules import at_expression, schedule_name, target_input
from righttime.core.addresses import address_key, normalise_address
from righttime.core.catalog import Interest, Product
from righttime.core.clock import Clock, isoformat
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage
from righttime.core.due import DUE_SHARDS, due_at_from_value, due_at_value
from righttime.core.events import QueuedEvent
from righttime.core.policy import Move, Plan
from righttime.core.profiles import Profile
from righttime.core.recommend import MAX_ORDERS, ORDERS_KEPT, PRUNE_AT, pruned
from righttime.core.recovery import inflight_shard, watch_at
from righttime.core.report import engagement_hour_ticks, hour_counts
from righttime.core.send_time import HourCounts
from righttime.stages.ports import Claim, Conflict, SesAcceptance, TooManyWrites
from righttime.stages.send_time import PopulationHours
from righttime.wiring import settings
from righttime.wiring.root import (
    Root,
    api_keys,
    content_from,
    feedback_rules,
    install,
    mail_identity,
    recovery_timings,
)
from righttime_dev.local.pipeline import Driver, Envelope, SentEmail, local_environment, quiet_powertools
from righttime_dev.local.provision import REGION, Stack, describe
from righttime_dev.local.ses_events import Fate, events_for_headers, simulator_fate

Item = dict[str, Any]
#: the same bound DynamoStore retries a profile write under
_PROFILE_ATTEMPTS = 5
#: SQS FIFO drops a repeated deduplication id within this long
_SQS_DEDUPE_WINDOW = timedelta(minutes=5)
#: later than any instant a profile can be due: the bound of a query for the earliest entry of the date index
_END_OF_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@dataclass(frozen=True)
class Change:
    """One record of the messages table's stream: the item before and after (either may be absent)."""

    keys: Item
    old: Item | None
    new: Item | None


class _Rejected(Exception):
    def __init__(self, failed: list[str]) -> None:
        self.failed = failed


class MemoryStore:
    """The `Store` port in memory: the four tables as dicts of DynamoDB items, and the messages stream."""

    #: `in_flight` split by shard, as the sweeper queries it: shard -> {(pk, sk): inflight_at}. Built on the
    #: sweeper's first query, then kept beside `in_flight`, so a query reads one shard, not every item.
    _by_shard: dict[str, dict[tuple[str, str], str]] | None = None

    def __init__(self, retention: timedelta = timedelta(days=90)) -> None:
        self.profiles: dict[str, Item] = {}
        self.messages: dict[str, dict[str, Item]] = {}  # pk -> sk -> item, as a partition and its sort keys
        self.suppression: dict[str, Item] = {}
        self.retention = retention
        self.stream: list[Change] = []
        #: the InFlight GSI: (pk, sk) -> (shard, inflight_at) of every message item that carries them
        self.in_flight: dict[tuple[str, str], tuple[str, str]] = {}
        #: the Profiles table's Due GSI: customer id -> (due_shard, due_at) of every profile that carries them
        self.due: dict[str, tuple[str, str]] = {}
        #: `due` by shard as heaps of (due_at, customer id); an entry `due` no longer holds is dropped when it
        #: comes to the top, so a query costs its matches (and a log), not the shard
        self._due_heaps: dict[str, list[tuple[str, str]]] = {}

    # -- profiles ------------------------------------------------------------------------------------------
    def get_profile(self, customer_id: str) -> Profile:
        item = self.profiles.get(customer_id)
        return profile_from_item(item) if item else Profile(customer_id=customer_id)

    # -- evaluation ----------------------------------------------------------------------------------------
    def commit_plan(self, plan: Plan, read_version: int, now: datetime) -> None:
        self._commit([(plan, read_version, "profile")], now)

    def commit_merge(
        self, plan: Plan, read_version: int, other: Plan, other_read_version: int, now: datetime
    ) -> None:
        self._commit([(plan, read_version, "profile"), (other, other_read_version, "other-profile")], now)

    def _commit(self, plans: list[tuple[Plan, int, str]], now: datetime) -> None:
        """Check every condition of every plan, then write them all: one transaction, as DynamoDB's."""
        checks: list[tuple[str, bool]] = []
        messages = 0
        for plan, read_version, label in plans:
            customer = plan.profile.customer_id
            checks.append((label, self._version_holds(customer, read_version)))
            checks += [
                (
                    f"message:{m.message_id}",
                    self._status_in(customer, m.message_id, (MessageStatus.PENDING,), True),
                )
                for m in plan.schedule
            ]
            checks += [
                (f"message:{mid}", self._status_in(customer, mid, (MessageStatus.PENDING,)))
                for mid, _, _ in plan.close
            ]
            checks += [
                (f"message:{m.message_id}", self._status_in(customer, m.message_id, (MessageStatus.PENDING,)))
                for m in plan.move
            ]
            messages += len(plan.schedule) + len(plan.close) + len(plan.move)
        # the other profile's put takes a message's room, as in DynamoStore
        if messages + len(plans) - 1 > MAX_TRANSACTION_ITEMS - 1 - len(plans):
            raise TooManyWrites(
                f"the event would change {messages} messages at once; one transaction holds "
                f"{MAX_MESSAGE_WRITES} (docs/limits.md)"
            )
        failed = [label for label, holds in checks if not holds]
        if failed:
            raise Conflict(
                settled={label.split(":", 1)[1] for label in failed if label.startswith("message:")},
                failed=set(failed),
            )
        for plan, read_version, _ in plans:
            self._write_plan(plan, read_version, now)

    def _write_plan(self, plan: Plan, read_version: int, now: datetime) -> None:
        profile = plan.profile.model_copy(update={"version": read_version + 1})
        customer = profile.customer_id
        self._put_profile(profile_item(profile))
        for message in plan.schedule:
            self._write_message(
                customer, message.message_id, partial(_scheduled, message=message, retention=self.retention)
            )
        for mid, status, decision in plan.close:
            self._write_message(customer, mid, partial(_closed, status=status, decision=decision, now=now))
        for move in plan.move:
            self._write_message(
                customer, move.message_id, partial(_moved, move=move, now=now, retention=self.retention)
            )
        if plan.decisions:
            self._put_decisions(plan.decisions, profile.version, 0)

    # -- sending -------------------------------------------------------------------------------------------
    def load_for_send(
        self, customer_id: str, message_id: str, planned_address_key: str | None
    ) -> tuple[Profile, OutboundMessage | None, str | None]:
        profile = self.get_profile(customer_id)
        message = self.get_message(customer_id, message_id)
        entry = self.suppression.get(planned_address_key) if planned_address_key else None
        suppressed = str(from_item(entry).get("reason", "suppressed")) if entry else None
        if profile.email and address_key(profile.email) != planned_address_key:
            suppressed = self.suppression_reason(profile.email)
        return profile, message, suppressed

    def suppression_reason(self, address: str) -> str | None:
        entry = self.suppression.get(address_key(address))
        return str(from_item(entry).get("reason", "suppressed")) if entry else None

    def suppress(self, address: str, reason: str, now: datetime) -> None:
        self.suppression[address_key(address)] = to_item_plain(
            address_key=address_key(address),
            address=normalise_address(address),
            reason=reason,
            at=isoformat(now),
        )

    def claim(
        self,
        message: OutboundMessage,
        profile_version: int,
        attempt_id: str,
        now: datetime,
        lease_until: datetime,
    ) -> Claim:
        customer, mid = message.customer_id, message.message_id
        mine = self._held_by(customer, mid, attempt_id)
        if not (mine or self._status_in(customer, mid, (MessageStatus.PENDING,))):
            return Claim.TAKEN
        if not self._version_holds(customer, profile_version):
            return Claim.STALE
        stamp = {
            "status": MessageStatus.SENDING.value,
            "attempt_id": attempt_id,
            "lease_until": isoformat(lease_until),
            "claimed_at": isoformat(now),
            "updated_at": isoformat(now),
            **_watch(mid, lease_until),
        }
        self._write_message(customer, mid, lambda old: _without(_set(old, stamp), "ses_called_at"))
        return Claim.CLAIMED

    def start_attempt(self, message: OutboundMessage, attempt_id: str, now: datetime) -> bool:
        customer, mid = message.customer_id, message.message_id
        if not self._held_by(customer, mid, attempt_id, (MessageStatus.SENDING,)):
            return False
        stamp = {"ses_called_at": isoformat(now), "updated_at": isoformat(now)}
        self._write_message(customer, mid, lambda old: _set(old, stamp))
        return True

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
        customer, mid = message.customer_id, message.message_id
        if not self._held_by(customer, mid, attempt_id, (MessageStatus.SENDING, MessageStatus.UNKNOWN)):
            return False
        self._write_message(
            customer,
            mid,
            partial(
                _closed,
                status=status,
                decision=decision,
                now=now,
                ses_message_id=ses_message_id,
                recorded=False,
            ),
        )
        self._put_decision(decision, *decision_position(message, status))
        return True

    def record_decision(self, decision: Decision, position: tuple[int, int]) -> None:
        self._put_decision(decision, *position)

    def apply_to_profile(self, customer_id: str, change: Callable[[Profile], bool]) -> None:
        updated = self.get_profile(customer_id)  # read from the item: a copy of its own, as DynamoDB's
        version = updated.version
        if change(updated):
            updated.version = version + 1
            self._put_profile(profile_item(updated))

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
        allowed = (MessageStatus.PENDING, MessageStatus.SENDING)
        return self._with_profile(
            profile,
            change,
            message,
            allowed,
            lambda old: _closed(old, status, decision, now, ses_message_id),
            decision,
        )

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
        if attempt_id is not None and not self._held_by(message.customer_id, message.message_id, attempt_id):
            return False
        allowed = (MessageStatus.SENDING if attempt_id is not None else MessageStatus.PENDING,)
        return self._with_profile(
            profile,
            change,
            message,
            allowed,
            lambda old: _moved(
                old, move, now, retention=self.retention, claimed=attempt_id is not None, attempts=attempts
            ),
            decision,
        )

    def _with_profile(
        self,
        profile: Profile,
        change: Callable[[Profile], object],
        message: OutboundMessage,
        allowed: tuple[MessageStatus, ...],
        update: Callable[[Item | None], Item],
        decision: Decision,
    ) -> bool:
        customer = profile.customer_id
        for _ in range(_PROFILE_ATTEMPTS):
            updated = profile.model_copy(deep=True)
            change(updated)
            updated.version = profile.version + 1
            failed = [
                label
                for label, holds in (
                    ("profile", self._version_holds(customer, profile.version)),
                    ("message", self._status_in(message.customer_id, message.message_id, allowed)),
                )
                if not holds
            ]
            if failed == ["profile"]:
                profile = self.get_profile(customer)
                continue
            if failed:
                return False  # the message was settled or moved by someone else
            self._put_profile(profile_item(updated))
            self._write_message(message.customer_id, message.message_id, update)
            self._put_decision(decision, updated.version, 0)
            return True
        raise RuntimeError(f"profile of {customer} kept changing; message left for a retry")

    # -- reading -------------------------------------------------------------------------------------------
    def get_message(self, customer_id: str, message_id: str) -> OutboundMessage | None:
        item = self.messages.get(customer_id, {}).get(MESSAGE_PREFIX + message_id)
        return OutboundMessage.model_validate(from_item(item)) if item else None

    def decisions(self, customer_id: str, campaign_id: str | None = None) -> Iterator[Decision]:
        partition = self.messages.get(customer_id, {})
        for sk in sorted(k for k in partition if k.startswith(DECISION_PREFIX)):
            for decision in decisions_from_item(partition[sk]):
                if campaign_id is None or decision.campaign_id == campaign_id:
                    yield decision

    def messages_of(self, customer_id: str) -> list[OutboundMessage]:
        partition = self.messages.get(customer_id, {})
        return [
            OutboundMessage.model_validate(from_item(partition[sk]))
            for sk in sorted(k for k in partition if k.startswith(MESSAGE_PREFIX))
        ]

    # -- feedback: what SES's events change ---------------------------------------------------------------
    def ses_accepted(
        self,
        message: OutboundMessage,
        attempt_id: str | None,
        ses_message_id: str,
        decision: Decision,
        now: datetime,
    ) -> SesAcceptance:
        customer, mid = message.customer_id, message.message_id
        item = self.messages.get(customer, {}).get(MESSAGE_PREFIX + mid)
        if item is None:
            return SesAcceptance.SETTLED_BEFORE
        status = item.get("status", {}).get("S")
        lease = item.get("lease_until", {}).get("S")
        live = (
            status == MessageStatus.SENDING.value
            and lease is not None
            and lease > isoformat(now)
            and (attempt_id is None or item.get("attempt_id") == {"S": attempt_id})
        )
        if live:
            self._write_message(customer, mid, lambda old: _set(old, {"ses_message_id": ses_message_id}))
            return SesAcceptance.IN_FLIGHT
        unresolved = (MessageStatus.UNKNOWN.value, MessageStatus.PENDING.value, MessageStatus.SENDING.value)
        if status not in unresolved:
            return SesAcceptance.SETTLED_BEFORE
        stamp = {
            "status": MessageStatus.SENT.value,
            "ses_message_id": ses_message_id,
            "updated_at": isoformat(now),
            "reasons": decision.reasons,
            **_watch(mid, watch_at(MessageStatus.SENT, now=now, recorded=False)),
        }
        self._write_message(customer, mid, lambda old: _set(old, stamp))
        self._put_feedback_decision(decision, "status")
        return SesAcceptance.SETTLED

    def record_feedback(self, message: OutboundMessage, field: str, at: datetime, decision: Decision) -> bool:
        feedback_sort_key(decision, field)  # the same refusal of an unknown field as DynamoStore
        item = self.messages.get(message.customer_id, {}).get(MESSAGE_PREFIX + message.message_id)
        if item is None or item.get(field, {"NULL": True}) != {"NULL": True}:
            return False
        self._write_message(
            message.customer_id, message.message_id, lambda old: _set(old, {field: isoformat(at)})
        )
        self._put_feedback_decision(decision, field)
        return True

    def suppress_address(self, address: str, reason: str, at: datetime, message_id: str) -> bool:
        if address_key(address) in self.suppression:
            return False
        self.suppression[address_key(address)] = to_item_plain(
            address_key=address_key(address),
            address=normalise_address(address),
            reason=reason,
            at=isoformat(at),
            message_id=message_id,
        )
        return True

    def _put_feedback_decision(self, decision: Decision, field: str) -> None:
        sk = feedback_sort_key(decision, field)
        item = decisions_item([decision], sk, decision.decided_at + self.retention)
        partition = self.messages.setdefault(decision.customer_id, {})
        old = partition.get(sk)
        partition[sk] = item
        self.stream.append(Change({"pk": {"S": decision.customer_id}, "sk": {"S": sk}}, old, item))

    # -- sweeping ------------------------------------------------------------------------------------------
    def due_in_flight(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """DynamoStore's Query on the in-flight index: one shard, due by `now`, by `inflight_at` then key."""
        due = isoformat(now)
        if self._by_shard is None:
            self._by_shard = {}
            for key, (in_shard, at) in self.in_flight.items():
                self._by_shard.setdefault(in_shard, {})[key] = at
        found = sorted(
            (at, pk, sk) for (pk, sk), at in self._by_shard.get(str(shard), {}).items() if at <= due
        )
        return [(pk, sk.removeprefix(MESSAGE_PREFIX)) for _, pk, sk in found[:limit]]

    def due_customers(self, shard: int, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """DynamoStore's Query on the date index: one shard, due by `now`, by `due_at` then customer id."""
        due, heap = due_at_value(now), self._due_heaps.get(str(shard), [])
        found: list[tuple[str, str]] = []
        while heap and len(found) < limit and heap[0][0] <= due:
            at, customer = heapq.heappop(heap)
            if self.due.get(customer) == (str(shard), at) and (at, customer) not in found[-1:]:
                found.append((at, customer))
        for entry in found:  # a read leaves the index as it was
            heapq.heappush(heap, entry)
        return [(customer, due_at_from_value(at)) for at, customer in found]

    def postpone_due(self, customer_id: str, seen_due_at: datetime, until: datetime) -> bool:
        item = self.profiles.get(customer_id)
        if item is None or item.get("due_at") != {"S": due_at_value(seen_due_at)}:
            return False
        self._put_profile({**item, "due_at": {"S": due_at_value(until)}})
        return True

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
        if not self._as_read(message):
            return False
        if message.status is not MessageStatus.PENDING:
            item = self.messages[message.customer_id][MESSAGE_PREFIX + message.message_id]
            if item.get("attempt_id") != {"S": message.attempt_id}:
                return False
            called = item.get("ses_called_at", {"NULL": True}) != {"NULL": True}
            if message.status is MessageStatus.SENDING and called:
                return False

        def pending_again(old: Item | None) -> Item:
            item = _moved(old, move, now, retention=self.retention)
            if resends is not None:
                item = _set(item, {"resends": resends})
            if message.status is MessageStatus.PENDING:
                return item
            claim = ("claimed_at", "attempt_id", "lease_until", "ses_called_at", "unknown_since")
            return _without(item, *claim)

        return self._with_profile(profile, change, message, (message.status,), pending_again, decision)

    def watch_again(self, message: OutboundMessage, at: datetime) -> bool:
        if not self._as_read(message):
            return False
        self._write_message(
            message.customer_id, message.message_id, lambda old: _set(old, {"inflight_at": isoformat(at)})
        )
        return True

    def stop_watching(self, message: OutboundMessage) -> bool:
        if not self._as_read(message):
            return False
        self._write_message(
            message.customer_id,
            message.message_id,
            lambda old: _without(old or {}, "inflight_shard", "inflight_at"),
        )
        return True

    def _as_read(self, message: OutboundMessage) -> bool:
        """DynamoStore's condition `status = :status AND generation = :generation`."""
        item = self.messages.get(message.customer_id, {}).get(MESSAGE_PREFIX + message.message_id)
        return (
            item is not None
            and item.get("status") == {"S": message.status.value}
            and item.get("generation") == {"N": str(message.generation)}
        )

    # -- the table's mechanics -----------------------------------------------------------------------------
    def _put_profile(self, item: Item) -> None:
        """Store a profile item; the date index follows it, as DynamoDB's sparse GSI does."""
        customer = item["customer_id"]["S"]
        self.profiles[customer] = item
        if "due_shard" not in item:
            self.due.pop(customer, None)
            return
        entry = (item["due_shard"]["S"], item["due_at"]["S"])
        if self.due.get(customer) != entry:
            self.due[customer] = entry
            heapq.heappush(self._due_heaps.setdefault(entry[0], []), (entry[1], customer))

    def _version_holds(self, customer_id: str, read_version: int) -> bool:
        stored = self.profiles.get(customer_id)
        if read_version == 0:
            return stored is None
        return stored is not None and stored.get("version") == {"N": str(read_version)}

    def _status_in(
        self, customer_id: str, message_id: str, statuses: tuple[MessageStatus, ...], absent_ok: bool = False
    ) -> bool:
        item = self.messages.get(customer_id, {}).get(MESSAGE_PREFIX + message_id)
        if item is None:
            return absent_ok
        return item.get("status", {}).get("S") in {s.value for s in statuses}

    def _held_by(
        self,
        customer_id: str,
        message_id: str,
        attempt_id: str,
        statuses: tuple[MessageStatus, ...] = (MessageStatus.SENDING,),
    ) -> bool:
        item = self.messages.get(customer_id, {}).get(MESSAGE_PREFIX + message_id)
        return (
            item is not None
            and item.get("attempt_id") == {"S": attempt_id}
            and item.get("status", {}).get("S") in {s.value for s in statuses}
        )

    def _write_message(
        self, customer_id: str, message_id: str, update: Callable[[Item | None], Item]
    ) -> None:
        sk = MESSAGE_PREFIX + message_id
        partition = self.messages.setdefault(customer_id, {})
        old = partition.get(sk)
        new = {**update(old), "pk": {"S": customer_id}, "sk": {"S": sk}}
        partition[sk] = new
        # The sparse index follows the item, as DynamoDB's GSI does (a message's shard never changes).
        key = (customer_id, sk)
        previous = self.in_flight.pop(key, None)
        if previous is not None and self._by_shard is not None:
            self._by_shard[previous[0]].pop(key, None)
        if "inflight_shard" in new:
            self.in_flight[key] = (new["inflight_shard"]["S"], new["inflight_at"]["S"])
            if self._by_shard is not None:
                self._by_shard.setdefault(new["inflight_shard"]["S"], {})[key] = new["inflight_at"]["S"]
        self.stream.append(Change({"pk": {"S": customer_id}, "sk": {"S": sk}}, old, new))

    def _put_decision(self, decision: Decision, version: int, index: int) -> None:
        self._put_decisions([decision], version, index)

    def _put_decisions(self, decisions: Sequence[Decision], version: int, index: int) -> None:
        """DynamoStore's decisions item: all of one commit's decisions in one item."""
        decision = decisions[0]
        sk = decision_sort_key(decision, version, index)
        item = decisions_item(decisions, sk, decisions[-1].decided_at + self.retention)
        partition = self.messages.setdefault(decision.customer_id, {})
        old = partition.get(sk)
        partition[sk] = item
        self.stream.append(Change({"pk": {"S": decision.customer_id}, "sk": {"S": sk}}, old, item))


def to_item_plain(**values: Any) -> Item:
    """An item from plain values (strings and numbers), in attribute-value form."""
    return to_values(values)


def _set(old: Item | None, values: dict[str, Any]) -> Item:
    return {**(old or {}), **to_values(values)}


def _scheduled(old: Item | None, message: OutboundMessage, retention: timedelta) -> Item:
    """DynamoStore's schedule update: every field but status and created_at, then pending, and created_at
    only the first time."""
    fields = to_item(message)
    fields.pop("status")
    created = fields.pop("created_at")
    for key in ("resends", "inflight_at"):
        fields.pop(key)
    empty = {k for k, v in fields.items() if v == {"NULL": True}}
    return {
        **{k: v for k, v in (old or {}).items() if k not in empty},
        **{k: v for k, v in fields.items() if k not in empty},
        **to_values(_watch(message.message_id, watch_at(MessageStatus.PENDING, send_at=message.send_at))),
        "expires_at": {"N": str(int((message.send_at + retention).timestamp()))},
        "status": {"S": MessageStatus.PENDING.value},
        "created_at": (old or {}).get("created_at", created),
    }


def _closed(
    old: Item | None,
    status: MessageStatus,
    decision: Decision,
    now: datetime,
    ses_message_id: str | None = None,
    recorded: bool = True,
) -> Item:
    values: dict[str, Any] = {
        "status": status.value,
        "updated_at": isoformat(now),
        "reasons": decision.reasons,
    }
    if ses_message_id is not None:
        values["ses_message_id"] = ses_message_id
    if status is MessageStatus.UNKNOWN and "unknown_since" not in (old or {}):
        values["unknown_since"] = isoformat(now)
    watch = watch_at(status, now=now, recorded=recorded)
    if watch is None:
        return _without(_set(old, values), "inflight_shard", "inflight_at")
    return _set(old, {**values, **_watch((old or {})["message_id"]["S"], watch)})


def _watch(message_id: str, at: datetime | None) -> dict[str, str]:
    """DynamoStore's in-flight index attributes (watch_values), as plain values."""
    assert at is not None
    return {"inflight_shard": inflight_shard(message_id), "inflight_at": isoformat(at)}


def _without(item: Item, *names: str) -> Item:
    return {key: value for key, value in item.items() if key not in names}


def _moved(
    old: Item | None,
    move: Move,
    now: datetime,
    *,
    retention: timedelta,
    claimed: bool = False,
    attempts: int | None = None,
) -> Item:
    values: dict[str, Any] = {
        "send_at": isoformat(move.send_at),
        "expires_at": int((move.send_at + retention).timestamp()),
        "generation": move.generation,
        "reasons": move.reasons,
        "updated_at": isoformat(now),
        "status": MessageStatus.PENDING.value,
        **_watch(move.message_id, watch_at(MessageStatus.PENDING, send_at=move.send_at)),
    }
    if attempts is not None:
        values["attempts"] = attempts
    item = _set(old, values)
    return _without(item, "claimed_at", "attempt_id", "lease_until", "ses_called_at") if claimed else item


@dataclass
class QueuedRecord:
    message_id: str
    body: str
    group: str
    dedupe: str
    sent_at: datetime
    receive_count: int = 0


class MemoryQueue:
    """The `EventQueue` port in memory: FIFO, with SQS's five-minute de-duplication by id."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.waiting: deque[QueuedRecord] = deque()
        self._seen: dict[str, datetime] = {}
        #: (when, deduplication id) in the order seen, to forget ids once their window has passed
        self._seen_order: deque[tuple[datetime, str]] = deque()
        self._ids = itertools.count(1)

    def send(self, events: Sequence[QueuedEvent]) -> None:
        now = self.clock.now()
        while self._seen_order and now - self._seen_order[0][0] >= _SQS_DEDUPE_WINDOW:
            at, forgotten = self._seen_order.popleft()
            if self._seen.get(forgotten) == at:
                del self._seen[forgotten]
        for event in events:
            dedupe = dedupe_id(event.customer_id, event.message_id)
            seen = self._seen.get(dedupe)
            if seen is not None and now - seen < _SQS_DEDUPE_WINDOW:
                continue
            self._seen[dedupe] = now
            self._seen_order.append((now, dedupe))
            self.waiting.append(
                QueuedRecord(
                    f"memory-{next(self._ids):012d}",
                    event.model_dump_json(),
                    group_id(event.group_key),
                    dedupe,
                    now,
                )
            )


@dataclass
class MemoryDeadLetters:
    """The `DeadLetters` port in memory: what was parked, with its reason."""

    parked: list[dict[str, str]] = field(default_factory=list)

    def send(self, body: str, group: str, dedupe: str, reason: str, error_type: str) -> None:
        self.parked.append(
            {"body": body, "group": group, "dedupe": dedupe, "reason": reason, "error_type": error_type}
        )


class MemorySchedules:
    """The `Schedules` port in memory: one-time schedules by name, with EventBridge Scheduler's rules for
    names and `at()` instants. A heap keeps the next firing at hand whatever the number of schedules."""

    def __init__(self) -> None:
        self.schedules: dict[str, tuple[datetime, str]] = {}
        #: (instant, name, input) of every upsert; an entry no longer in `schedules` is skipped when met
        self._heap: list[tuple[datetime, str, str]] = []

    def upsert(self, message: OutboundMessage, now: datetime) -> None:
        expression = at_expression(message.send_at, now)
        at = datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC)
        name, payload = schedule_name(message.message_id, message.generation), target_input(message)
        self.schedules[name] = (at, payload)
        heapq.heappush(self._heap, (at, name, payload))

    def delete(self, message_id: str, generation: int) -> bool:
        return self.schedules.pop(schedule_name(message_id, generation), None) is not None

    def next_at(self) -> datetime | None:
        """When the earliest schedule fires, or None."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def take_due(self, now: datetime) -> list[tuple[datetime, str, str]]:
        """Every schedule due by `now`, earliest first (then by name), removed as firing removes them."""
        due: list[tuple[datetime, str, str]] = []
        while self._drop_stale() and self._heap[0][0] <= now:
            at, name, payload = heapq.heappop(self._heap)
            del self.schedules[name]
            due.append((at, name, payload))
        return due

    def _drop_stale(self) -> bool:
        while self._heap and self.schedules.get(self._heap[0][1]) != (self._heap[0][0], self._heap[0][2]):
            heapq.heappop(self._heap)
        return bool(self._heap)


class MemoryMailer:
    """The `Mailer` port in memory: every message accepted. Kept as SES keeps it, its bytes, when `serialise`;
    otherwise as built, until collected: a simulation that shows only To and Subject need not pay for the
    bytes (rendering, and so its failures, happen before the mailer is called either way)."""

    def __init__(self, serialise: bool = True) -> None:
        self.serialise = serialise
        self.accepted = 0
        self.sent: list[tuple[str, bytes]] = []
        self.built: list[tuple[str, EmailMessage]] = []

    def send(self, mime: EmailMessage, tags: dict[str, str]) -> str:
        self.accepted += 1
        ses_message_id = f"memory-{self.accepted:012d}"
        if self.serialise:
            self.sent.append((ses_message_id, mime.as_bytes()))
        else:
            self.built.append((ses_message_id, mime))
        return ses_message_id


class MemoryCatalog:
    """The `Catalog` port in memory: the same conditions as DynamoCatalog, and its index's order."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.items: dict[str, Product] = {}
        #: product id -> customer id -> (interest, expires at)
        self.interest: dict[str, dict[str, tuple[Interest, datetime]]] = {}
        #: P#<product> or C#<category> -> (partner weights, orders applied)
        self.pair_items: dict[str, tuple[dict[str, Decimal], set[str]]] = {}

    def product(self, product_id: str) -> Product | None:
        found = self.items.get(product_id)
        return found.model_copy(deep=True) if found is not None else None

    def products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        wanted = list(dict.fromkeys(product_ids))
        if len(wanted) > 100:
            raise ValueError(f"at most 100 products at a time, not {len(wanted)}")
        return {p: found for p in wanted if (found := self.product(p)) is not None}

    def put_product(self, product: Product, replaces: Product | None) -> bool:
        stored = self.items.get(product.product_id)
        if (stored is None) != (replaces is None):
            return False
        if stored is not None and replaces is not None and stored.updated_at != replaces.updated_at:
            return False
        self.items[product.product_id] = product.model_copy(deep=True)
        return True

    def add_interest(self, interest: Interest, expires_at: datetime) -> None:
        held = self.interest.setdefault(interest.product_id, {})
        old = held.get(interest.customer_id)
        if old is None or old[0].at <= interest.at:
            held[interest.customer_id] = (interest, expires_at)

    def learn(
        self, key: str, partners: Sequence[str], weight: Decimal, order_tag: str, now: datetime
    ) -> bool:
        weights, orders = self.pair_items.setdefault(key, ({}, set()))
        if order_tag in orders:
            return False
        orders.add(order_tag)
        for partner in partners:
            weights[partner] = weights.get(partner, Decimal(0)) + weight
        if len(weights) > PRUNE_AT:
            kept = pruned(weights)
            weights.clear()
            weights.update(kept)
        if len(orders) > MAX_ORDERS:  # as DynamoCatalog: the latest ORDERS_KEPT stay
            recent = sorted(orders, key=lambda tag: int(tag.split(":", 1)[0], 16))[-ORDERS_KEPT:]
            orders.clear()
            orders.update(recent)
        return True

    def pairs(self, keys: Sequence[str]) -> dict[str, dict[str, Decimal]]:
        if len(set(keys)) > 100:
            raise ValueError(f"at most 100 pairs items at a time, not {len(set(keys))}")
        return {
            k: dict(self.pair_items[k][0]) for k in dict.fromkeys(keys) if self.pair_items.get(k, ({},))[0]
        }

    def interested(self, product_id: str, since: datetime, limit: int) -> list[Interest]:
        now = self.clock.now()
        held = self.interest.get(product_id, {})
        for customer in [c for c, (_, expires) in held.items() if expires <= now]:
            del held[customer]  # what TTL would have deleted
        found = sorted((i for i, _ in held.values() if i.at >= since), key=lambda i: i.at, reverse=True)
        return found[:limit]


class MemoryEngagementHours:
    """The `EngagementHours` port in memory: every decision the pipeline records adds its engagement hour
    (core.report.engagement_hour_ticks), as the reports function adds it to the reports table."""

    def __init__(self) -> None:
        #: `hours#<month>` -> counter -> count
        self.rows: dict[str, dict[str, int]] = {}

    def count(self, decision: Decision) -> None:
        for tick in engagement_hour_ticks(decision):
            row = self.rows.setdefault(tick.day, {})
            row[tick.name] = row.get(tick.name, 0) + int(tick.amount)

    def population_hours(self, months: Sequence[str]) -> HourCounts:
        return hour_counts(self.rows.get(month, {}) for month in months)


class MemoryPipeline(Driver):
    """The real handlers on the in-memory adapters, driven as AWS would drive them."""

    def __init__(
        self,
        stack: Stack,
        clock: Clock,
        outbox: Path | None,
        *,
        store: MemoryStore,
        queue: MemoryQueue,
        dead_letters: MemoryDeadLetters,
        schedules: MemorySchedules,
        mailer: MemoryMailer,
        max_receive_count: int,
    ) -> None:
        super().__init__(stack, clock, outbox)
        self.store, self.queue, self.dead_letters = store, queue, dead_letters
        self.schedules, self.mailer = schedules, mailer
        self.max_receive_count = max_receive_count
        self._stream_position = 0
        self._sequence = itertools.count(1)
        self._seen_mail = 0
        self._envelopes: list[Envelope] = []

    @classmethod
    def start(
        cls,
        template: Path,
        parameters: dict[str, str],
        clock: Clock,
        *,
        app: dict[str, str],
        outbox: Path | None = None,
        serialise_mail: bool = True,
    ) -> MemoryPipeline:
        """Read the template's functions and settings, build the in-memory adapters and install a composition
        root that hands them to every handler."""
        quiet_powertools()
        stack = describe(template, parameters)
        env = local_environment(stack, {}, app)
        tables = settings.load(settings.TableSettings, env)
        store = MemoryStore(timedelta(days=tables.retention_days))
        queue, dead_letters = MemoryQueue(clock), MemoryDeadLetters()
        schedules, mailer = MemorySchedules(), MemoryMailer(serialise=serialise_mail or outbox is not None)
        catalog = MemoryCatalog(clock)
        max_receive_count = settings.load(settings.DeadLetterSettings, env).max_receive_count
        hours = MemoryEngagementHours()
        root = Root(
            clock=clock,
            store=lambda: store,
            queue=lambda: queue,
            dead_letters=lambda: dead_letters,
            schedules=lambda: schedules,
            mailer=lambda: mailer,
            keys=lambda: api_keys(settings.load(settings.KeySettings, env)),
            content=lambda: content_from(settings.load(settings.ContentSettings, env)),
            mail=lambda: mail_identity(env),
            max_receive_count=lambda: max_receive_count,
            feedback=lambda: feedback_rules(settings.load(settings.FeedbackSettings, env)),
            recovery=lambda: recovery_timings(settings.load(settings.SweepSettings, env)),
            population_hours=lambda clock: PopulationHours(hours, clock),
            catalog=lambda: catalog,
        )
        install(root)
        pipeline = cls(
            stack,
            clock,
            outbox,
            store=store,
            queue=queue,
            dead_letters=dead_letters,
            schedules=schedules,
            mailer=mailer,
            max_receive_count=max_receive_count,
        )
        pipeline.on_decision.append(hours.count)
        return pipeline

    def pump_queue(self) -> int:
        """Deliver up to ten waiting events to evaluate as one SQS batch; failed ones wait again, and after
        the queue's last receive the redrive policy parks them."""
        batch = [self.queue.waiting.popleft() for _ in range(min(10, len(self.queue.waiting)))]
        if not batch:
            return 0
        for record in batch:
            record.receive_count += 1
        records = [
            {
                "messageId": r.message_id,
                "receiptHandle": r.message_id,
                "body": r.body,
                "attributes": {
                    "ApproximateReceiveCount": str(r.receive_count),
                    "SentTimestamp": str(int(r.sent_at.timestamp() * 1000)),
                    "MessageGroupId": r.group,
                    "MessageDeduplicationId": r.dedupe,
                    "SequenceNumber": r.message_id.removeprefix("memory-"),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:000000000000:EventsQueue.fifo",
                "awsRegion": REGION,
            }
            for r in batch
        ]
        with self.lock:
            result = self._invoke("EvaluateFunction", {"Records": records})
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        retry = [r for r in batch if r.message_id in failed]
        for record in reversed(retry):
            if record.receive_count >= self.max_receive_count:
                self.dead_letters.send(record.body, record.group, record.dedupe, "maxReceiveCount", "Redrive")
            else:
                self.queue.waiting.appendleft(record)
        return len(batch)

    def pump_stream(self) -> int:
        """Hand new decisions to `on_decision`, and new message changes (MSG# items, as the function's filter
        says) to the scheduler function, in one batch."""
        changes = self.store.stream[self._stream_position :]
        # Handed on, then dropped (a stream's records expire): a long simulation keeps no history of changes.
        self.store.stream.clear()
        self._stream_position = 0
        if not changes:
            return 0
        if self.on_decision:
            for change in changes:
                if change.old is None and change.keys["sk"]["S"].startswith(DECISION_PREFIX):
                    for decision in decisions_from_item(change.new or {}):
                        for callback in self.on_decision:
                            callback(decision)
        records = [self._stream_record(c) for c in changes if c.keys["sk"]["S"].startswith(MESSAGE_PREFIX)]
        if records:
            with self.lock:
                result = self._invoke("SchedulerFunction", {"Records": records})
            if (result or {}).get("batchItemFailures"):
                raise RuntimeError(f"scheduler failed stream records: {result}")
        return len(changes)

    def _stream_record(self, change: Change) -> dict[str, Any]:
        event = "INSERT" if change.old is None else "REMOVE" if change.new is None else "MODIFY"
        image: dict[str, Any] = {
            "Keys": change.keys,
            "SequenceNumber": str(next(self._sequence)),
            "SizeBytes": 0,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "ApproximateCreationDateTime": int(self.clock.now().timestamp()),
        }
        if change.old is not None:
            image["OldImage"] = change.old
        if change.new is not None:
            image["NewImage"] = change.new
        return {
            "eventID": image["SequenceNumber"],
            "eventName": event,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": image,
            "eventSourceARN": f"arn:aws:dynamodb:{REGION}:000000000000:table/MessagesTable/stream/memory",
        }

    def earliest_due(self) -> datetime | None:
        """The earliest instant of the date index: each shard's head, as a Query with Limit 1 reads it."""
        heads = (self.store.due_customers(shard, _END_OF_TIME, 1) for shard in range(DUE_SHARDS))
        return min((head[0][1] for head in heads if head), default=None)

    def due_schedules(self) -> list[tuple[datetime, str, str]]:
        return sorted((at, name, payload) for name, (at, payload) in self.schedules.schedules.items())

    def next_fire_at(self) -> datetime | None:
        return self.schedules.next_at()

    def fire_due(self) -> int:
        """Invoke the sender for every schedule whose instant has come, then delete it, as
        ActionAfterCompletion: DELETE does."""
        import json

        due = self.schedules.take_due(self.clock.now())
        for _, _, payload in due:
            with self.lock:
                self._invoke("SenderFunction", json.loads(payload))
        return len(due)

    def collect_sent(self) -> list[SentEmail]:
        if not self.mailer.serialise:
            self._collect_built()
            return []
        new = self.mailer.sent[self._seen_mail :]
        self._seen_mail = len(self.mailer.sent)
        return [self._deliver(ses_message_id, raw) for ses_message_id, raw in new]

    def collect_envelopes(self) -> list[Envelope]:
        if self.mailer.serialise:
            return super().collect_envelopes()
        self._collect_built()
        found, self._envelopes = self._envelopes, []
        return found

    def _collect_built(self) -> None:
        """What `_deliver` does for a message kept as built: SES's events from its headers, and its envelope
        for `collect_envelopes`; no bytes, no outbox."""
        new, self.mailer.built = self.mailer.built, []
        for ses_message_id, mime in new:
            to = parseaddr(str(mime["To"] or ""))[1]
            with self.lock:
                fate = simulator_fate(to) or self.ses_fates.get(normalise_address(to), Fate.DELIVER)
                self.ses_events += events_for_headers(
                    fate, mime, ses_message_id, self.clock.now(), self._configuration_set()
                )
            self._envelopes.append(Envelope.of(ses_message_id, mime))
