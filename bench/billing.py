"""DynamoDB capacity units as DynamoDB bills them, measured on the calls the handlers make (bench only).

The cost model used to multiply call counts by average item sizes. This meter sizes each item each call
writes or reads, by DynamoDB's own rules, so a 1.1 KB item costs 2 write units and a transaction twice that:

* an item's size is the UTF-8 length of its attribute names plus its values: strings in UTF-8 bytes, binary in
  bytes, numbers about one byte per two significant digits plus one, booleans and nulls one byte, lists and
  maps three bytes plus one per element plus their contents;
* a write costs one unit per started KB of the larger of the item before and after (an `UpdateItem` is billed
  on both); a transaction costs two per started KB of each item in it, condition checks included;
* a read costs one unit per started 4 KB, half for an eventually consistent read; a `Query` sums the sizes of
  the items it returns before rounding.

To know the item before and after an update, the meter reads it with a client of its own, whose calls are
not counted.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any


def attribute_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    match kind:
        case "S":
            return len(inner.encode("utf-8", "surrogatepass"))
        case "B":
            return len(inner)
        case "N":
            digits = Decimal(inner).normalize().as_tuple().digits
            return (len(digits) + 1) // 2 + 1
        case "BOOL" | "NULL":
            return 1
        case "L":
            return 3 + sum(1 + attribute_size(v) for v in inner)
        case "M":
            return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in inner.items())
        case "SS":
            return sum(len(v.encode()) for v in inner)
        case "NS":
            return sum(attribute_size({"N": v}) for v in inner)
        case "BS":
            return sum(len(v) for v in inner)
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(item: dict[str, Any] | None) -> int:
    """The size DynamoDB bills for `item`, in bytes (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


class Meter:
    """Counts read and write units per (function, operation) for every call of the clients it watches."""

    def __init__(self, raw_client: Any, current: list[str]) -> None:
        self.raw = raw_client
        self.current = current
        self.write_units: Counter[tuple[str, str]] = Counter()
        self.read_units: dict[tuple[str, str], float] = defaultdict(float)
        #: sizes of the items written, by kind (profile, message, decisions, suppression)
        self.sizes: dict[str, list[int]] = {}
        self._keys: dict[str, list[str]] = {}

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    # -- the hooks -------------------------------------------------------------------------------------------
    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        op = model.name
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            context["rt_before"] = [self._get(params["TableName"], self._key_of(params))]
        elif op == "TransactWriteItems":
            context["rt_before"] = [self._get(*self._target(w)) for w in params["TransactItems"]]
        context["rt_params"] = params

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "Error" in parsed or "rt_params" not in context:
            return
        op, params, fn = model.name, context["rt_params"], self.current[0]
        if op == "PutItem":
            (before,) = context["rt_before"]
            self._write(fn, op, params["TableName"], before, params["Item"], 1)
        elif op in ("UpdateItem", "DeleteItem"):
            (before,) = context["rt_before"]
            table, key = params["TableName"], params["Key"]
            self._write(fn, op, table, before, self._get(table, key), 1)
        elif op == "TransactWriteItems":
            for write, before in zip(params["TransactItems"], context["rt_before"], strict=True):
                table, key = self._target(write)
                after = write["Put"]["Item"] if "Put" in write else self._get(table, key)
                self._write(fn, op, table, before, after, 2)
        elif op == "GetItem":
            self._read(fn, op, item_size(parsed.get("Item")), params.get("ConsistentRead", False))
        elif op == "BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                consistent = params["RequestItems"].get(table, {}).get("ConsistentRead", False)
                for item in items:
                    self._read(fn, op, item_size(item), consistent)
        elif op == "Query":
            size = sum(item_size(i) for i in parsed.get("Items", []))
            self._read(fn, op, size, params.get("ConsistentRead", False))

    # -- helpers ---------------------------------------------------------------------------------------------
    def _write(self, fn: str, op: str, table: str, before: Any, after: Any, factor: int) -> None:
        size = max(item_size(before), item_size(after))
        self.write_units[(fn, op)] += factor * write_units(size)
        if after:
            self.sizes.setdefault(_kind(table, after), []).append(item_size(after))

    def _read(self, fn: str, op: str, size: int, consistent: bool) -> None:
        self.read_units[(fn, op)] += read_units(size, consistent)

    def _target(self, write: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        ((kind, body),) = write.items()
        if kind == "Put":
            return body["TableName"], self._key_from_item(body["TableName"], body["Item"])
        return body["TableName"], body["Key"]

    def _key_of(self, params: dict[str, Any]) -> dict[str, Any]:
        if "Key" in params:
            return dict(params["Key"])
        return self._key_from_item(params["TableName"], params["Item"])

    def _key_from_item(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        if table not in self._keys:
            schema = self.raw.describe_table(TableName=table)["Table"]["KeySchema"]
            self._keys[table] = [k["AttributeName"] for k in schema]
        return {name: item[name] for name in self._keys[table]}

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.raw.get_item(TableName=table, Key=key, ConsistentRead=True).get(
            "Item"
        )
        return item


def _kind(table: str, item: dict[str, Any]) -> str:
    if "customer_id" in item and "body" in item and "sk" not in item:
        return "profile"
    sk = item.get("sk", {}).get("S", "")
    if sk.startswith("DEC#"):
        return "decisions"
    if sk.startswith("MSG#"):
        return "message"
    return "suppression" if "address_key" in item else table
