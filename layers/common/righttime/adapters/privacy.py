"""The `CustomerRecords` port on DynamoDB: one customer's decisions page by page, and what a privacy request
exports or erases (docs/privacy.md).

Access patterns (docs/data-model.md):
* decisions, newest first ...... Messages: Query pk = customer AND sk in DEC#..cursor, ScanIndexForward
                                 false, Limit; one item holds one commit's decisions, so a cursor names an
                                 item and how many of its decisions were already given
* messages of a customer ....... Messages: Query pk = customer AND begins_with(sk, MSG#), paginated, capped
* interest entries ............. Catalog: BatchGetItem / DeleteItem by (P#product, I#customer)
* erasure ...................... BatchWriteItem deletes of the customer's own partition, keys only
* hashed suppression ........... Suppression: UpdateItem by key, `reason = erased`, the clear address removed
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from righttime.adapters.dynamodb import DECISION_PREFIX, MESSAGE_PREFIX, decisions_from_item
from righttime.adapters.items import from_item
from righttime.core.catalog import Interest, InterestKind
from righttime.core.clock import isoformat
from righttime.core.decisions import Decision, OutboundMessage
from righttime.core.due import due_at_from_value
from righttime.stages.ports import DecisionPage, InvalidCursor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: the decision items one page may read through (with a campaign filter most may not match): past this,
#: the page ends early with a cursor, rather than reading the customer's whole history
MAX_ITEMS_PER_PAGE = 1_000
#: DynamoDB's limits: keys per BatchGetItem, requests per BatchWriteItem
_BATCH_GET = 100
_BATCH_WRITE = 25
#: the longest sort key a cursor may name (DynamoDB's limit on a sort key is 1 KB)
_MAX_CURSOR_KEY = 1_024
#: the one sort key after every decision item (`DEC#` + the highest character a sort key can hold)
_AFTER_DECISIONS = DECISION_PREFIX + "\U0010ffff"


def encode_cursor(sort_key: str, given: int) -> str:
    """An opaque cursor: the decision item the next page starts in, and how many of its decisions (newest
    first) the pages before gave."""
    raw = json.dumps({"k": sort_key, "n": given}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """(sort key, decisions given) of a cursor `encode_cursor` made; InvalidCursor for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidCursor("'cursor' is not a cursor this API handed out") from None
    key, given = (fields.get("k"), fields.get("n")) if isinstance(fields, dict) else (None, None)
    if (
        not isinstance(key, str)
        or not key.startswith(DECISION_PREFIX)
        or len(key) > _MAX_CURSOR_KEY
        or not isinstance(given, int)
        or isinstance(given, bool)
        or not 0 <= given <= 10_000
    ):
        raise InvalidCursor("'cursor' is not a cursor this API handed out")
    return key, given


class DynamoCustomerRecords:
    """One customer's records in the messages, suppression and catalog tables."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        profiles_table: str,
        messages_table: str,
        suppression_table: str,
        catalog_table: str | None,
    ) -> None:
        self.client = client
        self.profiles = profiles_table
        self.messages_table = messages_table
        self.suppression_table = suppression_table
        self.catalog = catalog_table

    # -- reading -------------------------------------------------------------------------------------------
    def decisions_page(
        self, customer_id: str, campaign_id: str | None, limit: int, cursor: str | None
    ) -> DecisionPage:
        """At most `limit` decisions, newest first, from the item `cursor` names on. The query reads at most
        `limit` + 1 items at a time (an item holds at least one decision) and stops after
        MAX_ITEMS_PER_PAGE items, handing out a cursor where it stopped."""
        start = decode_cursor(cursor) if cursor is not None else None
        values: dict[str, Any] = {
            ":pk": {"S": customer_id},
            ":low": {"S": DECISION_PREFIX},
            ":high": {"S": start[0] if start else _AFTER_DECISIONS},
        }
        request: dict[str, Any] = {
            "TableName": self.messages_table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        if campaign_id is not None:
            # Items list their campaigns; one written before grouping names its one as `campaign_id`.
            request["FilterExpression"] = "contains(campaigns, :campaign) OR campaign_id = :campaign"
            values[":campaign"] = {"S": campaign_id}
        request["ExpressionAttributeValues"] = values
        found: list[Decision] = []
        read = 0
        while True:
            response = self.client.query(**request)
            for item in response.get("Items", []):
                sort_key = item["sk"]["S"]
                newest_first = list(reversed(decisions_from_item(item)))
                skip = start[1] if start and sort_key == start[0] else 0
                for index, decision in enumerate(newest_first[skip:], start=skip):
                    if campaign_id is not None and decision.campaign_id != campaign_id:
                        continue
                    if len(found) == limit:
                        return DecisionPage(found, encode_cursor(sort_key, index))
                    found.append(decision)
            read += response.get("ScannedCount", len(response.get("Items", [])))
            last = response.get("LastEvaluatedKey")
            if last is None:
                return DecisionPage(found, None)
            if read >= MAX_ITEMS_PER_PAGE:
                # everything of the item the query stopped at was looked at: the next page starts after it
                return DecisionPage(found, encode_cursor(last["sk"]["S"], 10_000))
            request["ExclusiveStartKey"] = last

    def messages(self, customer_id: str, limit: int) -> tuple[list[OutboundMessage], bool]:
        found: list[OutboundMessage] = []
        for item in self._partition(customer_id, MESSAGE_PREFIX):
            if len(found) == limit:
                return found, True
            found.append(OutboundMessage.model_validate(from_item(item)))
        return found, False

    def interests(self, customer_id: str, product_ids: Sequence[str]) -> list[Interest]:
        if self.catalog is None:
            return []
        found: list[Interest] = []
        wanted = list(dict.fromkeys(product_ids))
        for start in range(0, len(wanted), _BATCH_GET):
            keys = [_interest_key(p, customer_id) for p in wanted[start : start + _BATCH_GET]]
            request: dict[str, Any] = {self.catalog: {"Keys": keys}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.catalog, []):
                    found.append(
                        Interest(
                            customer_id=customer_id,
                            product_id=item["pk"]["S"].removeprefix("P#"),
                            kind=InterestKind(item["kind"]["S"]),
                            at=due_at_from_value(item["interest_at"]["S"]),
                            price=Decimal(item["price"]["S"]) if "price" in item else None,
                        )
                    )
                request = response.get("UnprocessedKeys") or {}
        return sorted(found, key=lambda i: i.at, reverse=True)

    def suppression(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key in dict.fromkeys(keys):
            item = self.client.get_item(
                TableName=self.suppression_table, Key={"address_key": {"S": key}}, ConsistentRead=True
            ).get("Item")
            if item:
                found[key] = str(from_item(item).get("reason") or "suppressed")
        return found

    # -- erasing -------------------------------------------------------------------------------------------
    def suppress_erased(self, keys: Sequence[str], now: datetime) -> None:
        for key in dict.fromkeys(keys):
            # An entry a bounce or complaint left keeps the address in clear: erasure removes it.
            self.client.update_item(
                TableName=self.suppression_table,
                Key={"address_key": {"S": key}},
                UpdateExpression="SET #reason = :erased, #at = :now REMOVE #address, #message",
                ExpressionAttributeNames={
                    "#reason": "reason",
                    "#at": "at",
                    "#address": "address",
                    "#message": "message_id",
                },
                ExpressionAttributeValues={":erased": {"S": "erased"}, ":now": {"S": isoformat(now)}},
            )

    def delete_interests(self, customer_id: str, product_ids: Sequence[str]) -> int:
        if self.catalog is None:
            return 0
        deleted = 0
        for product_id in dict.fromkeys(product_ids):
            response = self.client.delete_item(
                TableName=self.catalog, Key=_interest_key(product_id, customer_id), ReturnValues="ALL_OLD"
            )
            deleted += "Attributes" in response
        return deleted

    def delete_records(self, customer_id: str, limit: int) -> tuple[int, int, bool]:
        keys: list[dict[str, Any]] = []
        left = False
        for item in self._partition(customer_id, "", projection=True):
            if len(keys) == limit:
                left = True
                break
            keys.append({"pk": item["pk"], "sk": item["sk"]})
        for start in range(0, len(keys), _BATCH_WRITE):
            self._delete_batch(keys[start : start + _BATCH_WRITE])
        messages = sum(k["sk"]["S"].startswith(MESSAGE_PREFIX) for k in keys)
        decisions = sum(k["sk"]["S"].startswith(DECISION_PREFIX) for k in keys)
        return messages, decisions, left

    def delete_profile(self, customer_id: str) -> bool:
        response = self.client.delete_item(
            TableName=self.profiles, Key={"customer_id": {"S": customer_id}}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    # -- helpers -------------------------------------------------------------------------------------------
    def _partition(
        self, customer_id: str, prefix: str, *, projection: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The customer's items whose sort key starts with `prefix` (all of them for ""), page by page."""
        request: dict[str, Any] = {"TableName": self.messages_table}
        if prefix:
            request["KeyConditionExpression"] = "pk = :pk AND begins_with(sk, :prefix)"
            request["ExpressionAttributeValues"] = {":pk": {"S": customer_id}, ":prefix": {"S": prefix}}
        else:
            request["KeyConditionExpression"] = "pk = :pk"
            request["ExpressionAttributeValues"] = {":pk": {"S": customer_id}}
        if projection:
            request["ProjectionExpression"] = "pk, sk"
        while True:
            response = self.client.query(**request)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _delete_batch(self, keys: list[dict[str, Any]]) -> None:
        request: dict[str, Any] = {self.messages_table: [{"DeleteRequest": {"Key": k}} for k in keys]}
        for _ in range(8):
            response = self.client.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
            if not request:
                return
        raise RuntimeError("DynamoDB kept deletes unprocessed in BatchWriteItem; the erasure can be repeated")


def _interest_key(product_id: str, customer_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"P#{product_id}"}, "sk": {"S": f"I#{customer_id}"}}
