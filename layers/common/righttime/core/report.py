"""The campaign report: what each decision adds to the counters of its campaign and day, and the report those
counters add up to, with the conversion-rate lift against the holdout (docs/reporting.md).

Counters are kept per campaign (a program's step is a campaign of its own) and per UTC day of the decision. A
decision adds to a fixed set of counters, so counting it costs the same whatever the history: the report is
read from the counters alone, never from the decisions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from righttime.core import calendar
from righttime.core.decisions import Decision, Outcome, ReasonCode
from righttime.core.programs import STEP_SEPARATOR
from righttime.core.send_time import HOURS, HourCounts

#: every counter a campaign has, in the order a report lists them. Each is a count of decisions (messages,
#: orders, customers entering a program): docs/reporting.md says what each one means.
COUNTS = (
    "triggered",
    "entered",
    "held_out",
    "scheduled",
    "rescheduled",
    "suppressed",
    "deferred",
    "cancelled",
    "expired",
    "sent",
    "failed",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "complained",
    "unsubscribed",
    "converted",
    "refunded",
    "held_out_converted",
    "held_out_refunded",
    "exited",
    "completed",
)

#: the counter each outcome adds one to, where that needs no reason to decide
_BY_OUTCOME: dict[Outcome, str] = {
    Outcome.ENTERED: "entered",
    Outcome.HELD_OUT: "held_out",
    Outcome.SUPPRESSED: "suppressed",
    Outcome.DEFERRED: "deferred",
    Outcome.CANCELLED: "cancelled",
    Outcome.EXPIRED: "expired",
    Outcome.SENT: "sent",
    Outcome.FAILED: "failed",
    Outcome.DELIVERED: "delivered",
    Outcome.OPENED: "opened",
    Outcome.CLICKED: "clicked",
    Outcome.BOUNCED: "bounced",
    Outcome.COMPLAINED: "complained",
    Outcome.UNSUBSCRIBED: "unsubscribed",
    Outcome.EXITED: "exited",
    Outcome.COMPLETED: "completed",
}

#: the reasons that say what started a decision, not why it went the way it did: not counted "by reason"
_CONTEXT_CODES = frozenset(
    {
        ReasonCode.TRIGGERED.value,
        ReasonCode.TRIGGER_REPEATED.value,
        ReasonCode.PROGRAM_STEP.value,
        ReasonCode.PROGRAM_TRIGGERED.value,
    }
)
#: a message newly planned: the campaign's trigger, or a program reaching a send step
_NEW_MESSAGE_CODES = frozenset({ReasonCode.TRIGGERED.value, ReasonCode.PROGRAM_STEP.value})

#: the counters of reasons and of money are named `<prefix><reason or currency>`
SUPPRESSED_BY = "suppressed:"
DEFERRED_BY = "deferred:"
REVENUE_IN = "revenue:"
HELD_OUT_REVENUE_IN = "held_out_revenue:"
#: ISO 4217's code for "no currency": an order that names none, or a name that is not three letters
NO_CURRENCY = "XXX"
_CURRENCY = re.compile(r"[A-Z]{3}")

Amount = int | Decimal
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Tick:
    """One addition to one counter: `amount` to counter `name` of `campaign_id` on UTC `day` (YYYY-MM-DD)."""

    day: str
    campaign_id: str
    name: str
    amount: Amount = 1


def ticks(decision: Decision) -> list[Tick]:
    """What `decision` adds to its campaign's counters on the UTC day it was made: docs/reporting.md."""
    day = decision.decided_at.astimezone(UTC).date().isoformat()
    campaign = decision.campaign_id
    codes = decision.reason_codes
    outcome = decision.outcome
    found: list[Tick] = []

    def add(name: str, amount: Amount = 1) -> None:
        found.append(Tick(day, campaign, name, amount))

    new_message = outcome is not Outcome.DEFERRED and any(code in _NEW_MESSAGE_CODES for code in codes)
    if new_message or ReasonCode.PROGRAM_TRIGGERED.value in codes:
        add("triggered")
    if outcome is Outcome.SCHEDULED:
        add("scheduled" if new_message else "rescheduled")
    elif outcome is Outcome.ATTRIBUTED:
        for reason in decision.reasons:
            _credit(reason.code.value, reason.detail, add)
    elif (counter := _BY_OUTCOME.get(outcome)) is not None:
        add(counter)
        if outcome in (Outcome.SUPPRESSED, Outcome.DEFERRED):
            prefix = SUPPRESSED_BY if outcome is Outcome.SUPPRESSED else DEFERRED_BY
            for code in dict.fromkeys(codes):
                if code not in _CONTEXT_CODES:
                    add(prefix + code)
    return found


def _credit(code: str, detail: Mapping[str, object], add: Callable[[str, Amount], None]) -> None:
    """An order credited (`order_credited`) or a credit taken back (`credit_refunded`), with its revenue."""
    if code not in (ReasonCode.ORDER_CREDITED.value, ReasonCode.CREDIT_REFUNDED.value):
        return
    held_out = bool(detail.get("held_out"))
    refund = code == ReasonCode.CREDIT_REFUNDED.value
    counter = ("held_out_" if held_out else "") + ("refunded" if refund else "converted")
    add(counter, 1)
    revenue = Decimal(str(detail.get("revenue") or 0))
    if revenue:
        add((HELD_OUT_REVENUE_IN if held_out else REVENUE_IN) + currency_of(detail.get("currency")), revenue)


def currency_of(value: object) -> str:
    """The currency a revenue counter is kept in: the order's, as three capital letters, else `XXX`."""
    text = str(value).strip().upper() if value is not None else ""
    return text if _CURRENCY.fullmatch(text) else NO_CURRENCY


# -- the population's engagement hours (send-time optimisation) ----------------------------------------------

#: every customer's first open and first click of each message, by hour on their clock, one row per UTC month:
#: `pk` = `hours#<YYYY-MM>`, `sk` = POPULATION, counters `h00` to `h23` (righttime.core.send_time)
HOURS_PREFIX = "hours#"
POPULATION = "population"
#: the months the population's hours are read from: this one and the two before (60 to 90 days)
POPULATION_MONTHS = 3


def hours_row(month: date) -> str:
    """The partition of `month`'s engagement hours."""
    return f"{HOURS_PREFIX}{month:%Y-%m}"


def recent_months(now: datetime, count: int = POPULATION_MONTHS) -> list[str]:
    """The partitions of the `count` UTC months up to `now`'s, latest first."""
    year, month = now.astimezone(UTC).year, now.astimezone(UTC).month
    found = []
    for _ in range(count):
        found.append(hours_row(date(year, month, 1)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found


def engagement_hour_ticks(decision: Decision) -> list[Tick]:
    """An `opened` or `clicked` decision adds one to its local hour in its UTC month's population row; one
    that names no zone (a message planned before messages kept theirs) adds nothing."""
    if decision.outcome not in (Outcome.OPENED, Outcome.CLICKED):
        return []
    tz = calendar.zone(decision.timezone)
    if tz is None:
        return []
    at = decision.decided_at
    return [Tick(hours_row(at.astimezone(UTC).date()), POPULATION, f"h{at.astimezone(tz).hour:02d}")]


def hour_counts(rows: Iterable[Mapping[str, Amount]]) -> HourCounts:
    """The population rows' counters `h00` to `h23`, summed."""
    counts = [0] * HOURS
    for row in rows:
        for hour in range(HOURS):
            counts[hour] += int(row.get(f"h{hour:02d}", 0))
    return HourCounts(tuple(counts))


def add_up(found: Iterable[Tick]) -> dict[tuple[str, str], dict[str, Amount]]:
    """Ticks summed per (day, campaign): what one batch of decisions adds to each counter row."""
    rows: dict[tuple[str, str], dict[str, Amount]] = {}
    for tick in found:
        row = rows.setdefault((tick.day, tick.campaign_id), {})
        row[tick.name] = row.get(tick.name, 0) + tick.amount
    return rows


# -- the report ----------------------------------------------------------------------------------------------

#: the longest period one report covers, in days (a report reads one partition per day)
MAX_DAYS = 400
#: below these, a group's conversion rate is too uncertain for the normal approximation of its interval
MIN_GROUP = 30
MIN_CONVERSIONS = 5
#: the z value of a two-sided 95 % interval
_Z95 = 1.959964

Conclusion = Literal["no_holdout", "too_small", "higher", "lower", "no_difference"]


class Lift(BaseModel):
    """The conversion rate of the customers who got the campaign against its holdout's (docs/reporting.md)."""

    model_config = ConfigDict(frozen=True)

    #: messages sent (a campaign or step), or customers who entered (a program)
    exposed: int
    exposed_converted: int
    exposed_rate: float | None
    held_out: int
    held_out_converted: int
    held_out_rate: float | None
    #: exposed_rate - held_out_rate, and its 95 % interval (None until both groups are large enough)
    difference: float | None
    ci95: tuple[float, float] | None
    conclusion: Conclusion
    summary: str


class CampaignReport(BaseModel):
    """One campaign's, program's or step's counters over the report's period, and its lift."""

    id: str
    kind: Literal["campaign", "program", "step"]
    counts: dict[str, int]
    suppressed_by_reason: dict[str, int]
    deferred_by_reason: dict[str, int]
    revenue: dict[str, str]
    held_out_revenue: dict[str, str]
    lift: Lift
    steps: list[CampaignReport] = Field(default_factory=list)


class Totals(BaseModel):
    counts: dict[str, int]
    revenue: dict[str, str]
    held_out_revenue: dict[str, str]


class Report(BaseModel):
    """The report of every campaign with a counter in the period: `from` and `to` are UTC days, inclusive."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    generated_at: datetime
    campaigns: list[CampaignReport]
    totals: Totals

    def document(self) -> dict[str, object]:
        """The report as JSON-ready data, with `from` spelled as such."""
        return self.model_dump(mode="json", by_alias=True)


def days(first: date, last: date) -> list[str]:
    """The UTC days from `first` to `last`, inclusive: the partitions a report reads. Raises ValueError for a
    period backwards or longer than MAX_DAYS."""
    if last < first:
        raise ValueError(f"'to' ({last}) is before 'from' ({first})")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ValueError(f"the period is {count} days; a report covers at most {MAX_DAYS}")
    return [(first + timedelta(days=n)).isoformat() for n in range(count)]


def program_of(campaign_id: str) -> str | None:
    """The program a step campaign (`<program>--v<version>--<step>`) belongs to, else None."""
    parts = campaign_id.split(STEP_SEPARATOR)
    if len(parts) == 3 and parts[1][:1] == "v" and parts[1][1:].isdigit():
        return parts[0]
    return None


def build_report(
    rows: Iterable[tuple[str, str, Mapping[str, Amount]]],
    first: date,
    last: date,
    generated_at: datetime,
    programs: Iterable[str] = (),
) -> Report:
    """The report of the counter rows (day, campaign, counters) in [first, last]; rows outside are ignored.
    Steps are listed under their program, whose counters add up its steps' and its own; `programs` names the
    deployed programs, so a program with no step counted yet is still reported as one."""
    if last < first:
        raise ValueError(f"'to' ({last}) is before 'from' ({first})")
    low, high = first.isoformat(), last.isoformat()
    summed: dict[str, dict[str, Amount]] = {}
    for day, campaign, counters in rows:
        if not low <= day <= high:
            continue
        into = summed.setdefault(campaign, {})
        for name, amount in counters.items():
            into[name] = into.get(name, 0) + amount
    known_programs = set(programs)
    steps: dict[str, list[str]] = {}
    for campaign in summed:
        if (program := program_of(campaign)) is not None:
            steps.setdefault(program, []).append(campaign)
    lines: list[CampaignReport] = []
    for campaign in sorted(set(summed) | set(steps)):
        if program_of(campaign) is not None:
            continue
        own = summed.get(campaign, {})
        if campaign in steps or campaign in known_programs or own.get("entered"):
            step_lines = [_line(step, "step", summed[step]) for step in sorted(steps.get(campaign, []))]
            step_lines = [_measured_on_the_program(step) for step in step_lines]
            program_counters = dict(own)
            for step in steps.get(campaign, []):
                for name, amount in summed[step].items():
                    program_counters[name] = program_counters.get(name, 0) + amount
            lines.append(_line(campaign, "program", program_counters, step_lines))
        else:
            lines.append(_line(campaign, "campaign", own))
    everything: dict[str, Amount] = {}
    for counters in summed.values():
        for name, amount in counters.items():
            everything[name] = everything.get(name, 0) + amount
    total = _line("", "campaign", everything)
    return Report.model_validate(
        {
            "from": first,
            "to": last,
            "generated_at": generated_at,
            "campaigns": lines,
            "totals": Totals(
                counts=total.counts, revenue=total.revenue, held_out_revenue=total.held_out_revenue
            ),
        }
    )


def _line(
    campaign: str,
    kind: Literal["campaign", "program", "step"],
    counters: Mapping[str, Amount],
    steps: list[CampaignReport] | None = None,
) -> CampaignReport:
    counts = {name: int(counters.get(name, 0)) for name in COUNTS}
    exposed = counts["entered"] if kind == "program" else counts["sent"]
    return CampaignReport(
        id=campaign,
        kind=kind,
        counts=counts,
        suppressed_by_reason=_prefixed(counters, SUPPRESSED_BY, _count),
        deferred_by_reason=_prefixed(counters, DEFERRED_BY, _count),
        revenue=_prefixed(counters, REVENUE_IN, _money),
        held_out_revenue=_prefixed(counters, HELD_OUT_REVENUE_IN, _money),
        lift=lift(
            exposed,
            counts["converted"] - counts["refunded"],
            counts["held_out"],
            counts["held_out_converted"] - counts["held_out_refunded"],
        ),
        steps=steps or [],
    )


def _measured_on_the_program(step: CampaignReport) -> CampaignReport:
    """A program holds out at its entry, so a step has no holdout of its own: its lift says where to look."""
    if step.lift.conclusion != "no_holdout":
        return step
    summary = "A program holds out customers at its entry: see the program's lift."
    return step.model_copy(update={"lift": step.lift.model_copy(update={"summary": summary})})


def _prefixed(counters: Mapping[str, Amount], prefix: str, convert: Callable[[Amount], _T]) -> dict[str, _T]:
    found = sorted(counters.items())
    return {name[len(prefix) :]: convert(amount) for name, amount in found if name.startswith(prefix)}


def _count(amount: Amount) -> int:
    return int(amount)


def _money(amount: Amount) -> str:
    return f"{Decimal(amount):.2f}"


def lift(exposed: int, exposed_converted: int, held_out: int, held_out_converted: int) -> Lift:
    """The difference between the two groups' conversion rates, with a 95 % interval (Wald's, for the
    difference of two proportions) once each group has at least MIN_GROUP customers and MIN_CONVERSIONS
    conversions and non-conversions; before that, the sample is too small to conclude anything."""
    exposed_rate = _rate(exposed_converted, exposed)
    held_rate = _rate(held_out_converted, held_out)
    figures = {
        "exposed": exposed,
        "exposed_converted": exposed_converted,
        "exposed_rate": exposed_rate,
        "held_out": held_out,
        "held_out_converted": held_out_converted,
        "held_out_rate": held_rate,
    }
    if held_out == 0:
        return Lift(
            **figures,
            difference=None,
            ci95=None,
            conclusion="no_holdout",
            summary="No holdout: declare `holdout: N%` to measure what the messages add.",
        )
    if not (_large_enough(exposed_converted, exposed) and _large_enough(held_out_converted, held_out)):
        return Lift(
            **figures,
            difference=None,
            ci95=None,
            conclusion="too_small",
            summary=(
                f"Sample too small to conclude: {exposed_converted} of {exposed} converted against "
                f"{held_out_converted} of {held_out} held out. Each group needs at least {MIN_GROUP}, "
                f"with at least {MIN_CONVERSIONS} who converted and {MIN_CONVERSIONS} who did not."
            ),
        )
    assert exposed_rate is not None and held_rate is not None
    p1, p2 = min(exposed_rate, 1.0), min(held_rate, 1.0)
    difference = exposed_rate - held_rate
    margin = _Z95 * math.sqrt(p1 * (1 - p1) / exposed + p2 * (1 - p2) / held_out)
    low, high = difference - margin, difference + margin
    interval = f"95 % interval {_points(low)} to {_points(high)}"
    conclusion: Conclusion
    if low > 0:
        conclusion, summary = "higher", f"Converts {_points(difference)} more than the holdout ({interval})."
    elif high < 0:
        conclusion, summary = "lower", f"Converts {_points(-difference)} less than the holdout ({interval})."
    else:
        conclusion = "no_difference"
        summary = f"No difference shown yet: {_points(difference)} ({interval}) includes zero."
    return Lift(**figures, difference=difference, ci95=(low, high), conclusion=conclusion, summary=summary)


def _rate(converted: int, of: int) -> float | None:
    return converted / of if of else None


def _large_enough(converted: int, of: int) -> bool:
    return of >= MIN_GROUP and converted >= MIN_CONVERSIONS and of - converted >= MIN_CONVERSIONS


def _points(value: float) -> str:
    """A difference of rates in percentage points, signed: `+2.4 pp`."""
    return f"{value * 100:+.1f} pp"
