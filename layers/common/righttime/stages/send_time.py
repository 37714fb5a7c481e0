"""The population's engagement hours for send-time optimisation, read at most once per REFRESH per container:
they change slowly (months of opens and clicks), and evaluate plans thousands of events a minute."""

from __future__ import annotations

from datetime import datetime, timedelta

from righttime.core.clock import Clock
from righttime.core.report import recent_months
from righttime.core.send_time import HourCounts
from righttime.stages.ports import CountersUnavailable, EngagementHours

#: how long the hours read are used before they are read again
REFRESH = timedelta(minutes=15)
#: after a failed read, how long until the next try (the hours read before, if any, are used meanwhile)
RETRY = timedelta(minutes=1)


class PopulationHours:
    """Every customer's opens and clicks by local hour over the last POPULATION_MONTHS months (the callable
    planning asks when a customer's own evidence is thin), cached for REFRESH on the injected clock."""

    def __init__(self, source: EngagementHours, clock: Clock, refresh: timedelta = REFRESH) -> None:
        self.source = source
        self.clock = clock
        self.refresh = refresh
        self.reads = 0
        #: the last read's failure, until a read succeeds (the handler logs it)
        self.error: str | None = None
        self._hours: HourCounts | None = None
        self._next_read: datetime | None = None

    def __call__(self) -> HourCounts | None:
        now = self.clock.now()
        if self._next_read is None or now >= self._next_read:
            self.reads += 1
            try:
                self._hours = self.source.population_hours(recent_months(now))
            except CountersUnavailable as exc:
                # Planning goes on with the hours read before, or none (the reason says `none`): a send time
                # is not worth failing an event for. The next try is soon.
                self.error, self._next_read = str(exc), now + RETRY
                return self._hours
            self.error, self._next_read = None, now + self.refresh
        return self._hours
