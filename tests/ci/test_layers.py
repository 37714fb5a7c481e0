"""The architecture as folders: what may import what, and what the Lambda layer ships.

docs/architecture.md states the rule these tests enforce.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, TEMPLATE

PACKAGE = ROOT / "layers" / "common" / "righttime"
#: layer -> the layers its modules may import from (its own included)
ALLOWED = {
    "core": {"core"},
    "stages": {"core", "stages"},
    "adapters": {"core", "stages.ports", "adapters"},
    "wiring": {"core", "stages", "adapters", "wiring"},
}
DEV_ONLY = ("righttime_dev", "moto", "pytest", "hypothesis")


class _Tagless(yaml.SafeLoader):
    pass


_Tagless.add_multi_constructor("!", lambda loader, suffix, node: None)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "righttime" or len(parts) < 2:
        return None
    return "stages.ports" if parts[1:3] == ["stages", "ports"] else parts[1]


def _layer_files() -> list[Path]:
    """Every file `sam build` puts in the common layer: its ContentUri, less what SAM never copies."""
    template = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_Tagless)
    content_uri = template["Resources"]["CommonLayer"]["Properties"]["ContentUri"]
    root = ROOT / content_uri
    return [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def test_the_tree_shows_the_layers():
    # Given the runtime package
    # Then its folders are the architecture's layers, and no module sits loose beside them
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == [
        "adapters",
        "core",
        "stages",
        "wiring",
    ]
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py"]


def _allowed(target: str, allowed: set[str]) -> bool:
    return target in allowed or (target == "stages.ports" and "stages" in allowed)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_downward_only(layer: str):
    # Given every module of one layer
    offences = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for module in _imports(path)
        # a bare package (`from righttime.stages import ports`) is judged by the names it imports
        if module.count(".") > 1 or module.split(".")[-1] not in ("stages", "core", "adapters", "wiring")
        if (target := _layer_of(module)) is not None and not _allowed(target, ALLOWED[layer])
    ]
    # Then none imports a layer above it
    assert offences == []


def test_only_adapters_talk_to_aws():
    # Given every module of the runtime package and every handler
    offences = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in [*PACKAGE.rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
        if "adapters" not in path.relative_to(PACKAGE if PACKAGE in path.parents else ROOT).parts
        for module in _imports(path)
        if module.split(".")[0] in ("boto3", "botocore")
    ]
    # Then boto3 and botocore appear in adapters only
    assert offences == []


def test_the_lambda_layer_ships_no_dev_tooling():
    # Given the files sam build would put in the common layer
    files = _layer_files()
    assert files, "the layer's ContentUri holds no files"
    # Then none is the CLI, local mode, simulation or validation
    names = {p.stem for p in files}
    assert not names & {
        "cli",
        "pipeline",
        "server",
        "simulate",
        "validation",
        "journeys",
        "memory",
        "samples",
    }
    # And no module in it imports dev tooling or test libraries
    offences = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        if path.suffix == ".py"
        for module in _imports(path)
        if module.split(".")[0] in DEV_ONLY
    ]
    assert offences == []
    # And its requirements carry no dev dependency
    requirements = (ROOT / "layers" / "common" / "requirements.txt").read_text().lower()
    assert not any(f"\n{name}==" in requirements for name in ("moto", "pytest", "hypothesis", "ruff", "mypy"))


def test_handlers_never_import_dev_tooling():
    offences = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "functions").rglob("*.py")
        for module in _imports(path)
        if module.split(".")[0] in DEV_ONLY
    ]
    assert offences == []
