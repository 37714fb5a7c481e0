"""The `Counters` port on DynamoDB: the reports table (docs/data-model.md, "Reports").

A counter row is one item, `pk` = the UTC day (`2026-11-28`), `sk` = the campaign id, one Number attribute per
counter, added to with `UpdateItem ADD`. The population's engagement hours are a row of the same kind per UTC
month, `pk` = `hours#2026-11`, `sk` = `population`, counters `h00` to `h23` (send-time optimisation).
A batch marker is an item of its own partition, `pk` =
`batch#<first record's sequence number>`, `sk` = `batch`, with `through` and a TTL a week on (a stream keeps
records 24 hours, so no batch is handed over again after that).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from righttime.core.report import POPULATION, hour_counts
from righttime.core.send_time import HourCounts
from righttime.stages.ports import CounterRow, CountersUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: how long a batch marker is kept: longer than a stream keeps a record (24 h), with room to spare
MARKER_KEPT = timedelta(days=7)
BATCH_PREFIX = "batch#"
_KEYS = frozenset({"pk", "sk"})


class DynamoCounters:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def add(self, batch: str, through: str, rows: dict[tuple[str, str], CounterRow], now: datetime) -> bool:
        marker = {
            "Put": {
                "TableName": self.table,
                "Item": {
                    "pk": {"S": BATCH_PREFIX + batch},
                    "sk": {"S": "batch"},
                    "through": {"S": through},
                    "rows": {"N": str(len(rows))},
                    "expires_at": {"N": str(int((now + MARKER_KEPT).timestamp()))},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        updates = [{"Update": self._update(*key, row)} for key, row in sorted(rows.items())]
        try:
            self.client.transact_write_items(TransactItems=[marker, *updates])  # type: ignore[list-item]
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise CountersUnavailable(f"adding batch {batch} to the counters was cancelled: {exc}") from exc
        except (ClientError, BotoCoreError) as exc:
            raise CountersUnavailable(f"cannot add batch {batch} to the report counters: {exc}") from exc
        return True

    def _update(self, day: str, campaign: str, row: CounterRow) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        adds: list[str] = []
        for n, (name, amount) in enumerate(sorted(row.items())):
            if name in _KEYS:
                raise ValueError(f"a counter cannot be named {name!r}")
            names[f"#c{n}"] = name
            values[f":v{n}"] = {"N": str(Decimal(amount))}
            adds.append(f"#c{n} :v{n}")
        return {
            "TableName": self.table,
            "Key": {"pk": {"S": day}, "sk": {"S": campaign}},
            "UpdateExpression": "ADD " + ", ".join(adds),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def added_through(self, batch: str) -> str | None:
        try:
            found = self.client.get_item(
                TableName=self.table,
                Key={"pk": {"S": BATCH_PREFIX + batch}, "sk": {"S": "batch"}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise CountersUnavailable(f"cannot read the marker of batch {batch}: {exc}") from exc
        item = found.get("Item")
        return str(item["through"]["S"]) if item else None

    def rows(self, day: str) -> Iterator[tuple[str, CounterRow]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :day",
            "ExpressionAttributeValues": {":day": {"S": day}},
        }
        while True:
            try:
                page = self.client.query(**request)
            except (ClientError, BotoCoreError) as exc:
                raise CountersUnavailable(f"cannot read the report counters of {day}: {exc}") from exc
            for item in page.get("Items", []):
                numbers = {name: value["N"] for name, value in item.items() if "N" in value}
                yield item["sk"]["S"], {name: _number(text) for name, text in numbers.items()}
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def population_hours(self, months: Sequence[str]) -> HourCounts:
        """The population's engagement hours of `months`: one GetItem each (a month's row is one item)."""
        rows: list[CounterRow] = []
        for month in months:
            try:
                found = self.client.get_item(
                    TableName=self.table, Key={"pk": {"S": month}, "sk": {"S": POPULATION}}
                )
            except (ClientError, BotoCoreError) as exc:
                raise CountersUnavailable(f"cannot read the engagement hours of {month}: {exc}") from exc
            item = found.get("Item") or {}
            rows.append({name: _number(value["N"]) for name, value in item.items() if "N" in value})
        return hour_counts(rows)


def _number(text: str) -> int | Decimal:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() and "." not in text else value
