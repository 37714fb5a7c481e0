"""Work-arounds for moto gaps that only matter in local mode and simulation. Nothing here is deployed.

moto's TransactWriteItems deep-copies every table it touches before each transaction, to roll back on
failure, stream records included: the cost grows with the table, so a long simulation slows to a crawl.
The replacement keeps moto's own transaction logic and snapshots only the items the transaction names.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

#: held while a transaction runs or while local mode reads the stream it may roll back
lock = threading.RLock()
_installed = False


def install() -> None:
    """Patch moto's DynamoDB backend once per process."""
    global _installed  # noqa: PLW0603 - a one-time, process-wide patch
    with lock:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend

        original = DynamoDBBackend.transact_write_items

        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            with lock:  # the live tables stand in for moto's backup: no two transactions at once
                snapshots = [_snapshot(self, entry) for entry in transact_items]
                _shallow_tables(True)
                try:
                    original(self, transact_items)
                except Exception:
                    for snapshot in reversed([s for s in snapshots if s is not None]):
                        _restore(*snapshot)
                    raise
                finally:
                    _shallow_tables(False)

        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _installed = True


def _snapshot(backend: Any, entry: dict[str, Any]) -> tuple[Any, Any, Any, Any, int] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    operation = next(iter(entry.values()))
    table = backend.tables.get(operation.get("TableName"))
    key = operation.get("Key") or operation.get("Item") or {}
    if table is None or table.hash_key_attr not in key:
        return None
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
    if table.has_range_key and range_value is None:
        return None
    stream_length = len(table.stream_shard.items) if table.stream_shard is not None else 0
    return (
        table,
        hash_value,
        range_value,
        copy.deepcopy(table.get_item(hash_value, range_value)),
        stream_length,
    )


def _restore(table: Any, hash_value: Any, range_value: Any, item: Any, stream_length: int) -> None:
    if item is None:
        if range_value is not None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items.pop(hash_value, None)
    elif range_value is not None:
        table.items[hash_value][range_value] = item
    else:
        table.items[hash_value] = item
    if table.stream_shard is not None:
        del table.stream_shard.items[stream_length:]  # a cancelled transaction leaves no stream records


def _shallow_tables(on: bool) -> None:
    from moto.dynamodb.models.table import Table

    if on:
        Table.__deepcopy__ = lambda self, memo: self  # type: ignore[attr-defined]
    elif "__deepcopy__" in Table.__dict__:
        del Table.__deepcopy__  # type: ignore[attr-defined]
