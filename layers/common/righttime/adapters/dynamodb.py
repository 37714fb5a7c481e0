"""DynamoDB access for profiles, messages, decisions and suppression.

Access patterns (docs/data-model.md has the full table and the cost arithmetic):
* profile by customer id ........ Profiles: GetItem / Put with an optimistic version check; the body is
                                  zlib-compressed JSON, because DynamoDB bills every started KB
* de-duplication by messageId ... the profile's `recent_events`, written in the same Put
* message by id (sender) ........ Messages: pk=customer_id, sk=MSG#<message_id>
* decisions by customer ......... Messages: pk=customer_id, sk begins_with DEC#; one item per commit
                                  holds all of that commit's decisions (compressed), TTL on expires_at
* pending messages by customer .. kept on the profile (`pending`), so exits need no extra read
* suppression by address ........ Suppression: pk=address_key (sha256 of the normalised address)
* customers due by an instant ... Profiles' sparse Due index: due_shard = s AND due_at <= now, per shard
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from righttime.adapters.items import from_item, to_item, to_values
from righttime.core.addresses import address_key, erased_customer_key, normalise_address
from righttime.core.clock import isoformat
from righttime.core.decisions import Decision, MessageStatus, OutboundMessage
from righttime.core.due import due_at_from_value, due_at_value, due_shard
from righttime.core.policy import Move, Plan
from righttime.core.profiles import Profile
from righttime.core.recovery import inflight_shard, watch_at
from righttime.stages.ports import Claim, Conflict, SesAcceptance, TooManyWrites

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MESSAGE_PREFIX = "MSG#"
DECISION_PREFIX = "DEC#"
#: the sparse index of messages in flight (docs/data-model.md): inflight_shard, inflight_at
INFLIGHT_INDEX = "InFlight"
#: the sparse index of profiles with something due (docs/data-model.md): due_shard, due_at
DUE_INDEX = "Due"
#: DynamoDB's limit on the items in one TransactWriteItems call
MAX_TRANSACTION_ITEMS = 100
#: messages one event may create, move or settle: the transaction also holds the profile and the decisions
MAX_MESSAGE_WRITES = MAX_TRANSACTION_ITEMS - 2
_PROFILE_ATTEMPTS = 5
#: tries of an idempotent profile change after a send, with backoff between them
_PROFILE_UPDATE_ATTEMPTS = 8


def message_key(customer_id: str, message_id: str) -> dict[str, Any]:
    return {"pk": {"S": customer_id}, "sk": {"S": MESSAGE_PREFIX + message_id}}


def watch_values(message_id: str, at: datetime | None) -> dict[str, Any]:
    """The in-flight index attributes of a message the sweeper should look at `at`, in attribute-value form
    (for None, the caller removes them: the message leaves the index)."""
    assert at is not None
    return {"inflight_shard": {"S": inflight_shard(message_id)}, "inflight_at": {"S": isoformat(at)}}


#: zlib's level for profile and decision bodies: 6 packs a 3.4 KB profile into about 0.9 KB in ~40 µs
_COMPRESSION = 6
#: A preset dictionary for profile bodies: what every profile's JSON repeats (its field names, those of the
#: models inside it, the shape of an instant). With it a mature profile packs into about 23 % fewer bytes,
#: which is what keeps it under the 1 KB a write unit covers. NEVER EDIT IT: stored bodies name it (zlib
#: writes the dictionary's Adler-32 into the stream) and need exactly these bytes to be read. A new dictionary
#: goes beside it, under its own checksum, in _PROFILE_DICTIONARIES.
_PROFILE_DICTIONARY_1 = (
    b'{"kind":"open","link":null}{"last_sent_at":"","sent_count":0,"keys":[]}{"product_id":"","sku":null,'
    b'"name":"","category":"","price":"","quantity":1,"url":"https://","image_url":"https://"}{"address_key":'
    b'"","count":0,"names":[]}{"campaign_id":"","message_id":"","send_at":"","trigger_at":"","desired_at":"",'
    b'"send_by":null,"priority":0,"promotional":true,"dedupe_key":null,"generation":0}'
    b'{"email":null,"first_name":null,"last_name":null,"timezone":null,"context_timezone":null,"locale":null,'
    b'"birthday":null,"unsubscribed":false,"traits":{},"cart":[],"cart_updated_at":null,"orders_count":0,'
    b'"lifetime_value":"0","last_order_at":null,"last_order_id":null,"last_order_categories":[],'
    b'"first_seen_at":null,"last_seen_at":null,"pending":{},"sends":[],"history":{},"recent_categories":{},'
    b'"dropped_traits":null,"engagement":[],"soft_bounces":[],"last_delivered_at":null,"recent_events":[]}'
    b'{"at":"2026-01-01T00:00:00Z","campaign_id":"","promotional":true,"message_id":""}'
)
_PROFILE_DICTIONARIES = {zlib.adler32(_PROFILE_DICTIONARY_1): _PROFILE_DICTIONARY_1}


def profile_item(profile: Profile) -> dict[str, Any]:
    """A profile as stored: its key and version as attributes (conditions read them), the rest as one
    JSON body compressed with the preset dictionary. A profile with something due also carries the date
    index's `due_shard` and `due_at` (`righttime.core.due`); one with nothing due carries neither."""
    packer = zlib.compressobj(_COMPRESSION, zdict=_PROFILE_DICTIONARY_1)
    # Fields at their defaults (empty lists, no program state, nothing due) are left out, and reading fills
    # them in again: each KB written is billed, and most customers use few of the profile's fields.
    fields = profile.model_dump_json(exclude={"customer_id", "version"}, exclude_defaults=True)
    body = packer.compress(fields.encode())
    item = {
        "customer_id": {"S": profile.customer_id},
        "version": {"N": str(profile.version)},
        "body": {"B": body + packer.flush()},
    }
    if profile.due_at is not None:
        item["due_shard"] = {"S": due_shard(profile.customer_id)}
        item["due_at"] = {"S": due_at_value(profile.due_at)}
    return item


def profile_from_item(item: dict[str, Any]) -> Profile:
    """A stored profile; one written before bodies were compressed is read attribute by attribute."""
    if "body" not in item:
        return Profile.model_validate(from_item(item))
    fields = json.loads(_inflate(_binary(item["body"])))
    fields |= {"customer_id": item["customer_id"]["S"], "version": int(item["version"]["N"])}
    return Profile.model_validate(fields)


def _inflate(body: bytes) -> bytes:
    """A zlib stream, with the preset dictionary its header names if it names one (RFC 1950's FDICT)."""
    if len(body) < 6 or not body[1] & 0x20:
        return zlib.decompress(body)
    checksum = int.from_bytes(body[2:6], "big")
    if checksum not in _PROFILE_DICTIONARIES:
        raise ValueError(f"profile body compressed with an unknown dictionary (Adler-32 {checksum:08x})")
    unpacker = zlib.decompressobj(zdict=_PROFILE_DICTIONARIES[checksum])
    return unpacker.decompress(body) + unpacker.flush()


def decisions_item(decisions: Sequence[Decision], sk: str, expires_at: datetime) -> dict[str, Any]:
    """One item for the decisions of one commit, however many campaigns it decided: the customer's key, a
    sort key, what a reader filters on, and the records as one compressed JSON list. DynamoDB's TTL deletes
    it after `expires_at`."""
    records = "[" + ",".join(d.model_dump_json() for d in decisions) + "]"
    return {
        "pk": {"S": decisions[0].customer_id},
        "sk": {"S": sk},
        "type": {"S": "decisions"},
        "campaigns": {"L": [{"S": d.campaign_id} for d in decisions]},
        "body": {"B": zlib.compress(records.encode(), _COMPRESSION)},
        "expires_at": {"N": str(int(expires_at.timestamp()))},
    }


def decisions_from_item(item: dict[str, Any]) -> list[Decision]:
    """The decisions one item holds, oldest first. It may come from a read (bytes) or from a stream record
    (base64 text); one written before decisions were grouped holds one decision as attributes."""
    if "body" not in item:
        return [Decision.model_validate(from_item(item))]
    return [Decision.model_validate(d) for d in json.loads(zlib.decompress(_binary(item["body"])))]


def _binary(attribute: dict[str, Any]) -> bytes:
    value = attribute["B"]
    return base64.b64decode(value) if isinstance(value, str) else bytes(value)


def decision_sort_key(decision: Decision, version: int, index: int) -> str:
    """Sortable by time, then by the profile version the decision was committed with, then by its place in
    that commit: decisions of one instant read back in the order they were made."""
    return (
        f"{DECISION_PREFIX}{isoformat(decision.decided_at)}#{version:012d}#{index:03d}#{decision.campaign_id}"
    )


def decision_position(message: OutboundMessage, status: MessageStatus) -> tuple[int, int]:
    """The sort-key position of a decision written without a profile version: the message's generation, then
    the status's place, so the same settlement written twice is the same item."""
    return message.generation, list(MessageStatus).index(status)


def _watch_expression_values(indexed: dict[str, Any]) -> dict[str, Any]:
    """The in-flight index attributes as the values `inflight_shard = :shard, inflight_at = :watch` uses."""
    return {":shard": indexed["inflight_shard"], ":watch": indexed["inflight_at"]}


#: message attributes SES's events stamp, in the order their decisions sort within one instant
FEEDBACK_FIELDS = (
    "status",
    "delivered_at",
    "bounced_at",
    "complained_at",
    "rejected_at",
    "rendering_failed_at",
    "delayed_at",
    "opened_at",
    "clicked_at",
    "unsubscribed_at",
)
#: the version slot of feedback decisions: after every decision the pipeline made in the same instant
_FEEDBACK_VERSION = 10**12 - 1


def feedback_sort_key(decision: Decision, field: str) -> str:
    """The sort key of a decision SES's event about `field` led to. It is made of the event's own time and
    the message id, so a repeated event lands on the same item, and two messages' never collide."""
    if field not in FEEDBACK_FIELDS:
        raise ValueError(f"{field!r} is not a feedback field: use one of {', '.join(FEEDBACK_FIELDS)}")
    index = 100 + FEEDBACK_FIELDS.index(field)
    return f"{decision_sort_key(decision, _FEEDBACK_VERSION, index)}#{decision.message_id}"


class DynamoStore:
    """The `Store` port on DynamoDB: three tables of one deployment."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        profiles_table: str,
        messages_table: str,
        suppression_table: str,
        retention: timedelta,
    ) -> None:
        self.client = client
        self.profiles = profiles_table
        self.messages = messages_table
        self.suppression = suppression_table
        #: how long decisions and messages are kept after their last instant (RETENTION_DAYS)
        self.retention = retention

    # -- profiles ------------------------------------------------------------------------------------------
    def get_profile(self, customer_id: str) -> Profile:
        """The stored profile, or a new empty one (version 0) for a customer seen for the first time."""
        response = self.client.get_item(
            TableName=self.profiles, Key={"customer_id": {"S": customer_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return profile_from_item(item) if item else Profile(customer_id=customer_id)

    # -- evaluation ----------------------------------------------------------------------------------------
    def commit_plan(self, plan: Plan, read_version: int, now: datetime) -> None:
        """Write everything one event changed at once: the profile (if nobody else changed it since
        `read_version`; it records the event's messageId), new, moved and settled messages, and one item with
        all of the event's decisions.

        An event that changes no message and decides nothing writes the profile alone: a conditional
        PutItem, at half a transaction's price. Raises Conflict if the plan is stale, TooManyWrites if the
        messages it changes don't fit in one transaction (then nothing is written).
        """
        profile, put, messages = self._plan_writes(plan, read_version, now)
        if not messages and not plan.decisions:
            try:
                self.client.put_item(**put)
            except self.client.exceptions.ConditionalCheckFailedException as exc:
                raise Conflict(settled=set(), failed={"profile"}) from exc
            return
        self._transact_plan(("profile", {"Put": put}), messages, [("decisions", plan, profile.version)])

    def commit_merge(
        self, plan: Plan, read_version: int, other: Plan, other_read_version: int, now: datetime
    ) -> None:
        """Commit a merge (docs/identity.md): both profiles, each with its own version condition, the known
        profile's new and moved messages, the anonymous profile's closed ones, and each side's decisions, in
        one TransactWriteItems. Raises Conflict if either side changed since it was read."""
        profile, put, messages = self._plan_writes(plan, read_version, now)
        tombstone, other_put, other_messages = self._plan_writes(other, other_read_version, now)
        decisions = [("decisions", plan, profile.version), ("other-decisions", other, tombstone.version)]
        self._transact_plan(
            ("profile", {"Put": put}),
            [("other-profile", {"Put": other_put}), *messages, *other_messages],
            decisions,
        )

    def _plan_writes(
        self, plan: Plan, read_version: int, now: datetime
    ) -> tuple[Profile, dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        """The profile as it will be stored, its conditional put, and the writes of the plan's messages."""
        profile = plan.profile.model_copy(update={"version": read_version + 1})
        put = self._profile_put(profile, read_version)
        messages: list[tuple[str, dict[str, Any]]] = [
            (f"message:{m.message_id}", {"Update": self._schedule_update(m)}) for m in plan.schedule
        ]
        messages += [
            (f"message:{mid}", {"Update": self._close_update(profile.customer_id, mid, status, d, now)})
            for mid, status, d in plan.close
        ]
        messages += [
            (f"message:{m.message_id}", {"Update": self._move_update(profile.customer_id, m, now)})
            for m in plan.move
        ]
        return profile, put, messages

    def _transact_plan(
        self,
        profile: tuple[str, dict[str, Any]],
        messages: list[tuple[str, dict[str, Any]]],
        decisions: list[tuple[str, Plan, int]],
    ) -> None:
        """One transaction: the profile, the messages, and each plan's decisions as one item."""
        # Each plan may hold a decisions item: room is kept for them whether or not they have any.
        if len(messages) > MAX_TRANSACTION_ITEMS - 1 - len(decisions):
            raise TooManyWrites(
                f"the event would change {len(messages)} messages at once; one transaction holds "
                f"{MAX_MESSAGE_WRITES} (docs/limits.md)"
            )
        items = [
            (label, {"Put": self._decisions_put(p.decisions, version, 0)})
            for label, p, version in decisions
            if p.decisions
        ]
        self._transact([profile, *messages, *items])

    def _profile_put(self, profile: Profile, read_version: int) -> dict[str, Any]:
        return {
            "TableName": self.profiles,
            "Item": profile_item(profile),
            **self._version_condition(read_version),
        }

    @staticmethod
    def _version_condition(read_version: int) -> dict[str, Any]:
        """The condition that the profile is still at `read_version` (version 0: there is none yet)."""
        if read_version == 0:
            return {"ConditionExpression": "attribute_not_exists(customer_id)"}
        return {
            "ConditionExpression": "#version = :read_version",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":read_version": {"N": str(read_version)}},
        }

    def _schedule_update(self, message: OutboundMessage) -> dict[str, Any]:
        # One expression creates a new message or moves a pending one; a message that was claimed, sent or
        # cancelled meanwhile fails the condition and the plan is made again.
        fields = to_item(message)
        # resends survive a re-plan (the one resend stays one); the index attributes are the store's own
        for key in ("status", "created_at", "resends", "inflight_at"):
            fields.pop(key)
        # An empty field is no attribute at all, rather than a NULL: DynamoDB bills attribute names too, and
        # a new message has a dozen empty ones (its SES stamps, its attempt). Readers see None either way.
        empty = sorted(k for k, v in fields.items() if v == {"NULL": True})
        for key in empty:
            fields.pop(key)
        fields |= watch_values(message.message_id, watch_at(MessageStatus.PENDING, send_at=message.send_at))
        fields["expires_at"] = self._expiry(message.send_at)
        names = {f"#{k}": k for k in [*fields, *empty]} | {"#status": "status", "#created_at": "created_at"}
        values = {f":{k}": v for k, v in fields.items()} | to_values(
            {
                ":pending": MessageStatus.PENDING.value,
                ":created_at": isoformat(message.created_at),
            }
        )
        sets = [f"#{k} = :{k}" for k in fields]
        sets += ["#status = :pending", "#created_at = if_not_exists(#created_at, :created_at)"]
        removes = " REMOVE " + ", ".join(f"#{k}" for k in empty) if empty else ""
        return {
            "TableName": self.messages,
            "Key": message_key(message.customer_id, message.message_id),
            "UpdateExpression": "SET " + ", ".join(sets) + removes,
            "ConditionExpression": "attribute_not_exists(sk) OR #status = :pending",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _expiry(self, send_at: datetime) -> dict[str, str]:
        """When DynamoDB's TTL may delete a message: RETENTION_DAYS after its send time. Every move of the
        send time moves it too, so a message is never deleted while it can still be sent."""
        return {"N": str(int((send_at + self.retention).timestamp()))}

    def _move_update(
        self,
        customer_id: str,
        move: Move,
        now: datetime,
        *,
        attempt_id: str | None = None,
        attempts: int | None = None,
    ) -> dict[str, Any]:
        """Move a pending message (or give back one an attempt holds, counting the failed attempt)."""
        sets = "SET send_at = :at, generation = :generation, reasons = :reasons, updated_at = :now"
        sets += ", #status = :pending, inflight_shard = :shard, inflight_at = :watch, expires_at = :expires"
        watch = watch_values(move.message_id, watch_at(MessageStatus.PENDING, send_at=move.send_at))
        values: dict[str, Any] = {
            ":at": isoformat(move.send_at),
            ":expires": int((move.send_at + self.retention).timestamp()),
            ":generation": move.generation,
            ":reasons": move.reasons,
            ":now": isoformat(now),
            ":pending": MessageStatus.PENDING.value,
            ":shard": watch["inflight_shard"]["S"],
            ":watch": watch["inflight_at"]["S"],
        }
        if attempts is not None:
            sets += ", attempts = :attempts"
            values[":attempts"] = attempts
        if attempt_id is None:
            condition, removes = "#status = :pending", ""
        else:
            condition = "#status = :sending AND attempt_id = :attempt"
            removes = " REMOVE claimed_at, attempt_id, lease_until, ses_called_at"
            values |= {":sending": MessageStatus.SENDING.value, ":attempt": attempt_id}
        return {
            "TableName": self.messages,
            "Key": message_key(customer_id, move.message_id),
            "UpdateExpression": sets + removes,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_values(values),
        }

    def _close_update(
        self,
        customer_id: str,
        message_id: str,
        status: MessageStatus,
        decision: Decision,
        now: datetime,
        *,
        ses_message_id: str | None = None,
        from_statuses: tuple[MessageStatus, ...] = (MessageStatus.PENDING,),
        attempt_id: str | None = None,
        recorded: bool = True,
    ) -> dict[str, Any]:
        """Settle a message (or leave it `unknown`); `recorded`: a send is recorded on the profile in the same
        transaction, so the message leaves the in-flight index (else the sweeper makes sure it is)."""
        values = to_values(
            {
                ":status": status.value,
                ":now": isoformat(now),
                ":reasons": decision.reasons,
                **{f":from{i}": s.value for i, s in enumerate(from_statuses)},
            }
        )
        sets = "#status = :status, updated_at = :now, reasons = :reasons"
        if ses_message_id is not None:
            values[":ses"] = {"S": ses_message_id}
            sets += ", ses_message_id = :ses"
        allowed = ", ".join(f":from{i}" for i in range(len(from_statuses)))
        condition = f"#status IN ({allowed})"
        if attempt_id is not None:
            values[":attempt"] = {"S": attempt_id}
            condition += " AND attempt_id = :attempt"
        if status is MessageStatus.UNKNOWN:
            sets += ", unknown_since = if_not_exists(unknown_since, :now)"
        watch = watch_at(status, now=now, recorded=recorded)
        removes = ""
        if watch is None:
            removes = " REMOVE inflight_shard, inflight_at"
        else:
            sets += ", inflight_shard = :shard, inflight_at = :watch"
            values |= _watch_expression_values(watch_values(message_id, watch))
        return {
            "TableName": self.messages,
            "Key": message_key(customer_id, message_id),
            "UpdateExpression": "SET " + sets + removes,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }

    def _decision_put(self, decision: Decision, version: int, index: int = 0) -> dict[str, Any]:
        return self._decisions_put([decision], version, index)

    def _decisions_put(self, decisions: Sequence[Decision], version: int, index: int) -> dict[str, Any]:
        sk = decision_sort_key(decisions[0], version, index)
        return {"TableName": self.messages, "Item": self._decisions_item(decisions, sk)}

    def _decisions_item(self, decisions: Sequence[Decision], sk: str) -> dict[str, Any]:
        return decisions_item(decisions, sk, decisions[-1].decided_at + self.retention)

    def _transact(self, writes: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            self.client.transact_write_items(TransactItems=[w for _, w in writes])  # type: ignore[misc]
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            failed = [
                writes[i][0] for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"
            ]
            if failed:
                raise Conflict(
                    settled={label.split(":", 1)[1] for label in failed if label.startswith("message:")},
                    failed=set(failed),
                ) from exc
            raise

    # -- sending -------------------------------------------------------------------------------------------
    def load_for_send(
        self, customer_id: str, message_id: str, planned_address_key: str | None
    ) -> tuple[Profile, OutboundMessage | None, str | None]:
        """Profile, message and the suppression entries of the address it was planned for and of the
        customer id (an erased customer's, docs/privacy.md), in one BatchGetItem.

        If the profile's address changed since, the new address's suppression entry is read as well.
        """
        erased_key = erased_customer_key(customer_id)
        suppression_keys = [erased_key, *([planned_address_key] if planned_address_key else [])]
        request: dict[str, Any] = {
            self.profiles: {"Keys": [{"customer_id": {"S": customer_id}}], "ConsistentRead": True},
            self.messages: {"Keys": [message_key(customer_id, message_id)], "ConsistentRead": True},
            self.suppression: {"Keys": [{"address_key": {"S": key}} for key in suppression_keys]},
        }
        found = self._batch_get(request)
        profile_items = found.get(self.profiles, [])
        profile = profile_from_item(profile_items[0]) if profile_items else Profile(customer_id=customer_id)
        message_items = found.get(self.messages, [])
        message = OutboundMessage.model_validate(from_item(message_items[0])) if message_items else None
        reasons = {
            item["address_key"]["S"]: str(from_item(item).get("reason", "suppressed"))
            for item in found.get(self.suppression, [])
        }
        suppressed = reasons.get(planned_address_key) if planned_address_key else None
        if profile.email and address_key(profile.email) != planned_address_key:
            suppressed = self.suppression_reason(profile.email)
        # An erased id stays suppressed whatever address a later event gives it.
        return profile, message, reasons.get(erased_key) or suppressed

    def _batch_get(self, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for _ in range(8):
            response = self.client.batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                found.setdefault(table, []).extend(items)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise RuntimeError("DynamoDB kept keys unprocessed in BatchGetItem")

    def suppression_reason(self, address: str) -> str | None:
        item = self.client.get_item(
            TableName=self.suppression, Key={"address_key": {"S": address_key(address)}}
        ).get("Item")
        return str(from_item(item).get("reason", "suppressed")) if item else None

    def suppress(self, address: str, reason: str, now: datetime) -> None:
        """Add `address` to the suppression list (bounces, complaints, manual)."""
        self.client.put_item(
            TableName=self.suppression,
            Item={
                "address_key": {"S": address_key(address)},
                "address": {"S": normalise_address(address)},
                "reason": {"S": reason},
                "at": {"S": isoformat(now)},
            },
        )

    def claim(
        self,
        message: OutboundMessage,
        profile_version: int,
        attempt_id: str,
        now: datetime,
        lease_until: datetime,
    ) -> Claim:
        """Lease a pending message to one sending attempt, if the profile is still the version the send was
        decided on. Repeating the same attempt's claim (a retry after a lost response) succeeds again."""
        check = {
            "TableName": self.profiles,
            "Key": {"customer_id": {"S": message.customer_id}},
            **self._version_condition(profile_version),
        }
        update = {
            "TableName": self.messages,
            "Key": message_key(message.customer_id, message.message_id),
            "UpdateExpression": "SET #status = :sending, attempt_id = :attempt, lease_until = :lease, "
            "claimed_at = :now, updated_at = :now, inflight_shard = :shard, inflight_at = :lease "
            "REMOVE ses_called_at",
            "ConditionExpression": "#status = :pending OR (#status = :sending AND attempt_id = :attempt)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_values(
                {
                    ":sending": MessageStatus.SENDING.value,
                    ":pending": MessageStatus.PENDING.value,
                    ":attempt": attempt_id,
                    ":lease": isoformat(lease_until),
                    ":now": isoformat(now),
                    ":shard": inflight_shard(message.message_id),
                }
            ),
        }
        try:
            self._transact([("profile", {"ConditionCheck": check}), ("message", {"Update": update})])
        except Conflict as conflict:
            return Claim.TAKEN if "message" in conflict.failed else Claim.STALE
        return Claim.CLAIMED

    def start_attempt(self, message: OutboundMessage, attempt_id: str, now: datetime) -> bool:
        """Record, before the mail service is called, that this attempt is calling it. False if the attempt
        no longer holds the message (its lease was recovered)."""
        try:
            self.client.update_item(
                TableName=self.messages,
                Key=message_key(message.customer_id, message.message_id),
                UpdateExpression="SET ses_called_at = :now, updated_at = :now",
                ConditionExpression="#status = :sending AND attempt_id = :attempt",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values(
                    {":sending": MessageStatus.SENDING.value, ":attempt": attempt_id, ":now": isoformat(now)}
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
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
        """Settle what one attempt did (sent, failed, or unknown until the mail service's events tell), with
        its decision: one conditional write on the message, which nothing on the profile can make fail."""
        update = self._close_update(
            message.customer_id,
            message.message_id,
            status,
            decision,
            now,
            ses_message_id=ses_message_id,
            from_statuses=(MessageStatus.SENDING, MessageStatus.UNKNOWN),
            attempt_id=attempt_id,
            recorded=False,
        )
        try:
            self._transact(
                [
                    ("message", {"Update": update}),
                    ("decision", {"Put": self._decision_put(decision, *decision_position(message, status))}),
                ]
            )
        except Conflict:
            return False
        return True

    def record_decision(self, decision: Decision, position: tuple[int, int]) -> None:
        self.client.put_item(**self._decision_put(decision, *position))

    def apply_to_profile(self, customer_id: str, change: Callable[[Profile], bool]) -> None:
        """Apply `change` to the stored profile with a version check, again and again with backoff while
        another writer gets in first. `change` must be idempotent and return False when there is nothing
        (left) to do."""
        for attempt in range(_PROFILE_UPDATE_ATTEMPTS):
            profile = self.get_profile(customer_id)
            updated = profile.model_copy(deep=True)
            if not change(updated):
                return
            updated.version = profile.version + 1
            try:
                # A plain conditional put, not a transaction: half the write units for the same guarantee.
                self.client.put_item(**self._profile_put(updated, profile.version))
            except self.client.exceptions.ConditionalCheckFailedException:
                time.sleep(min(0.05 * 2**attempt, 1.0))
                continue
            return
        raise RuntimeError(f"profile of {customer_id} kept changing; the change is left for a retry")

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
        """Give a message its final status, record the decision and `change` the profile (the send history
        caps count, the pending reference), atomically. False if the message was settled by someone else.

        `profile` is the one already read; if it changed since, it is read again and `change` re-applied.
        """
        update = self._close_update(
            message.customer_id,
            message.message_id,
            status,
            decision,
            now,
            ses_message_id=ses_message_id,
            from_statuses=(MessageStatus.PENDING, MessageStatus.SENDING),
        )
        return self._with_profile(profile, change, ("message", {"Update": update}), decision)

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
        """Move a pending message later (a new generation, so a new schedule) with the profile's reference;
        with `attempt_id`, give back a message that attempt holds, for another try."""
        update = self._move_update(message.customer_id, move, now, attempt_id=attempt_id, attempts=attempts)
        return self._with_profile(profile, change, ("message", {"Update": update}), decision)

    def _with_profile(
        self,
        profile: Profile,
        change: Callable[[Profile], object],
        message_write: tuple[str, dict[str, Any]],
        decision: Decision,
    ) -> bool:
        for _ in range(_PROFILE_ATTEMPTS):
            updated = profile.model_copy(deep=True)
            change(updated)
            updated.version = profile.version + 1
            writes = [
                ("profile", {"Put": self._profile_put(updated, profile.version)}),
                message_write,
                ("decision", {"Put": self._decision_put(decision, updated.version)}),
            ]
            try:
                self._transact(writes)
            except Conflict as conflict:
                if conflict.failed != {"profile"}:
                    return False  # the message was settled or moved by someone else
                profile = self.get_profile(profile.customer_id)
                continue
            return True
        raise RuntimeError(f"profile of {profile.customer_id} kept changing; message left for a retry")

    # -- reading -------------------------------------------------------------------------------------------
    def get_message(self, customer_id: str, message_id: str) -> OutboundMessage | None:
        item = self.client.get_item(
            TableName=self.messages, Key=message_key(customer_id, message_id), ConsistentRead=True
        ).get("Item")
        return OutboundMessage.model_validate(from_item(item)) if item else None

    def decisions(self, customer_id: str, campaign_id: str | None = None) -> Iterator[Decision]:
        """Every decision recorded for a customer, oldest first (optionally for one campaign)."""
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.messages,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": customer_id}, ":prefix": {"S": DECISION_PREFIX}},
        )
        for page in pages:
            for item in page.get("Items", []):
                for decision in decisions_from_item(item):
                    if campaign_id is None or decision.campaign_id == campaign_id:
                        yield decision

    def messages_of(self, customer_id: str) -> list[OutboundMessage]:
        """Every message planned for a customer (for explanations and tests)."""
        response = self.client.query(
            TableName=self.messages,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": customer_id}, ":prefix": {"S": MESSAGE_PREFIX}},
        )
        return [OutboundMessage.model_validate(from_item(item)) for item in response.get("Items", [])]

    # -- feedback: what SES's events change ---------------------------------------------------------------
    def ses_accepted(
        self,
        message: OutboundMessage,
        attempt_id: str | None,
        ses_message_id: str,
        decision: Decision,
        now: datetime,
    ) -> SesAcceptance:
        """Settle as sent a message SES's events prove it accepted: unknown, pending, or sending under an
        attempt that is gone (its lease ran out) or another than the one SES names. A live attempt's message
        only gets SES's id noted: that attempt settles and records it itself."""
        live = "#status = :sending AND lease_until > :now" + (
            " AND attempt_id = :attempt" if attempt_id else ""
        )
        values: dict[str, Any] = {
            ":sent": MessageStatus.SENT.value,
            ":unknown": MessageStatus.UNKNOWN.value,
            ":pending": MessageStatus.PENDING.value,
            ":sending": MessageStatus.SENDING.value,
            ":now": isoformat(now),
            ":ses": ses_message_id,
        }
        if attempt_id:
            values[":attempt"] = attempt_id
        update = {
            "TableName": self.messages,
            "Key": message_key(message.customer_id, message.message_id),
            # in flight until the stage records the send on the profile (or the sweeper does)
            "UpdateExpression": "SET #status = :sent, ses_message_id = :ses, updated_at = :now, "
            "reasons = :reasons, inflight_shard = :shard, inflight_at = :watch",
            "ConditionExpression": f"#status IN (:unknown, :pending, :sending) AND NOT ({live})",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_values({**values, ":reasons": decision.reasons})
            | _watch_expression_values(
                watch_values(message.message_id, watch_at(MessageStatus.SENT, now=now, recorded=False))
            ),
        }
        decision_put = {
            "TableName": self.messages,
            "Item": self._decisions_item([decision], feedback_sort_key(decision, "status")),
        }
        try:
            self._transact([("message", {"Update": update}), ("decision", {"Put": decision_put})])
        except Conflict:
            pass
        else:
            return SesAcceptance.SETTLED
        try:
            self.client.update_item(
                TableName=self.messages,
                Key=message_key(message.customer_id, message.message_id),
                UpdateExpression="SET ses_message_id = :ses",
                ConditionExpression=live,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values(values),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return SesAcceptance.SETTLED_BEFORE
        return SesAcceptance.IN_FLIGHT

    def record_feedback(self, message: OutboundMessage, field: str, at: datetime, decision: Decision) -> bool:
        """Stamp `field` on the message and record the decision, once: a repeated event finds the stamp."""
        update = {
            "TableName": self.messages,
            "Key": message_key(message.customer_id, message.message_id),
            "UpdateExpression": "SET #field = :at",
            # Messages written from the model hold the field as NULL until an event stamps it.
            "ConditionExpression": "attribute_exists(sk) AND (attribute_not_exists(#field) OR "
            "attribute_type(#field, :null))",
            "ExpressionAttributeNames": {"#field": field},
            "ExpressionAttributeValues": {":at": {"S": isoformat(at)}, ":null": {"S": "NULL"}},
        }
        decision_put = {
            "TableName": self.messages,
            "Item": self._decisions_item([decision], feedback_sort_key(decision, field)),
        }
        try:
            self._transact([("message", {"Update": update}), ("decision", {"Put": decision_put})])
        except Conflict:
            return False
        return True

    def suppress_address(self, address: str, reason: str, at: datetime, message_id: str) -> bool:
        """Put `address` on the suppression list, once: the first reason stays (False if it was there)."""
        try:
            self.client.put_item(
                TableName=self.suppression,
                Item={
                    "address_key": {"S": address_key(address)},
                    "address": {"S": normalise_address(address)},
                    "reason": {"S": reason},
                    "at": {"S": isoformat(at)},
                    "message_id": {"S": message_id},
                },
                ConditionExpression="attribute_not_exists(address_key)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # -- sweeping ------------------------------------------------------------------------------------------
    def due_in_flight(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(customer id, message id) of at most `limit` messages of one shard of the in-flight index that are
        due a look by `now`, the longest overdue first: a paginated Query on the sparse index, not a Scan."""
        found: list[tuple[str, str]] = []
        request: dict[str, Any] = {
            "TableName": self.messages,
            "IndexName": INFLIGHT_INDEX,
            "KeyConditionExpression": "inflight_shard = :shard AND inflight_at <= :now",
            "ExpressionAttributeValues": to_values({":shard": str(shard), ":now": isoformat(now)}),
        }
        while len(found) < limit:
            response = self.client.query(**request, Limit=limit - len(found))
            found += [
                (item["pk"]["S"], item["sk"]["S"].removeprefix(MESSAGE_PREFIX))
                for item in response.get("Items", [])
            ]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    def due_customers(self, shard: int, now: datetime, limit: int) -> list[tuple[str, datetime]]:
        """(customer id, due instant) of at most `limit` profiles of one shard of the date index due by `now`,
        the earliest first: a paginated Query on the sparse index, not a Scan, so it reads only matches."""
        found: list[tuple[str, datetime]] = []
        request: dict[str, Any] = {
            "TableName": self.profiles,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_shard = :shard AND due_at <= :now",
            "ExpressionAttributeValues": to_values({":shard": str(shard), ":now": due_at_value(now)}),
        }
        while len(found) < limit:
            response = self.client.query(**request, Limit=limit - len(found))
            found += [
                (item["customer_id"]["S"], due_at_from_value(item["due_at"]["S"]))
                for item in response.get("Items", [])
            ]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    def postpone_due(self, customer_id: str, seen_due_at: datetime, until: datetime) -> bool:
        """Move the customer's date index entry from `seen_due_at` to `until`, if it still says
        `seen_due_at`: False when a profile write moved it on (or removed it) since it was read. Only the
        index attribute changes: the body and version stay, so no writer's version check notices."""
        try:
            self.client.update_item(
                TableName=self.profiles,
                Key={"customer_id": {"S": customer_id}},
                UpdateExpression="SET due_at = :until",
                ConditionExpression="due_at = :seen",
                ExpressionAttributeValues=to_values(
                    {":seen": due_at_value(seen_due_at), ":until": due_at_value(until)}
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
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
        """Make `message` pending again as `move`'s generation, with its decision and the profile's reference,
        from the status the sweeper found it in: pending (its schedule was lost), sending (a lease that
        expired before SES was called) or unknown (the one resend, counted in `resends`). False if anything
        changed since it was read."""
        values: dict[str, Any] = {
            ":found": message.status.value,
            ":read_generation": message.generation,
            ":pending": MessageStatus.PENDING.value,
            ":at": isoformat(move.send_at),
            ":generation": move.generation,
            ":reasons": move.reasons,
            ":now": isoformat(now),
            ":shard": inflight_shard(message.message_id),
            ":watch": isoformat(watch_at(MessageStatus.PENDING, send_at=move.send_at) or move.send_at),
        }
        sets = "SET #status = :pending, send_at = :at, generation = :generation, reasons = :reasons, "
        sets += "updated_at = :now, inflight_shard = :shard, inflight_at = :watch"
        condition = "#status = :found AND generation = :read_generation"
        removes = ""
        if message.status is not MessageStatus.PENDING:
            removes = " REMOVE claimed_at, attempt_id, lease_until, ses_called_at, unknown_since"
            values[":attempt"] = message.attempt_id
            condition += " AND attempt_id = :attempt"
        if message.status is MessageStatus.SENDING:
            # an attempt that started calling SES since the message was read may have sent it
            values[":null"] = "NULL"
            condition += " AND (attribute_not_exists(ses_called_at) OR attribute_type(ses_called_at, :null))"
        if resends is not None:
            values[":resends"] = resends
            sets += ", resends = :resends"
        update = {
            "TableName": self.messages,
            "Key": message_key(message.customer_id, message.message_id),
            "UpdateExpression": sets + removes,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_values(values),
        }
        return self._with_profile(profile, change, ("message", {"Update": update}), decision)

    def watch_again(self, message: OutboundMessage, at: datetime) -> bool:
        """Have the sweeper look at `message` again at `at`, if it is still as it was read."""
        return self._update_watch(
            message, "SET inflight_at = :at", {":at": isoformat(at), ":generation": message.generation}
        )

    def stop_watching(self, message: OutboundMessage) -> bool:
        """Take a settled (and recorded) message out of the in-flight index, if it is still as it was read."""
        return self._update_watch(
            message, "REMOVE inflight_shard, inflight_at", {":generation": message.generation}
        )

    def _update_watch(self, message: OutboundMessage, expression: str, values: dict[str, Any]) -> bool:
        try:
            self.client.update_item(
                TableName=self.messages,
                Key=message_key(message.customer_id, message.message_id),
                UpdateExpression=expression,
                ConditionExpression="#status = :status AND generation = :generation",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values({":status": message.status.value, **values}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
