"""The collaborators each handler needs, built on first use and kept for the container's life.

`reset()` forgets them all, with parsed settings and boto3 clients, for tests and local mode.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from righttime import settings
from righttime.adapters import aws

if TYPE_CHECKING:
    from righttime.adapters.mailer import Mailer
    from righttime.adapters.queue import DeadLetters, EventQueue
    from righttime.adapters.schedules import Schedules
    from righttime.adapters.store import Store


@cache
def store() -> Store:
    from righttime.adapters.store import Store

    return Store()


@cache
def queue() -> EventQueue:
    from righttime.adapters.queue import EventQueue

    return EventQueue()


@cache
def dead_letters() -> DeadLetters:
    from righttime.adapters.queue import DeadLetters

    return DeadLetters()


@cache
def schedules() -> Schedules:
    from righttime.adapters.schedules import Schedules

    return Schedules()


@cache
def mailer() -> Mailer:
    from righttime.adapters.mailer import Mailer

    return Mailer()


def reset() -> None:
    for getter in (store, queue, dead_letters, schedules, mailer):
        getter.cache_clear()
    from righttime import content  # not at import: ingest never loads campaigns or templates

    settings.reset()
    content.reset()
    aws.reset()
