"""The `Catalog` port on DynamoDB: the catalog table (docs/data-model.md, "Catalog").

A product's partition, `pk` = `P#<product id>`, holds:

* its item, `sk` = `#product`: the fields as JSON (`body`), and `updated_at` for the writes' condition;
* one interest item per customer, `sk` = `I#<customer id>`, with `interest_at` (a fixed-width UTC string, the
  sort key of the local index `Recent`) and a TTL (`expires_at`), rewritten by each new view or cart.

The index `Recent` (local: same partition, sort key `interest_at`) gives the most recently interested
customers first, with a key condition that leaves out interest older than the policy's window, whatever TTL
has not deleted yet.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from righttime.core.catalog import Interest, InterestKind, Product
from righttime.core.due import due_at_from_value, due_at_value
from righttime.core.recommend import MAX_ORDERS, ORDERS_KEPT, PRUNE_AT, pruned

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PRODUCT_SK = "#product"
PAIRS_SK = "#pairs"
#: a partner's weight is the attribute `w:<partner id>` of the pairs item
PARTNER_PREFIX = "w:"
#: DynamoDB's limit on an attribute name, in bytes
MAX_NAME_BYTES = 255
INTEREST_PREFIX = "I#"
RECENT_INDEX = "Recent"
#: BatchGetItem's limit of keys per request
BATCH_KEYS = 100


def product_key(product_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"P#{product_id}"}, "sk": {"S": PRODUCT_SK}}


class DynamoCatalog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def product(self, product_id: str) -> Product | None:
        found = self.client.get_item(TableName=self.table, Key=product_key(product_id), ConsistentRead=True)
        item = found.get("Item")
        return _product(item) if item else None

    def products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        wanted = list(dict.fromkeys(product_ids))
        if len(wanted) > BATCH_KEYS:
            raise ValueError(f"at most {BATCH_KEYS} products at a time, not {len(wanted)}")
        if not wanted:
            return {}
        request: dict[str, Any] = {self.table: {"Keys": [product_key(p) for p in wanted]}}
        found: dict[str, Product] = {}
        while request:
            answer = self.client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self.table, []):
                product = _product(item)
                found[product.product_id] = product
            request = answer.get("UnprocessedKeys") or {}
        return found

    def put_product(self, product: Product, replaces: Product | None) -> bool:
        item = {
            **product_key(product.product_id),
            "body": {"S": product.model_dump_json(exclude_none=True)},
            "updated_at": {"S": due_at_value(product.updated_at)},
        }
        if replaces is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "updated_at = :seen",
                "ExpressionAttributeValues": {":seen": {"S": due_at_value(replaces.updated_at)}},
            }
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def add_interest(self, interest: Interest, expires_at: datetime) -> None:
        item: dict[str, Any] = {
            "pk": {"S": f"P#{interest.product_id}"},
            "sk": {"S": INTEREST_PREFIX + interest.customer_id},
            "customer_id": {"S": interest.customer_id},
            "kind": {"S": interest.kind.value},
            "interest_at": {"S": due_at_value(interest.at)},
            "expires_at": {"N": str(int(expires_at.timestamp()))},
        }
        if interest.price is not None:
            item["price"] = {"S": str(interest.price)}
        # A later view or cart renews the interest; an older event arriving late does not move it back.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR interest_at <= :at",
                ExpressionAttributeValues={":at": item["interest_at"]},
            )

    def interested(self, product_id: str, since: datetime, limit: int) -> list[Interest]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": RECENT_INDEX,
            "KeyConditionExpression": "pk = :pk AND interest_at >= :since",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"P#{product_id}"},
                ":since": {"S": due_at_value(since)},
            },
            "ScanIndexForward": False,
        }
        found: list[Interest] = []
        while len(found) < limit:
            request["Limit"] = min(limit - len(found), 1000)
            page = self.client.query(**request)
            found += [_interest(product_id, item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]

    def learn(
        self, key: str, partners: Sequence[str], weight: Decimal, order_tag: str, now: datetime
    ) -> bool:
        names = {"#orders": "orders", "#version": "version"}
        values: dict[str, Any] = {
            ":w": {"N": str(weight)},
            ":order": {"SS": [order_tag]},
            ":tag": {"S": order_tag},
            ":now": {"S": due_at_value(now)},
            ":one": {"N": "1"},
        }
        adds = []
        for n, partner in enumerate(
            p for p in partners if len((PARTNER_PREFIX + p).encode()) <= MAX_NAME_BYTES
        ):
            names[f"#p{n}"] = PARTNER_PREFIX + partner
            adds.append(f"#p{n} :w")
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": key}, "sk": {"S": PAIRS_SK}},
                UpdateExpression="ADD "
                + ", ".join([*adds, "#orders :order", "#version :one"])
                + " SET updated_at = :now",
                ConditionExpression="attribute_not_exists(#orders) OR NOT contains(#orders, :tag)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        item = answer.get("Attributes", {})
        weights = _weights(item)
        orders = list(item.get("orders", {}).get("SS", []))
        if len(weights) > PRUNE_AT or len(orders) > MAX_ORDERS:
            self._prune(key, item, weights, orders, now)
        return True

    def _prune(
        self, key: str, item: dict[str, Any], weights: dict[str, Decimal], orders: list[str], now: datetime
    ) -> None:
        """Cut the item back to its heaviest partners and its recent orders, unless it changed meanwhile (the
        next order prunes it then)."""
        recent = sorted(orders, key=_tag_time)[-ORDERS_KEPT:]
        kept = {
            "pk": {"S": key},
            "sk": {"S": PAIRS_SK},
            "updated_at": {"S": due_at_value(now)},
            "version": item["version"],
            **{PARTNER_PREFIX + p: {"N": str(w)} for p, w in pruned(weights).items()},
        }
        if recent:
            kept["orders"] = {"SS": recent}
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.put_item(
                TableName=self.table,
                Item=kept,
                ConditionExpression="version = :seen",
                ExpressionAttributeValues={":seen": item["version"]},
            )

    def pairs(self, keys: Sequence[str]) -> dict[str, dict[str, Decimal]]:
        wanted = list(dict.fromkeys(keys))
        if len(wanted) > BATCH_KEYS:
            raise ValueError(f"at most {BATCH_KEYS} pairs items at a time, not {len(wanted)}")
        found: dict[str, dict[str, Decimal]] = {}
        request: dict[str, Any] = (
            {self.table: {"Keys": [{"pk": {"S": k}, "sk": {"S": PAIRS_SK}} for k in wanted]}}
            if wanted
            else {}
        )
        while request:
            answer = self.client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self.table, []):
                if weights := _weights(item):
                    found[item["pk"]["S"]] = weights
            request = answer.get("UnprocessedKeys") or {}
        return found


def _tag_time(tag: str) -> int:
    """The time an order tag names (hex seconds before the colon), for keeping the latest."""
    return int(tag.split(":", 1)[0], 16)


def _weights(item: dict[str, Any]) -> dict[str, Decimal]:
    return {
        name[len(PARTNER_PREFIX) :]: Decimal(value["N"])
        for name, value in item.items()
        if name.startswith(PARTNER_PREFIX) and "N" in value
    }


def _product(item: dict[str, Any]) -> Product:
    return Product.model_validate(json.loads(item["body"]["S"]))


def _interest(product_id: str, item: dict[str, Any]) -> Interest:
    price = item.get("price", {}).get("S")
    return Interest(
        customer_id=item["customer_id"]["S"],
        product_id=product_id,
        kind=InterestKind(item["kind"]["S"]),
        at=due_at_from_value(item["interest_at"]["S"]),
        price=Decimal(price) if price is not None else None,
    )
