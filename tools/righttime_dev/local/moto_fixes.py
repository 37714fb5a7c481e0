"""Work-arounds for moto gaps that only matter in local mode and simulation. Nothing here is deployed.

moto's TransactWriteItems deep-copies every table it touches before each transaction, to roll back on
failure, stream records included: the cost grows with the table, so a long simulation slows to a crawl.
The replacement keeps moto's own transaction logic and snapshots only the items the transaction names.

moto's SQS costs grow with the queue, so a 10,000-message batch took minutes: it reads a queue's attributes
several times per message sent, and each read counts the queue's messages three times with two slow clock
reads per message; and a FIFO send scans every message for its de-duplication id. While a message is sent,
the patched attributes leave out those counts (the send path reads only the FIFO settings); the clock read is
`time.time()`; and de-duplication looks ids up in a per-queue map of send times, which is also what SQS
does (a repeat within 5 minutes of the first send is dropped, even if that one was deleted), as the
in-memory engine does. Since local mode's ingest runs beside the queue pump, adding a message and deleting
one (which rebuilds moto's message list) take one lock, so neither loses the other's change.

moto answers a Query on a global secondary index by sorting every item of the table, then keeping those
with the index's keys: the sweeper's queries on the sparse in-flight index cost the whole table each. While
such a query runs, the patched table lists only the items that carry the index's partition key, unsorted
(moto sorts its results by the index's keys afterwards anyway).
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

#: held while a transaction runs or while local mode reads the stream it may roll back
lock = threading.RLock()
_installed = False
#: set while this thread is inside moto's SendMessage or SendMessageBatch
_sending = threading.local()
#: held while a message is added to or deleted from a moto queue
_queue_lock = threading.RLock()
#: set while this thread is inside a Query on a global secondary index: the index's partition key names
_index_query = threading.local()


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
        _install_index_queries()
        _install_sqs()
        _installed = True


def _install_index_queries() -> None:
    from moto.dynamodb.models.table import Table

    all_items, query = Table.all_items, Table.query

    def indexed_items(self: Any) -> list[Any]:
        keys: list[str] | None = getattr(_index_query, "keys", None)
        if keys is None:
            return all_items(self)
        return [
            item
            for hash_set in self.items.values()
            for item in (hash_set.values() if self.range_key_attr else [hash_set])
            if all(key in item.attrs for key in keys)
        ]

    def index_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        # the backend passes index_name as the 8th positional argument
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        index = next((i for i in self.global_indexes or [] if i.name == index_name), None)
        if index is None:
            return query(self, *args, **kwargs)
        _index_query.keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
        try:
            return query(self, *args, **kwargs)
        finally:
            _index_query.keys = None

    Table.all_items = indexed_items  # type: ignore[method-assign]
    Table.query = index_query  # type: ignore[method-assign]


def _install_sqs() -> None:
    from moto.core.utils import camelcase_to_underscores, unix_time_millis
    from moto.sqs import models
    from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS, Queue, SQSBackend

    all_attributes = vars(Queue)["attributes"].fget
    fifo_names = {name: camelcase_to_underscores(name) for name in Queue.FIFO_ATTRIBUTES}

    def attributes(self: Any) -> dict[str, Any]:
        if not getattr(_sending, "active", False):
            return all_attributes(self)  # type: ignore[no-any-return]
        values = {name: getattr(self, attr) for name, attr in fifo_names.items()} if self.fifo_queue else {}
        return {k: str(v).lower() if isinstance(v, bool) else v for k, v in values.items()}

    def add_message(self: Any, message: Any) -> None:
        with _queue_lock:
            content_based = str(self.content_based_deduplication).lower() == "true"
            if self.fifo_queue and (content_based or message.deduplication_id):
                sent: dict[str, int] = self.__dict__.setdefault("_righttime_sent", {})
                first = sent.get(message.deduplication_id)
                if (
                    first is not None
                    and message.sent_timestamp - first < DEDUPLICATION_TIME_IN_SECONDS * 1000
                ):
                    return
                sent[message.deduplication_id] = message.sent_timestamp
                if len(sent) > 2 * self.__dict__.get("_righttime_kept", 1000):
                    horizon = message.sent_timestamp - DEDUPLICATION_TIME_IN_SECONDS * 1000
                    sent = {k: v for k, v in sent.items() if v >= horizon}
                    self.__dict__.update(_righttime_sent=sent, _righttime_kept=max(1000, len(sent)))
            # moto's own add_message, without its scan (local mode has no Lambda event source mappings)
            with self._messages_lock:
                self._messages.append(message)
                self._messages_lock.notify_all()

    def now_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else unix_time_millis(dt)

    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
    Queue.add_message = add_message  # type: ignore[method-assign]
    Queue.delete_message = _under_queue_lock(Queue.delete_message)  # type: ignore[method-assign]
    vars(models)["unix_time_millis"] = now_millis  # what Message.visible and .delayed call per message
    for name in ("send_message", "send_message_batch"):
        setattr(SQSBackend, name, _while_sending(getattr(SQSBackend, name)))


def _while_sending(method: Any) -> Any:
    def sending(self: Any, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_sending, "active", False)  # a batch sends each entry with send_message
        _sending.active = True
        try:
            return method(self, *args, **kwargs)
        finally:
            _sending.active = outer

    return sending


def _under_queue_lock(method: Any) -> Any:
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _queue_lock:
            return method(self, *args, **kwargs)

    return locked


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
