"""The campaign report's HTML page (`righttime report --html`): one self-contained file that shows every
figure of the report's JSON where a test can find it, escapes what users named, and says plainly when a
holdout is too small to conclude anything."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

from righttime_dev.report_html import render_html

COUNT_NAMES = (
    "triggered", "held_out", "scheduled", "suppressed", "deferred", "sent", "delivered", "opened", "clicked",
    "bounced", "complained", "unsubscribed", "converted", "refunded", "held_out_converted", "entered",
)  # fmt: skip


def _counts(**given: int) -> dict[str, int]:
    return {name: given.get(name, 0) for name in COUNT_NAMES}


def _lift(exposed: int, converted: int, held_out: int, held_converted: int, **rest: Any) -> dict[str, Any]:
    return {
        "exposed": exposed,
        "exposed_converted": converted,
        "exposed_rate": converted / exposed if exposed else None,
        "held_out": held_out,
        "held_out_converted": held_converted,
        "held_out_rate": held_converted / held_out if held_out else None,
        "difference": None,
        "ci95": None,
        **rest,
    }


def _line(
    campaign_id: str, kind: str, counts: dict[str, int], lift: dict[str, Any], **rest: Any
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": campaign_id,
        "kind": kind,
        "counts": counts,
        "suppressed_by_reason": {},
        "deferred_by_reason": {},
        "revenue": {},
        "held_out_revenue": {},
        "lift": lift,
        "steps": [],
    }
    return line | rest


CART = _line(
    "cart_abandonment",
    "campaign",
    _counts(
        triggered=12345,
        held_out=400,
        scheduled=11000,
        suppressed=900,
        deferred=30,
        sent=10000,
        delivered=9900,
        opened=4000,
        clicked=1200,
        bounced=12,
        complained=1,
        unsubscribed=9,
        converted=1002,
        refunded=2,
        held_out_converted=24,
    ),
    _lift(
        10000,
        1000,
        400,
        24,
        difference=0.04,
        ci95=[0.0163, 0.0637],
        conclusion="higher",
        summary="Converts +4.0 pp more than the holdout (95 % interval +1.6 pp to +6.4 pp).",
    ),
    suppressed_by_reason={"frequency_cap": 600, "unsubscribed": 300},
    deferred_by_reason={"quiet_hours": 30},
    revenue={"EUR": "51234.50", "USD": "99.00"},
    held_out_revenue={"EUR": "1200.00"},
)
BROWSE = _line(
    "browse_abandonment",
    "campaign",
    _counts(triggered=70, held_out=6, scheduled=64, sent=60, delivered=59, opened=25, clicked=7, converted=4),
    _lift(
        60,
        4,
        6,
        0,
        conclusion="too_small",
        summary="Sample too small to conclude: 4 of 60 converted against 0 of 6 held out.",
    ),
)
PRICE_DROP = _line(
    "price_drop",
    "campaign",
    _counts(triggered=320, scheduled=310, sent=300, delivered=296, converted=12),
    _lift(300, 12, 0, 0, conclusion="no_holdout", summary="No holdout: declare `holdout: N%` to measure it."),
    revenue={"EUR": "-15.00", "XXX": "20.00"},
)
WE_MISS_YOU = _line(
    "win_back--v1--we_miss_you",
    "step",
    _counts(triggered=400, scheduled=400, sent=390, delivered=385, opened=150, clicked=40, converted=18),
    _lift(390, 18, 0, 0, conclusion="no_holdout", summary="No holdout: declare `holdout: N%` to measure it."),
    revenue={"EUR": "990.00"},
)
WIN_BACK = _line(
    "win_back",
    "program",
    _counts(
        triggered=860,
        entered=400,
        held_out=60,
        held_out_converted=5,
        scheduled=400,
        sent=390,
        delivered=385,
        opened=150,
        clicked=40,
        converted=18,
    ),
    _lift(
        400,
        18,
        60,
        5,
        difference=-0.0383,
        ci95=[-0.1105, 0.0339],
        conclusion="no_difference",
        summary="No difference shown yet: -3.8 pp (95 % interval -11.1 pp to +3.4 pp) includes zero.",
    ),
    revenue={"EUR": "990.00"},
    steps=[WE_MISS_YOU],
)


def _report(*campaigns: dict[str, Any]) -> dict[str, Any]:
    totals = _counts()
    for line in campaigns:
        for name, value in line["counts"].items():
            totals[name] += value
    return {
        "from": "2026-11-01",
        "to": "2026-11-28",
        "generated_at": "2026-11-28T12:00:00Z",
        "campaigns": list(campaigns),
        "totals": {
            "counts": totals,
            "revenue": {"EUR": "52209.50", "USD": "99.00"},
            "held_out_revenue": {"EUR": "1200.00"},
        },
    }


REPORT = _report(BROWSE, CART, PRICE_DROP, WIN_BACK)


class _Page(HTMLParser):
    """What a test reads of the page: each `data-figure`'s text, each section's text and nesting, and the
    notes (`role="note"`: what a reader must not miss) in each section."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[tuple[str, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: dict[str, list[str]] = {}  # campaign id -> ids of the sections it sits in
        self.section_text: dict[str, str] = {}
        self.notes: dict[str, list[str]] = {}
        self._open: list[tuple[str, str, str]] = []  # (tag, "section" | "figure" | "note" | "", key)
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag in ("meta", "br", "img", "link", "input", "circle", "line", "rect"):
            return
        if tag == "section" and found.get("data-campaign") is not None:
            campaign = found["data-campaign"] or ""
            self.sections[campaign] = self._within()
            self.section_text[campaign], self.notes[campaign] = "", []
            self._open.append((tag, "section", campaign))
        elif found.get("data-figure") is not None:
            self.figures.append((found["data-figure"] or "", ""))
            self._open.append((tag, "figure", ""))
        elif found.get("role") == "note" and self._within():
            self.notes[self._within()[-1]].append("")
            self._open.append((tag, "note", ""))
        else:
            self._open.append((tag, "", ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        kinds = {kind for _, kind, _ in self._open}
        if "figure" in kinds:
            key, text = self.figures[-1]
            self.figures[-1] = (key, text + data)
        if "note" in kinds:
            notes = self.notes[self._within()[-1]]
            notes[-1] += data
        for campaign in self._within():
            self.section_text[campaign] += data

    def _within(self) -> list[str]:
        return [key for _, kind, key in self._open if kind == "section"]


def _json_figures(report: dict[str, Any]) -> dict[str, Any]:
    """Every number of the report JSON, under the `data-figure` key the page is to show it with."""
    figures: dict[str, Any] = {}

    def money(owner: str, field: str, amounts: dict[str, str]) -> None:
        figures.update(
            {f"{owner}:{field}.{currency}": ("money", a, currency) for currency, a in amounts.items()}
        )

    def add(owner: str, line: dict[str, Any]) -> None:
        figures.update({f"{owner}:{name}": n for name, n in line["counts"].items()})
        money(owner, "revenue", line["revenue"])
        money(owner, "held_out_revenue", line["held_out_revenue"])

    add("@totals", report["totals"])
    stack = list(report["campaigns"])
    while stack:
        line = stack.pop()
        owner = line["id"]
        add(owner, line)
        for field in ("suppressed_by_reason", "deferred_by_reason"):
            figures.update({f"{owner}:{field}.{reason}": n for reason, n in line[field].items()})
        lift = line["lift"]
        figures.update({f"{owner}:lift.{name}": lift[name] for name in ("exposed", "exposed_converted")})
        figures.update({f"{owner}:lift.{name}": lift[name] for name in ("held_out", "held_out_converted")})
        figures[f"{owner}:lift.exposed_rate"] = ("rate", lift["exposed_rate"])
        figures[f"{owner}:lift.held_out_rate"] = ("rate", lift["held_out_rate"])
        figures[f"{owner}:lift.difference"] = ("points", lift["difference"])
        if lift["ci95"]:
            figures[f"{owner}:lift.ci95_low"] = ("points", lift["ci95"][0])
            figures[f"{owner}:lift.ci95_high"] = ("points", lift["ci95"][1])
        stages = ["entered"] if line["kind"] == "program" else ["triggered", "scheduled"]
        for stage in [*stages, "sent", "delivered", "opened", "clicked", "converted"]:
            count, first = line["counts"][stage], line["counts"][stages[0]]
            figures[f"{owner}:funnel.{stage}"] = count
            figures[f"{owner}:funnel.{stage}.share"] = ("share", count / first if first else None)
        stack.extend(line["steps"])
    return figures


def _shows(text: str, value: Any) -> bool:
    """Whether the page's `text` is the JSON's `value` in the page's documented format."""
    if isinstance(value, int):
        return re.fullmatch(r"\d{1,3}(,\d{3})*", text) is not None and int(text.replace(",", "")) == value
    kind, *rest = value
    if kind == "money":
        amount, currency = rest
        number, _, shown = text.rpartition(" ")
        return shown == currency and Decimal(number.replace(",", "")) == Decimal(amount)
    (fraction,) = rest
    if fraction is None:
        return text == "n/a"
    pattern, decimals = {
        "rate": (r"\d+\.\d{2}%", 2),
        "share": (r"\d+\.\d%", 1),
        "points": (r"[+-]\d+\.\d pp", 1),
    }[kind]
    number = float(text.removesuffix(" pp").removesuffix("%"))
    return re.fullmatch(pattern, text) is not None and number == round(fraction * 100, decimals)


def test_every_number_of_the_json_is_shown_in_its_figure_and_nothing_else_is() -> None:
    # Given a report of a campaign with a lift, one too small, one without holdout and a program with a step
    expected = _json_figures(REPORT)

    # When it is rendered
    page = _Page(render_html(REPORT))

    # Then each number of the JSON is on the page, under its key, in the documented format
    shown = dict(page.figures)
    assert set(expected) - set(shown) == set()
    assert [
        (key, text) for key, text in page.figures if key not in expected and not key.startswith("@report:")
    ] == []
    wrong = [
        (key, text, expected[key])
        for key, text in page.figures
        if key in expected and not _shows(text, expected[key])
    ]
    assert wrong == []
    # And the period is shown as given
    assert shown["@report:from"] == "2026-11-01"
    assert shown["@report:to"] == "2026-11-28"
    assert shown["@report:generated_at"] == "2026-11-28T12:00:00Z"


def test_figures_read_as_a_marketer_expects() -> None:
    # Given the cart reminder's report
    # When it is rendered
    shown = dict(_Page(render_html(REPORT)).figures)

    # Then counts have thousands separated, money keeps its decimals and currency, rates are percentages
    assert shown["cart_abandonment:triggered"] == "12,345"
    assert shown["cart_abandonment:revenue.EUR"] == "51,234.50 EUR"
    assert shown["price_drop:revenue.EUR"] == "-15.00 EUR"
    # And revenue of orders that named no currency is kept apart, and said to be so
    assert shown["price_drop:revenue.XXX"] == "20.00 XXX"
    assert "XXX (no currency)" in _Page(render_html(REPORT)).section_text["price_drop"]
    assert shown["cart_abandonment:lift.exposed_rate"] == "10.00%"
    assert shown["cart_abandonment:lift.held_out_rate"] == "6.00%"
    assert shown["cart_abandonment:lift.difference"] == "+4.0 pp"
    assert (shown["cart_abandonment:lift.ci95_low"], shown["cart_abandonment:lift.ci95_high"]) == (
        "+1.6 pp",
        "+6.4 pp",
    )
    assert shown["win_back:lift.difference"] == "-3.8 pp"
    # And a funnel stage shows its share of the first stage (a program's first stage is who entered)
    assert shown["cart_abandonment:funnel.sent.share"] == "81.0%"
    assert shown["win_back:funnel.entered.share"] == "100.0%"
    assert shown["win_back:funnel.sent"] == "390"


def test_the_page_is_one_file_that_loads_nothing_from_elsewhere() -> None:
    # Given a report
    # When it is rendered
    html = render_html(REPORT)
    page = _Page(html)

    # Then nothing points outside the page: no URL, stylesheet link, script, import or CSS url()
    assert re.search(r"https?:|//[a-z0-9]", html, re.IGNORECASE) is None
    assert [
        tag for tag, _ in page.tags if tag in ("link", "script", "img", "iframe", "object", "embed")
    ] == []
    assert "@import" not in html
    assert "url(" not in html
    references = [attrs[name] or "" for _, attrs in page.tags for name in ("src", "href") if name in attrs]
    assert all(reference.startswith("#") for reference in references)
    # And the browser is told to refuse any load that slipped in
    policies = [attrs.get("content") for tag, attrs in page.tags if tag == "meta" and attrs.get("http-equiv")]
    assert policies == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_names_from_users_are_escaped_and_read_back_as_given() -> None:
    # Given a campaign id, a reason and a currency that carry markup
    hostile = '<script>alert("x")</script>&\'id'
    line = copy.deepcopy(CART) | {
        "id": hostile,
        "suppressed_by_reason": {"<b>cap</b>": 3},
        "revenue": {'EU"R<': "10.00"},
        "held_out_revenue": {},
    }

    # When the report is rendered
    html = render_html(_report(line))
    page = _Page(html)

    # Then no markup of theirs reaches the page, and the figures still carry their names as given
    assert "<script" not in html
    assert "<b>cap" not in html
    shown = dict(page.figures)
    assert shown[f"{hostile}:sent"] == "10,000"
    assert shown[f"{hostile}:suppressed_by_reason.<b>cap</b>"] == "3"
    assert shown[f'{hostile}:revenue.EU"R<'] == '10.00 EU"R<'
    assert hostile in page.section_text[hostile]


def test_a_too_small_sample_says_so_plainly_and_only_there() -> None:
    # Given a browse reminder whose holdout is 6 customers, beside a cart reminder with a clear lift
    # When the report is rendered
    page = _Page(render_html(REPORT))

    # Then the browse reminder says nothing can be concluded, with the report's own sentence
    assert page.notes["browse_abandonment"] == ["\u26a0 Sample too small to conclude"]
    assert BROWSE["lift"]["summary"] in page.section_text["browse_abandonment"]
    # And the cart reminder shows its own conclusion instead
    cart = page.section_text["cart_abandonment"]
    assert page.notes["cart_abandonment"] == []
    assert "Sample too small to conclude" not in cart
    assert "Converts more than the holdout" in cart
    assert CART["lift"]["summary"] in cart


def test_a_campaign_without_holdout_says_none_is_configured() -> None:
    # Given a price-drop alert with no holdout
    # When the report is rendered
    page = _Page(render_html(REPORT))

    # Then it says lift can't be measured for want of a holdout, not that its sample is small
    text = page.section_text["price_drop"]
    assert "No holdout group is configured" in text
    assert "Sample too small" not in text
    assert "not computed" in text


def test_a_programs_steps_are_shown_inside_it_and_measured_on_it() -> None:
    # Given a win-back program with a 60-customer holdout at entry, and its send step
    # When the report is rendered
    page = _Page(render_html(REPORT))

    # Then the step's section sits inside the program's, and no other campaign's
    assert page.sections["win_back--v1--we_miss_you"] == ["win_back"]
    assert page.sections["win_back"] == []
    assert page.sections["cart_abandonment"] == []
    # And the step points to the program's lift instead of asking for a holdout of its own
    step = page.section_text["win_back--v1--we_miss_you"]
    assert "Lift measured on the program" in step
    assert "declare `holdout" not in step


def test_the_page_is_accessible_and_the_same_every_time() -> None:
    # Given a report
    # When it is rendered twice
    html = render_html(REPORT)
    page = _Page(html)

    # Then it is the same page both times
    assert render_html(copy.deepcopy(REPORT)) == html
    # And it has a language, a title, headings, tables with scoped headers, and charts with a text alternative
    assert ("html", {"lang": "en"}) in page.tags
    assert "<title>Campaign report, 2026-11-01 to 2026-11-28</title>" in html
    assert [tag for tag, _ in page.tags if tag == "h1"] == ["h1"]
    headers = [attrs for tag, attrs in page.tags if tag == "th"]
    assert headers
    assert all(attrs.get("scope") in ("row", "col") for attrs in headers)
    charts = [attrs for tag, attrs in page.tags if tag == "svg"]
    assert len(charts) >= len(REPORT["campaigns"]) + 1
    assert all(attrs.get("role") == "img" and attrs.get("aria-label") for attrs in charts)
    assert html.count("<title>") == len(charts) + 1
    # And the legend says what the counts are
    assert "not unique customers" in html


def test_a_period_without_activity_says_so() -> None:
    # Given a report with no campaign
    report = _report()
    report["totals"]["revenue"], report["totals"]["held_out_revenue"] = {}, {}

    # When it is rendered
    html = render_html(report)

    # Then it says there was nothing, and still shows the zero totals
    assert "No campaign activity in this period." in html
    assert dict(_Page(html).figures)["@totals:sent"] == "0"
