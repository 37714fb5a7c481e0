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

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PRODUCT_SK = "#product"
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
