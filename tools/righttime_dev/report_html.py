"""The campaign report (docs/reporting.md) as one self-contained HTML page: inline CSS and SVG, no script, no
external URL, so it can be mailed, archived or opened offline and looks the same in ten years.

`render_html` takes exactly the report's JSON (`build_report(...).model_dump(mode="json")`). Every figure on
the page carries `data-figure="<owner>:<name>"`, whose text is the figure as formatted below, so that a test
(or a scraper) can compare the page with the JSON:

* owner: the campaign, program or step id; `@totals` for the report's totals; `@report` for the period
  (ids are `[a-z0-9_-]`, so `@` can't collide);
* name: a counter (`sent`, `held_out`, ...); `suppressed_by_reason.<reason>`, `deferred_by_reason.<reason>`;
  `revenue.<currency>`, `held_out_revenue.<currency>`; `lift.<field>` for `exposed`, `exposed_converted`,
  `exposed_rate`, `held_out`, `held_out_converted`, `held_out_rate`, `difference`, `ci95_low`, `ci95_high`;
  `funnel.<stage>` (the stage's count) and `funnel.<stage>.share` (its share of the funnel's first stage);
  `from`, `to`, `generated_at` under `@report`.

Formats: counts as integers with `,` between thousands (`12,345`); revenue as the JSON's decimal with `,`
between thousands, a space and the currency (`1,234.50 EUR`); rates as percentages to two decimals
(`10.00%`); the difference and its interval in percentage points to one decimal, signed (`+6.3 pp`), as the
summary sentence says them; a funnel share to one decimal (`83.3%`); `n/a` where the JSON has null (or a share
of an empty first stage). A null interval shows no figure ("not computed").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any

from righttime.core.report import NO_CURRENCY

NOT_AVAILABLE = "n/a"
TOTALS = "@totals"
REPORT = "@report"

CAMPAIGN_FUNNEL = ("triggered", "scheduled", "sent", "delivered", "opened", "clicked", "converted")
PROGRAM_FUNNEL = ("entered", "sent", "delivered", "opened", "clicked", "converted")

# The counters in the order a reader follows a message, each with what it means (the page's legend).
MEANINGS: dict[str, tuple[str, str]] = {
    "triggered": (
        "Triggered",
        "events that matched the campaign's trigger (or started the program): one each",
    ),
    "entered": ("Entered", "customers who entered the program (programs only)"),
    "held_out": (
        "Held out",
        "customers in the holdout group at the moment they would have been sent the "
        "message or entered the program: recorded, never mailed",
    ),
    "scheduled": ("Scheduled", "messages planned for a send time"),
    "rescheduled": ("Rescheduled", "planned messages moved to a new send time"),
    "suppressed": ("Suppressed", "messages not sent because a rule forbade it (by reason below)"),
    "deferred": ("Deferred", "messages moved to a later time, for example out of quiet hours (by reason)"),
    "cancelled": (
        "Cancelled",
        "planned messages called off: the customer ordered, an exit event, or superseded",
    ),
    "expired": ("Expired", "planned messages that couldn't go out before their send-by deadline"),
    "sent": ("Sent", "messages handed to the e-mail provider"),
    "failed": ("Failed", "messages that couldn't be sent: a template error, or refused for good"),
    "delivered": ("Delivered", "sent messages the recipient's mail server accepted"),
    "opened": ("Opened", "opens reported for the messages (images loaded: an undercount)"),
    "clicked": ("Clicked", "clicks on tracked links in the messages"),
    "bounced": ("Bounced", "messages the recipient's mail server refused"),
    "complained": ("Complained", "recipients who marked a message as spam"),
    "unsubscribed": ("Unsubscribed", "recipients who unsubscribed from a message"),
    "converted": ("Converted", "orders credited to a message (last touch within the attribution window)"),
    "refunded": ("Refunded", "credited orders later refunded (their revenue is taken back)"),
    "held_out_converted": (
        "Held-out converted",
        "orders by held-out customers, credited to the holdout the same way",
    ),
    "held_out_refunded": ("Held-out refunded", "held-out customers' credited orders later refunded"),
    "exited": ("Exited", "customers who left the program before its end (an exit event, condition or step)"),
    "completed": ("Completed", "customers who reached the end of the program"),
}
# The counters' tables: what the engine decided, what became of the messages, the orders, a program's path.
COUNT_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Decisions", ("triggered", "held_out", "scheduled", "rescheduled", "suppressed", "deferred")),
    ("Messages", ("cancelled", "expired", "sent", "failed", "delivered", "opened", "clicked")),
    ("Replies", ("bounced", "complained", "unsubscribed")),
    ("Orders", ("converted", "refunded", "held_out_converted", "held_out_refunded")),
    ("Program", ("entered", "exited", "completed")),
)
REVENUE_MEANING = (
    "revenue of the credited orders net of refunds, per currency (never converted between currencies); "
    "held-out revenue is the same for the holdout group"
)
CONCLUSION_BADGES = {
    "too_small": ("Sample too small to conclude", "badge-small"),
    "no_holdout": ("No holdout group configured", "badge-none"),
    "higher": ("Converts more than the holdout", "badge-higher"),
    "lower": ("Converts less than the holdout", "badge-lower"),
    "no_difference": ("No clear difference from the holdout", "badge-same"),
}

CSS = """
:root{color-scheme:light}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1a1a1a;
background:#fff;margin:0 auto;max-width:72rem;padding:1.5rem;line-height:1.45}
h1{font-size:1.7rem;margin:0 0 .25rem}
h2{font-size:1.35rem;margin:0 0 .5rem}
h3{font-size:1.1rem;margin:1rem 0 .4rem}
h4{font-size:1rem;margin:.8rem 0 .3rem}
.meta{color:#404040;margin:0 0 1rem}
.cards{display:flex;flex-wrap:wrap;gap:.75rem;margin:0 0 1rem;padding:0;list-style:none}
.cards li{border:1px solid #8c8c8c;border-radius:6px;padding:.5rem .8rem;min-width:9rem}
.cards .label{display:block;color:#404040;font-size:.85rem}
.cards .value{display:block;font-size:1.3rem;font-weight:650}
nav ul{margin:.25rem 0 1rem;padding-left:1.2rem}
nav ul ul{margin:0}
a{color:#0b4f8a}
section.campaign{border:1px solid #8c8c8c;border-radius:8px;padding:1rem 1.2rem;margin:1.2rem 0}
section.step{border-color:#b3b3b3;margin:1rem 0 1rem 0}
.tables{display:flex;flex-wrap:wrap;gap:0 2rem;align-items:flex-start}
.tables table{min-width:13rem}
.steps{margin-left:1.5rem;padding-left:1rem;border-left:4px solid #5a7fa6}
.steps>p.steps-title{font-weight:650;margin:.8rem 0 0}
.kind{font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:#404040}
.grid{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1rem 2rem}
@media (max-width:50rem){.grid{grid-template-columns:1fr}}
table{border-collapse:collapse;margin:.2rem 0 .6rem;min-width:16rem}
caption{text-align:left;font-weight:650;padding:.2rem 0}
th,td{border-bottom:1px solid #c8c8c8;padding:.2rem .6rem;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
thead th{border-bottom:2px solid #595959}
.none{color:#404040;font-style:italic;margin:.2rem 0 .6rem}
svg{max-width:100%;height:auto;display:block}
.badge{display:inline-block;border-radius:4px;padding:.1rem .5rem;font-size:.85rem;font-weight:650;
border:2px solid currentColor;margin-left:.5rem;vertical-align:middle}
.badge-small{color:#6b3d00;background:#fff1c2}
.badge-none{color:#404040;background:#f0f0f0}
.badge-higher{color:#0f5323;background:#e3f4e8}
.badge-lower{color:#8a1c1c;background:#fbe7e7}
.badge-same{color:#1f3f66;background:#e8eef6}
.lift{border-radius:6px;padding:.6rem .9rem;margin:.4rem 0;border:1px solid #8c8c8c}
.lift.too-small{border:3px solid #b36b00;background:#fff8e1}
.lift.too-small .verdict{font-size:1.15rem;font-weight:750;color:#6b3d00;margin:0 0 .3rem}
.lift.no-holdout{background:#f5f5f5}
.lift dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.3rem 0}
.lift dt{color:#404040}
.lift dd{margin:0;font-variant-numeric:tabular-nums}
.summary{font-weight:600;margin:.3rem 0}
.legend dt{font-weight:650}
.legend dd{margin:0 0 .35rem 0}
.legend dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem}
footer{color:#404040;font-size:.85rem;margin-top:2rem}
@media print{
body{max-width:none;padding:0;font-size:10pt}
nav{display:none}
section.campaign,.lift,table,svg{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
a{color:inherit;text-decoration:none}
}
"""


def format_count(value: int) -> str:
    """A counter as shown: an integer with `,` between thousands."""
    return f"{value:,}"


def format_money(amount: str, currency: str) -> str:
    """Revenue as shown: the JSON's decimal with `,` between thousands, then the currency."""
    try:
        number = Decimal(amount)
    except InvalidOperation:
        return f"{amount} {currency}".strip()
    text = f"{number:,f}" if number.is_finite() else amount
    return f"{text} {currency}".strip()


def format_rate(rate: float | None) -> str:
    """A conversion rate as a percentage to two decimals, or `n/a`."""
    return NOT_AVAILABLE if rate is None else f"{rate * 100:.2f}%"


def format_points(difference: float | None) -> str:
    """A difference of two rates in signed percentage points to one decimal (as the summary says it), or
    `n/a`."""
    if difference is None:
        return NOT_AVAILABLE
    text = f"{difference * 100:+.1f}"
    return f"{'+0.0' if text == '-0.0' else text} pp"


def format_share(count: int, first: int) -> str:
    """A funnel stage's share of the first stage, to one decimal, or `n/a` when that stage is empty."""
    return NOT_AVAILABLE if first == 0 else f"{count / first * 100:.1f}%"


def render_html(report: dict[str, Any]) -> str:
    """The report as one HTML document, the same bytes for the same report."""
    period_from, period_to = str(report["from"]), str(report["to"])
    campaigns: list[dict[str, Any]] = list(report.get("campaigns", []))
    title = f"Campaign report, {period_from} to {period_to}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing on this page may load from anywhere: the browser enforces what the renderer promises.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>{_text(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        _header(report, title),
        _contents(campaigns),
        "<main>",
    ]
    if not campaigns:
        parts.append('<p class="none">No campaign activity in this period.</p>')
    parts.extend(_campaign(campaign, index=str(n)) for n, campaign in enumerate(campaigns, start=1))
    parts += [
        "</main>",
        _legend(),
        f"<footer><p>Generated by righttime at {_figure(REPORT, 'generated_at', str(report['generated_at']))}"
        " (UTC). Days are UTC days, inclusive.</p></footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _figure(owner: str, name: str, text: str, tag: str = "span", attrs: str = "") -> str:
    """One figure, machine-readable: `data-figure="<owner>:<name>"` around the text as formatted."""
    return f'<{tag}{attrs} data-figure="{_text(f"{owner}:{name}")}">{_text(text)}</{tag}>'


def _header(report: dict[str, Any], title: str) -> str:
    totals: dict[str, Any] = report.get("totals", {})
    counts: dict[str, int] = totals.get("counts", {})
    cards = [
        (MEANINGS[key][0], _figure(TOTALS, key, format_count(int(counts.get(key, 0)))))
        for key in ("sent", "delivered", "converted")
    ]
    cards += [
        (f"Revenue ({currency})", _figure(TOTALS, f"revenue.{currency}", format_money(amount, currency)))
        for currency, amount in _sorted(totals.get("revenue", {}))
    ]
    card_items = "".join(
        f'<li><span class="label">{_text(label)}</span><span class="value">{value}</span></li>'
        for label, value in cards
    )
    period = (
        f"{_figure(REPORT, 'from', str(report['from']), tag='time')} to "
        f"{_figure(REPORT, 'to', str(report['to']), tag='time')}"
    )
    return "\n".join(
        [
            "<header>",
            f"<h1>{_text(title)}</h1>",
            f'<p class="meta">Period: {period} (UTC days, inclusive). Generated at '
            f"{_text(report['generated_at'])}.</p>",
            f'<ul class="cards" aria-label="Totals">{card_items}</ul>',
            '<section aria-labelledby="totals-heading">',
            '<h2 id="totals-heading">Totals, all campaigns</h2>',
            _revenue_table(TOTALS, totals.get("revenue", {}), totals.get("held_out_revenue", {})),
            _counts_tables(TOTALS, counts),
            "</section>",
            "</header>",
        ]
    )


def _contents(campaigns: list[dict[str, Any]]) -> str:
    if not campaigns:
        return ""

    def item(campaign: dict[str, Any], index: str, program: dict[str, Any] | None = None) -> str:
        steps = campaign.get("steps", [])
        nested = (
            "<ul>"
            + "".join(item(s, f"{index}-{n}", campaign) for n, s in enumerate(steps, start=1))
            + "</ul>"
            if steps
            else ""
        )
        label, _ = _badge(campaign, program)
        note = f" ({_text(label)})" if label else ""
        return f'<li><a href="#c{index}">{_text(campaign["id"])}</a>{note}{nested}</li>'

    entries = "".join(item(c, str(n)) for n, c in enumerate(campaigns, start=1))
    return f'<nav aria-label="Campaigns"><h2>Campaigns</h2><ul>{entries}</ul></nav>'


def _campaign(campaign: dict[str, Any], index: str, program: dict[str, Any] | None = None) -> str:
    """One campaign's, program's or step's section; a step's (`program` given) sits inside its program's."""
    owner = str(campaign["id"])
    kind = str(campaign.get("kind", "campaign"))
    level = 3 if kind == "step" else 2
    heading_id = f"c{index}"
    counts: dict[str, int] = campaign["counts"]
    lift: dict[str, Any] = campaign["lift"]
    badge_label, badge_class = _badge(campaign, program)
    badge = f'<span class="badge {badge_class}">{_text(badge_label)}</span>' if badge_label else ""
    parts = [
        f'<section class="campaign {_text(kind)}" data-campaign="{_text(owner)}"'
        f' aria-labelledby="{heading_id}">',
        f'<h{level} id="{heading_id}"><span class="kind">{_text(kind)}</span> {_text(owner)}{badge}'
        f"</h{level}>",
        '<div class="grid"><div>',
        f"<h{level + 1}>Funnel</h{level + 1}>",
        _funnel(owner, counts, PROGRAM_FUNNEL if kind == "program" else CAMPAIGN_FUNNEL),
        f"<h{level + 1}>Conversion against the holdout</h{level + 1}>",
        _lift(owner, lift, kind, program),
        "</div><div>",
        f"<h{level + 1}>Revenue</h{level + 1}>",
        _revenue_table(owner, campaign.get("revenue", {}), campaign.get("held_out_revenue", {})),
        f"<h{level + 1}>Not sent, or not yet</h{level + 1}>",
        _reasons_table(owner, "suppressed_by_reason", "Suppressed, by reason", campaign),
        _reasons_table(owner, "deferred_by_reason", "Deferred, by reason", campaign),
        "</div></div>",
        f"<h{level + 1}>Counts</h{level + 1}>",
        _counts_tables(owner, counts),
    ]
    steps: list[dict[str, Any]] = campaign.get("steps", [])
    if steps:
        parts.append(f'<div class="steps" role="group" aria-label="Steps of {_text(owner)}">')
        parts.append(f'<p class="steps-title">Steps of {_text(owner)}</p>')
        parts.extend(_campaign(step, f"{index}-{n}", campaign) for n, step in enumerate(steps, start=1))
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _held_out_by_program(program: dict[str, Any] | None) -> bool:
    """Whether a step's program has a holdout: it holds out at entry, so its steps have none of their own."""
    return program is not None and program["lift"]["conclusion"] != "no_holdout"


def _badge(campaign: dict[str, Any], program: dict[str, Any] | None) -> tuple[str, str]:
    conclusion = str(campaign["lift"]["conclusion"])
    if conclusion == "no_holdout" and _held_out_by_program(program):
        return "Lift measured on the program", "badge-none"
    return CONCLUSION_BADGES.get(conclusion, ("", ""))


def _funnel(owner: str, counts: Mapping[str, int], stages: tuple[str, ...]) -> str:
    """Horizontal bars, one per stage, scaled to the largest stage; each labelled with its count and its
    share of the first stage (a program's steps may send more messages than customers entered)."""
    values = [int(counts.get(stage, 0)) for stage in stages]
    first, widest = values[0], max(values) or 1
    label_width, bar_width, row, top = 110, 300, 28, 6
    width, height = 600, top + row * len(stages) + 4
    description = ", ".join(
        f"{MEANINGS[stage][0]} {format_count(value)} ({format_share(value, first)})"
        for stage, value in zip(stages, values, strict=True)
    )
    rows = []
    for n, (stage, value) in enumerate(zip(stages, values, strict=True)):
        y = top + n * row
        length = round(bar_width * value / widest, 1)
        fill = "#1d6b3a" if stage == "converted" else "#21578a"
        rows.append(
            f'<text x="0" y="{y + 17}" font-size="13" fill="#1a1a1a">{_text(MEANINGS[stage][0])}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{length}" height="18" rx="2" fill="{fill}"/>'
            f'<text x="{label_width + length + 8}" y="{y + 17}" font-size="13" fill="#1a1a1a">'
            + _figure(owner, f"funnel.{stage}", format_count(value), tag="tspan")
            + '<tspan fill="#404040"> (</tspan>'
            + _figure(
                owner,
                f"funnel.{stage}.share",
                format_share(value, first),
                tag="tspan",
                attrs=' fill="#404040"',
            )
            + '<tspan fill="#404040">)</tspan></text>'
        )
    title = f"Funnel of {owner}"
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_text(f"{title}: {description}")}">'
        f"<title>{_text(title)}</title><desc>{_text(description)}</desc>" + "".join(rows) + "</svg>"
    )


def _lift(owner: str, lift: dict[str, Any], kind: str, program: dict[str, Any] | None) -> str:
    conclusion = str(lift["conclusion"])
    exposed_label = "Entered" if kind == "program" else "Sent"
    summary = f'<p class="summary">{_text(lift.get("summary", ""))}</p>'
    if conclusion == "no_holdout" and program is not None and _held_out_by_program(program):
        return (
            '<div class="lift no-holdout" data-conclusion="no_holdout">'
            f"<p>The program holds customers out as they enter, not step by step: its lift is measured on "
            f"<strong>{_text(program['id'])}</strong> as a whole, above.</p>"
            + _lift_figures(owner, lift, exposed_label)
            + "</div>"
        )
    if conclusion == "no_holdout":
        return (
            '<div class="lift no-holdout" data-conclusion="no_holdout">'
            "<p><strong>No holdout group is configured</strong>, so lift can't be measured: declare "
            "<code>holdout: N%</code> to compare with customers who were not mailed.</p>"
            + _lift_figures(owner, lift, exposed_label)
            + "</div>"
        )
    verdict = (
        '<p class="verdict" role="note">&#9888; Sample too small to conclude</p>'
        if conclusion == "too_small"
        else ""
    )
    css = "too-small" if conclusion == "too_small" else _text(conclusion.replace("_", "-"))
    return (
        f'<div class="lift {css}" data-conclusion="{_text(conclusion)}">'
        + verdict
        + summary
        + _lift_figures(owner, lift, exposed_label)
        + _interval_chart(owner, lift)
        + "</div>"
    )


def _lift_figures(owner: str, lift: dict[str, Any], exposed_label: str) -> str:
    def rate_line(group: str, label: str) -> str:
        converted = _figure(owner, f"lift.{group}_converted", format_count(int(lift[f"{group}_converted"])))
        total = _figure(owner, f"lift.{group}", format_count(int(lift[group])))
        rate = _figure(owner, f"lift.{group}_rate", format_rate(lift[f"{group}_rate"]))
        return f"<dt>{_text(label)}</dt><dd>{rate}: {converted} converted (net of refunds) of {total}</dd>"

    ci = lift.get("ci95")
    interval = (
        _figure(owner, "lift.ci95_low", format_points(ci[0]))
        + " to "
        + _figure(owner, "lift.ci95_high", format_points(ci[1]))
        if ci
        else "not computed"
    )
    return (
        "<dl>"
        + rate_line("exposed", f"Conversion rate, {exposed_label.lower()}")
        + rate_line("held_out", "Conversion rate, held out")
        + "<dt>Difference</dt><dd>"
        + _figure(owner, "lift.difference", format_points(lift.get("difference")))
        + "</dd><dt>95% interval</dt><dd>"
        + interval
        + "</dd></dl>"
    )


def _interval_chart(owner: str, lift: dict[str, Any]) -> str:
    """The difference and its 95 % interval on an axis centred on zero: an interval that crosses the zero
    line doesn't show a difference."""
    ci, difference = lift.get("ci95"), lift.get("difference")
    if not ci or difference is None:
        return ""
    low, high = float(ci[0]), float(ci[1])
    reach = max(abs(low), abs(high), abs(float(difference)), 0.001) * 1.15
    width, middle, half = 420, 210, 190

    def x(value: float) -> float:
        return round(middle + half * value / reach, 1)

    label = (
        f"Difference {format_points(difference)}, "
        f"95% interval {format_points(low)} to {format_points(high)}; the vertical line is no difference"
    )
    return (
        f'<svg viewBox="0 0 {width} 52" width="{width}" height="52" '
        f'role="img" aria-label="{_text(label)}"><title>{_text(f"Lift of {owner}: {label}")}</title>'
        f'<line x1="{middle - half}" y1="22" x2="{middle + half}" y2="22" stroke="#8c8c8c"/>'
        f'<line x1="{middle}" y1="6" x2="{middle}" y2="38" stroke="#1a1a1a" stroke-dasharray="3 2"/>'
        f'<line x1="{x(low)}" y1="22" x2="{x(high)}" y2="22" stroke="#21578a" stroke-width="4"/>'
        f'<line x1="{x(low)}" y1="14" x2="{x(low)}" y2="30" stroke="#21578a" stroke-width="2"/>'
        f'<line x1="{x(high)}" y1="14" x2="{x(high)}" y2="30" stroke="#21578a" stroke-width="2"/>'
        f'<circle cx="{x(float(difference))}" cy="22" r="5" fill="#1a1a1a"/>'
        f'<text x="{middle}" y="50" font-size="11" text-anchor="middle" fill="#404040">0 pp</text>'
        "</svg>"
    )


def _counts_tables(owner: str, counts: Mapping[str, int]) -> str:
    """Every counter, in its group's table; counters the page doesn't know yet go in a last one."""
    known = {key for _, keys in COUNT_GROUPS for key in keys}
    groups = [(caption, [key for key in keys if key in counts]) for caption, keys in COUNT_GROUPS]
    groups.append(("Other", sorted(set(counts) - known)))
    tables = "".join(_counts_table(owner, counts, caption, keys) for caption, keys in groups if keys)
    return f'<div class="tables">{tables}</div>'


def _counts_table(owner: str, counts: Mapping[str, int], caption: str, keys: list[str]) -> str:
    rows = "".join(
        f'<tr><th scope="row">{_text(MEANINGS.get(key, (key, ""))[0])}</th>'
        + _figure(owner, key, format_count(int(counts[key])), tag="td", attrs=' class="num"')
        + "</tr>"
        for key in keys
    )
    return (
        f"<table><caption>{_text(caption)}</caption>"
        '<thead><tr><th scope="col">Counter</th><th scope="col" class="num">Count</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _reasons_table(owner: str, field: str, caption: str, campaign: dict[str, Any]) -> str:
    reasons: Mapping[str, int] = campaign.get(field, {})
    if not reasons:
        return f'<p class="none">{_text(caption)}: none.</p>'
    rows = "".join(
        f'<tr><th scope="row"><code>{_text(reason)}</code></th>'
        + _figure(owner, f"{field}.{reason}", format_count(int(count)), tag="td", attrs=' class="num"')
        + "</tr>"
        for reason, count in _sorted(reasons)
    )
    return (
        f"<table><caption>{_text(caption)}</caption>"
        '<thead><tr><th scope="col">Reason</th><th scope="col" class="num">Count</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _revenue_table(owner: str, revenue: Mapping[str, str], held_out: Mapping[str, str]) -> str:
    currencies = sorted(set(revenue) | set(held_out))
    if not currencies:
        return '<p class="none">Revenue: none credited.</p>'

    def cell(field: str, amounts: Mapping[str, str], currency: str) -> str:
        if currency not in amounts:
            return '<td class="num">&#8212;</td>'
        text = format_money(str(amounts[currency]), currency)
        return _figure(owner, f"{field}.{currency}", text, tag="td", attrs=' class="num"')

    rows = "".join(
        f'<tr><th scope="row">{_text(_currency_name(currency))}</th>'
        + cell("revenue", revenue, currency)
        + cell("held_out_revenue", held_out, currency)
        + "</tr>"
        for currency in currencies
    )
    return (
        "<table><caption>Revenue, net of refunds</caption>"
        '<thead><tr><th scope="col">Currency</th><th scope="col" class="num">Credited</th>'
        '<th scope="col" class="num">Held out</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _currency_name(currency: str) -> str:
    """A currency as a row names it: `XXX`, ISO 4217's "no currency", holds orders that named none."""
    return f"{currency} (no currency)" if currency in (NO_CURRENCY, "") else currency


def _legend() -> str:
    entries = "".join(
        f"<dt>{_text(label)}</dt><dd>{_text(meaning)}</dd>" for label, meaning in MEANINGS.values()
    )
    return (
        '<section class="legend" aria-labelledby="legend-heading">'
        '<h2 id="legend-heading">What each number means</h2>'
        "<p>Counts are decisions or messages, counted per UTC day and summed over the period: they are not "
        "unique customers (a customer who abandons two carts is triggered twice).</p>"
        f"<dl>{entries}<dt>Revenue</dt><dd>{_text(REVENUE_MEANING)}</dd>"
        "<dt>Conversion rate</dt><dd>converted net of refunded, divided by sent (a campaign or step) "
        "or by entered (a program); for the holdout, held-out converted net of refunded, divided by held "
        "out</dd>"
        "<dt>Difference and 95% interval</dt><dd>the exposed rate minus the held-out rate, in percentage "
        "points (pp), and the range it lies in with 95% confidence; an interval that includes 0 pp doesn't "
        "show that the campaign changed anything</dd>"
        "<dt>Sample too small to conclude</dt><dd>too few customers were sent or held out for the "
        "difference to mean anything yet: wait for more data or raise the holdout</dd></dl>"
        "</section>"
    )


def _sorted(amounts: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    return sorted(amounts.items())
