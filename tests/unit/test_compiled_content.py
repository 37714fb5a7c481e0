"""The ContentLayer's compiled campaigns: what a Lambda loads instead of the YAML, and never when stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from righttime.core.campaigns import load_campaigns
from righttime.core.global_policy import load_policy
from righttime.core.programs import load_programs, step_campaigns
from righttime.wiring.content import COMPILED_FILE, Content, compile_content

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """The campaigns folder as the content build leaves it: the YAML copied, then compiled beside it."""
    folder = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", folder)
    compile_content(folder)
    return folder


def test_compiled_campaigns_are_the_yaml_campaigns(built: Path) -> None:
    # Given the build's compilation of the repository's campaigns
    # When a function loads its content
    content = Content(built, ROOT / "templates")
    # Then it has exactly the campaigns, programs and policy the YAML describes (and each program's steps as
    # the campaigns the sender knows them by)
    programs = load_programs(ROOT / "campaigns")
    assert content.programs == tuple(programs)
    steps = tuple(c for program in programs for c in step_campaigns(program))
    assert content.campaigns == tuple(load_campaigns(ROOT / "campaigns")) + steps
    assert content.policy == load_policy(ROOT / "campaigns")


def test_the_compilation_is_what_is_loaded_when_it_matches(built: Path) -> None:
    # Given a compilation whose campaign names differ from the YAML's only in the compiled file
    compiled = built / COMPILED_FILE
    compiled.write_text(compiled.read_text().replace("Cart abandonment reminder", "Compiled reminder"))
    # When a function loads its content
    names = {c.id: c.name for c in Content(built, ROOT / "templates").campaigns}
    # Then it took the compiled file, not the YAML
    assert names["cart_abandonment"] == "Compiled reminder"


def test_a_stale_compilation_never_wins(built: Path) -> None:
    # Given a compilation, then a marketer's edit to the YAML beside it
    yaml_file = built / "cart_abandonment.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("priority: 50", "priority: 77"))
    # When a function loads its content
    content = Content(built, ROOT / "templates")
    # Then the edited YAML is what counts
    assert content.campaigns_by_id["cart_abandonment"].priority == 77


def test_a_removed_campaign_is_not_resurrected_by_the_compilation(built: Path) -> None:
    # Given a compilation, then a campaign file deleted
    (built / "browse_abandonment.yaml").unlink()
    # When a function loads its content
    content = Content(built, ROOT / "templates")
    # Then the deleted campaign is gone
    assert "browse_abandonment" not in content.campaigns_by_id


def test_without_a_compilation_the_yaml_is_loaded(tmp_path: Path) -> None:
    # Given a source checkout's campaigns folder: YAML only
    # When local mode or a test loads it
    content = Content(ROOT / "campaigns", ROOT / "templates")
    # Then the campaigns and programs come from the YAML, and no compiled file appeared in the repository
    assert content.campaigns[: len(load_campaigns(ROOT / "campaigns"))] == tuple(
        load_campaigns(ROOT / "campaigns")
    )
    assert content.programs == tuple(load_programs(ROOT / "campaigns"))
    assert not (ROOT / "campaigns" / COMPILED_FILE).exists()
