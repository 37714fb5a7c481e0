"""Reads template.yaml (with its CloudFormation tags) and resolves the intrinsics local mode needs."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Tagged:
    tag: str
    value: Any


class _Loader(yaml.SafeLoader):
    pass


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return Tagged(suffix, value)


_Loader.add_multi_constructor("!", _construct)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_Loader)  # noqa: S506 - SafeLoader subclass with tag constructors
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template with Resources")
    return document


Resolver = Callable[[str, str | None], str]


def resolve(value: Any, ref: Resolver) -> Any:
    """Resolve !Ref, !GetAtt, !Sub (and the long forms) with `ref(logical_id, attribute_or_None)`."""
    if isinstance(value, Tagged):
        value = {("Fn::" + value.tag) if value.tag != "Ref" else "Ref": value.value}
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return ref(str(arg), None)
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            return ref(str(parts[0]), str(parts[1]))
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]

            def substitute(match: re.Match[str]) -> str:
                name, _, attribute = match.group(1).partition(".")
                return str(ref(name, attribute or None))

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    if isinstance(value, dict):
        return {k: resolve(v, ref) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ref) for v in value]
    return value
