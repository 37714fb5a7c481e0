"""The SQS FIFO queue between ingest and evaluation, grouped by customer so each customer's events are
evaluated in order while different customers proceed in parallel."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from righttime.core.errors import QueueUnavailableError
from righttime.core.events import QueuedEvent

#: SQS limits: 10 entries and 256 KiB per SendMessageBatch call
_MAX_ENTRIES = 10
_MAX_BATCH_BYTES = 256 * 1024
if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_GROUP_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")
_ATTEMPTS = 3


def group_id(customer_id: str) -> str:
    """The MessageGroupId for a customer: the id itself when SQS accepts it, else a stable hash."""
    return (
        customer_id
        if _GROUP_ID.match(customer_id)
        else "h-" + hashlib.sha256(customer_id.encode()).hexdigest()
    )


def dedupe_id(customer_id: str, message_id: str) -> str:
    """SQS drops a repeat within 5 minutes; durable de-duplication happens at evaluation. Both are per
    customer: two customers' apps may well send the same messageId."""
    return hashlib.sha256(f"{customer_id}\x1f{message_id}".encode()).hexdigest()


class SqsEventQueue:
    """The `EventQueue` port on SQS FIFO."""

    def __init__(self, client: SQSClient, url: str) -> None:
        self.client = client
        self.url = url

    def send(self, events: Sequence[QueuedEvent]) -> None:
        """Queue every event or raise QueueUnavailableError (the caller answers 503 so the SDK retries)."""
        for chunk in _chunks([(e, e.model_dump_json()) for e in events]):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageGroupId": group_id(event.group_key),
                    "MessageDeduplicationId": dedupe_id(event.customer_id, event.message_id),
                }
                for i, (event, body) in enumerate(chunk)
            ]
            for _ in range(_ATTEMPTS):
                response = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)  # type: ignore[arg-type]
                failed = {f["Id"] for f in response.get("Failed", []) if not f.get("SenderFault")}
                sender_faults = [f for f in response.get("Failed", []) if f.get("SenderFault")]
                if sender_faults:
                    raise QueueUnavailableError(f"queue rejected events: {sender_faults[0].get('Message')}")
                entries = [e for e in entries if e["Id"] in failed]
                if not entries:
                    break
            else:
                raise QueueUnavailableError(
                    f"{len(entries)} events could not be queued after {_ATTEMPTS} tries"
                )


def _chunks(items: list[tuple[QueuedEvent, str]]) -> list[list[tuple[QueuedEvent, str]]]:
    chunks: list[list[tuple[QueuedEvent, str]]] = [[]]
    size = 0
    for item in items:
        length = len(item[1].encode())
        if chunks[-1] and (len(chunks[-1]) == _MAX_ENTRIES or size + length > _MAX_BATCH_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += length
    return [c for c in chunks if c]


class SqsDeadLetters:
    """The events DLQ, written to directly when an event can never be evaluated, so it waits there with
    its reason as message attributes instead of silently after N receives."""

    def __init__(self, client: SQSClient, url: str) -> None:
        self.client = client
        self.url = url

    def send(self, body: str, group: str, dedupe: str, reason: str, error_type: str) -> None:
        self.client.send_message(
            QueueUrl=self.url,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=dedupe,
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:1000] or error_type},
                "error_type": {"DataType": "String", "StringValue": error_type},
            },
        )
