"""`righttime validate`: every campaign, the global policy, and every template rendered against a sample
profile and event, so a broken template is found before a customer's message fails."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from righttime.core.campaigns import Campaign, CampaignError, load_campaigns
from righttime.core.conditions import Op
from righttime.core.global_policy import PolicyError, load_policy
from righttime.core.programs import Program, clashes, load_programs, step_campaigns, undeclared_topics
from righttime.stages.rendering import Renderer, RenderError, template_context
from righttime_dev.samples import sample_profile

#: properties a trigger event plausibly carries (Segment e-commerce spec), for rendering samples
SAMPLE_PROPERTIES: dict[str, Any] = {
    "product_id": "sku-1",
    "sku": "SKU-1",
    "name": "Linen shirt",
    "category": "shirts",
    "price": Decimal("49.00"),
    "quantity": 1,
    "url": "https://shop.example.com/p/sku-1",
    "image_url": "https://shop.example.com/i/sku-1.jpg",
    "cart_id": "cart-1",
    "query": "linen shirt",
    "order_id": "order-1",
    "revenue": Decimal("49.00"),
    "currency": "EUR",
    "products": [
        {
            "product_id": "sku-1",
            "name": "Linen shirt",
            "price": Decimal("49.00"),
            "quantity": 1,
            "category": "shirts",
        }
    ],
}


def validate_content(campaigns_dir: Path, templates_dir: Path) -> tuple[list[str], str]:
    """Problems found (empty when all is well) and a one-line summary."""
    problems: list[str] = []
    try:
        campaigns = load_campaigns(campaigns_dir)
    except CampaignError as exc:
        problems += exc.problems
        campaigns = []
    programs: list[Program] = []
    if campaigns_dir.is_dir():
        try:
            programs = load_programs(campaigns_dir)
        except CampaignError as exc:
            problems += exc.problems
    problems += clashes(campaigns, programs)
    try:
        problems += undeclared_topics(campaigns, programs, load_policy(campaigns_dir).topics)
    except PolicyError as exc:
        problems += exc.problems
    renderer = Renderer(templates_dir)
    rendered = 0
    for campaign in [*campaigns, *(c for program in programs for c in step_campaigns(program))]:
        for template in campaign.templates:
            if not (templates_dir / template).is_dir():
                problems.append(f"{campaign.id}: template: folder {templates_dir / template} not found")
                continue
            failure = _render_problem(renderer, campaign, template)
            if failure:
                problems.append(failure)
            else:
                rendered += 1
    valid = f"{len(campaigns)} campaigns, {len(programs)} programs and the policy are valid"
    return problems, f"{valid}; {rendered} templates render"


def _render_problem(renderer: Renderer, campaign: Campaign, template: str) -> str | None:
    """Render with a full sample event, then with one that has only what the trigger guarantees: a
    template must not fail on a customer's message because an optional property is missing."""
    required = {
        c.field.split(".")[0] for c in campaign.trigger.where if c.op is Op.EXISTS and c.value is True
    }
    sparse: dict[str, Any] = {key: SAMPLE_PROPERTIES[key] for key in required if key in SAMPLE_PROPERTIES}
    sparse["products"] = [{"product_id": "sku-1"}]
    for label, properties in (
        ("", SAMPLE_PROPERTIES),
        (" (with only the properties the trigger requires)", sparse),
    ):
        event = (campaign.trigger.events[0], properties)
        context = template_context(sample_profile(), campaign.id, "sample-message", campaign.variables, event)
        try:
            renderer.render(template, context)
        except RenderError as exc:
            return f"{campaign.id}: {exc}{label}"
    return None
