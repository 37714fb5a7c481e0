"""Marketer-owned content (campaigns, the global policy, templates), loaded from its folders on first use and
kept for the life of the container.

The ContentLayer's build (layers/content/Makefile) also writes `COMPILED_FILE` beside the YAML it copies:
every campaign and the policy, validated and dumped as JSON, with a digest of the YAML they came from. A
Lambda then loads them without parsing YAML (nor importing PyYAML). The YAML stays the source of truth:
without the compiled file (a source checkout, local mode, tests), or when the YAML beside it has changed
since it was compiled, the YAML is loaded, so a stale compilation can never win.

    python -m righttime.wiring.content CAMPAIGNS_DIR   # (the build) validate, then write COMPILED_FILE there
"""

from __future__ import annotations

import hashlib
import json
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from righttime.core.campaigns import Campaign, load_campaigns
from righttime.core.catalog import CATALOG_TRIGGERS
from righttime.core.global_policy import POLICY_FILE, GlobalPolicy, load_policy
from righttime.core.programs import (
    Program,
    ProgramError,
    clashes,
    load_programs,
    step_campaigns,
    undeclared_topics,
)

if TYPE_CHECKING:  # only the sender renders: evaluate must not pay for importing Jinja2
    from righttime.stages.rendering import Renderer

#: written by the build only, into its output (never into the repository's campaigns/)
COMPILED_FILE = "compiled.json"
_FORMAT = 2


def sources_digest(campaigns_dir: Path) -> str:
    """SHA-256 over the name and bytes of every YAML file the campaigns and policy are loaded from."""
    digest = hashlib.sha256()
    for path in sorted([*campaigns_dir.glob("*.yaml"), *campaigns_dir.glob("*.yml")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def load_content(campaigns_dir: Path) -> tuple[list[Campaign], list[Program]]:
    """The campaigns and programs of `campaigns_dir`, checked against each other. Raises CampaignError (or its
    ProgramError) listing every problem."""
    campaigns, programs = load_campaigns(campaigns_dir), load_programs(campaigns_dir)
    problems = clashes(campaigns, programs)
    if problems:
        raise ProgramError(problems)
    return campaigns, programs


def compile_content(campaigns_dir: Path) -> Path:
    """Validate the campaigns, programs and policy in `campaigns_dir` and write `COMPILED_FILE` there (the
    build step). Raises CampaignError or PolicyError, as loading does, when the YAML is not valid."""
    campaigns, programs = load_content(campaigns_dir)
    policy = load_policy(campaigns_dir)
    problems = undeclared_topics(campaigns, programs, policy.topics)
    if problems:
        raise ProgramError(problems)
    document = {
        "format": _FORMAT,
        "sources_sha256": sources_digest(campaigns_dir),
        "campaigns": [c.model_dump(mode="json") for c in campaigns],
        "programs": [p.model_dump(mode="json", by_alias=True) for p in programs],
        "policy": policy.model_dump(mode="json"),
    }
    target = campaigns_dir / COMPILED_FILE
    target.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    return target


class Content:
    def __init__(self, campaigns_dir: Path, templates_dir: Path) -> None:
        self.campaigns_dir = campaigns_dir
        self.templates_dir = templates_dir

    @cached_property
    def _compiled(self) -> dict[str, Any] | None:
        """The build's compilation when it matches the YAML beside it, else None (load the YAML)."""
        path = self.campaigns_dir / COMPILED_FILE
        if not path.is_file():
            return None
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != _FORMAT or document.get("sources_sha256") != sources_digest(
            self.campaigns_dir
        ):
            from righttime.wiring.observability import logger

            logger.warning(
                "compiled campaigns are stale: loading the YAML instead", extra={"file": str(path)}
            )
            return None
        return document

    @cached_property
    def _loaded(self) -> tuple[tuple[Campaign, ...], tuple[Program, ...]]:
        compiled = self._compiled
        if compiled is None:
            campaigns, programs = load_content(self.campaigns_dir)
            return tuple(campaigns), tuple(programs)
        return (
            tuple(Campaign.model_validate(data) for data in compiled["campaigns"]),
            tuple(Program.model_validate(data) for data in compiled["programs"]),
        )

    @cached_property
    def campaigns(self) -> tuple[Campaign, ...]:
        """Every campaign, and the campaign of every program's send step (what the sender and the sweeper know
        a message's campaign by)."""
        campaigns, programs = self._loaded
        return campaigns + tuple(c for program in programs for c in step_campaigns(program))

    @cached_property
    def programs(self) -> tuple[Program, ...]:
        """Every program, each deployed version of it."""
        return self._loaded[1]

    @cached_property
    def listens_to_catalog(self) -> bool:
        """Whether a deployed campaign or program triggers on a catalog change (back in stock, a price drop):
        only then do customers' views and carts go on the products' interest index, which costs a write."""
        names: set[str] = set()
        for campaign in self.campaigns:
            names.update(campaign.trigger.events)
        for program in self.programs:
            trigger = program.trigger
            names.update(trigger.events or [])
            if trigger.any is not None:
                names.update(event for option in trigger.any for event in (option.events or []))
        return bool(names & CATALOG_TRIGGERS)

    @cached_property
    def campaigns_by_id(self) -> dict[str, Campaign]:
        return {campaign.id: campaign for campaign in self.campaigns}

    @cached_property
    def policy(self) -> GlobalPolicy:
        compiled = self._compiled
        if compiled is None:
            return load_policy(self.campaigns_dir)
        return GlobalPolicy.model_validate(compiled["policy"])

    @cached_property
    def renderer(self) -> Renderer:
        from righttime.stages.rendering import Renderer

        return Renderer(self.templates_dir)


if __name__ == "__main__":
    written = compile_content(Path(sys.argv[1]))
    print(f"compiled {written} (no PyYAML at run time; {POLICY_FILE} included)")
