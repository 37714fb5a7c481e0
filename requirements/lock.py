#!/usr/bin/env python3
"""Regenerate the lock files with uv, or check that they are current (standard library only).

    python requirements/lock.py --uv .venv/bin/uv [--upgrade]   # make lock / make lock-upgrade
    python requirements/lock.py --check                         # make lock-check (offline, part of make test)

Each lock is generated from one source and carries, in its header, a digest of that source and a digest of
its own pins. --check recomputes both: a changed dependency in pyproject.toml or requirements/sam.in, or a
hand edit of a lock, fails with the command that fixes it.

| lock                           | generated from                                          | installed by  |
| ------------------------------ | ------------------------------------------------------- | ------------- |
| requirements/dev.txt           | pyproject.toml: [project] dependencies, the dev extra,  | make venv     |
|                                | [build-system] requires                                 |               |
| requirements/local.txt         | the same, with the local extra instead of dev           | make demo     |
| layers/common/requirements.txt | pyproject.toml: [project] dependencies but boto3, for   | sam build     |
|                                | arm64 and python 3.13                                   |               |
| requirements/sam.txt           | requirements/sam.in                                     | make sam-venv |

The layer leaves out boto3 and what only it needs (botocore, s3transfer, urllib3, python-dateutil, six): the
python3.13 runtime ships them, with every API righttime calls (docs/operations.md, "The AWS SDK comes from
the runtime"). They stay in the dev and local locks, which tests and local mode run on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

DIGEST_PREFIX = "# lock digest: "
COMPILE_COMMAND = "make lock"
LAYER = "layers/common/requirements.txt"
#: what the Lambda runtime provides: left out of the layer, whose copy would only shadow the runtime's
RUNTIME_PROVIDED = frozenset({"boto3", "botocore"})


def _name(requirement: str) -> str:
    """The distribution name of a PEP 508 requirement, normalised (`boto3>=1.35` -> `boto3`)."""
    end = next((i for i, c in enumerate(requirement) if not (c.isalnum() or c in "-_.")), len(requirement))
    return requirement[:end].lower().replace("_", "-")


def layer_requirements(dependencies: list[str]) -> list[str]:
    """[project] dependencies without those the runtime provides."""
    return [r for r in dependencies if _name(r) not in RUNTIME_PROVIDED]


@dataclass(frozen=True)
class Lock:
    path: str
    args: tuple[str, ...]  # uv pip compile arguments besides the output file
    note: str  # a line for the header: what the lock is for

    def source(self, root: Path) -> object:
        """What the lock is generated from, as data: its digest decides whether the lock is stale."""
        if self.path == "requirements/sam.txt":
            lines = (root / "requirements/sam.in").read_text(encoding="utf-8").splitlines()
            return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        source: dict[str, object] = {
            "requires-python": project["project"].get("requires-python"),
            "dependencies": project["project"].get("dependencies", []),
        }
        if self.path == LAYER:
            source["dependencies"] = layer_requirements(project["project"].get("dependencies", []))
            source["runtime-provided"] = sorted(RUNTIME_PROVIDED)
        extras = {"requirements/dev.txt": "dev", "requirements/local.txt": "local"}
        if self.path in extras:
            extra = extras[self.path]
            source[extra] = project["project"].get("optional-dependencies", {}).get(extra, [])
            source["build-system"] = project["build-system"]["requires"]
        return source

    def stdin(self, root: Path) -> str | None:
        if self.path == LAYER:
            project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
            return "\n".join(layer_requirements(project.get("dependencies", []))) + "\n"
        if self.path in ("requirements/dev.txt", "requirements/local.txt"):
            # setuptools for `pip install --no-build-isolation -e .`, pinned with everything else.
            requires = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
            return "\n".join(requires["requires"]) + "\n"
        return None


LOCKS = (
    Lock(
        "requirements/dev.txt",
        (
            "pyproject.toml",
            "-",
            "--extra",
            "dev",
            "--universal",
            "--python-version",
            "3.11",
            "--generate-hashes",
        ),
        "# The development environment (.venv): righttime's dependencies, the dev extra and setuptools from\n"
        "# [build-system] requires (the editable install runs without build isolation).\n",
    ),
    Lock(
        "requirements/local.txt",
        (
            "pyproject.toml",
            "-",
            "--extra",
            "local",
            "--universal",
            "--python-version",
            "3.11",
            "--generate-hashes",
        ),
        "# Local mode alone (make demo, make local): righttime's dependencies, the local extra (moto) and\n"
        "# setuptools. A subset of requirements/dev.txt, with the same pins: make test installs the rest.\n",
    ),
    Lock(
        LAYER,
        # The Lambda runtime of template.yaml's Globals: python3.13 on arm64. The requirements come on stdin:
        # pyproject's dependencies without RUNTIME_PROVIDED.
        (
            "-",
            "--python-version",
            "3.13",
            "--python-platform",
            "aarch64-manylinux2014",
            "--generate-hashes",
        ),
        "# The shared Lambda layer (sam build): [project] dependencies of pyproject.toml, resolved for\n"
        "# python3.13 on arm64, without boto3 and botocore: the runtime's own serve every call righttime\n"
        "# makes (Scheduler and SES v2 included); a copy here would shadow them (docs/operations.md).\n",
    ),
    Lock(
        "requirements/sam.txt",
        ("requirements/sam.in", "--universal", "--python-version", "3.11", "--generate-hashes"),
        "# The SAM CLI's own environment (.sam-venv): requirements/sam.in.\n",
    ),
)


def digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def pins(text: str) -> str:
    """The lock without its comment lines: what a hand edit would change."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def digest_line(lock: Lock, root: Path, text: str) -> str:
    return f"{DIGEST_PREFIX}source={digest(lock.source(root))} pins={digest(pins(text))}\n"


def generate(lock: Lock, root: Path, uv: str, upgrade: bool) -> None:
    out = root / lock.path
    draft = out.with_name(out.name + ".new")
    # uv reads its output file to keep the pins that still fit: start the draft from the current lock.
    if out.exists():
        shutil.copyfile(out, draft)
    command = [uv, "pip", "compile", "--quiet", *lock.args, "--custom-compile-command", COMPILE_COMMAND]
    command += ["--output-file", str(draft.relative_to(root))] + (["--upgrade"] if upgrade else [])
    env = {**os.environ, "UV_NO_CONFIG": "1"}
    try:
        subprocess.run(command, cwd=root, input=lock.stdin(root), text=True, check=True, env=env)  # noqa: S603
        lines = draft.read_text(encoding="utf-8").splitlines(keepends=True)
    finally:
        draft.unlink(missing_ok=True)
    # uv's header is two comment lines: "autogenerated by uv via" and the compile command.
    header, body = lines[:2], "".join(lines[2:])
    text = "".join(header) + lock.note + digest_line(lock, root, body) + body
    # An unchanged lock keeps its timestamp, so make doesn't reinstall the venv that depends on it.
    if out.exists() and out.read_text(encoding="utf-8") == text:
        print(f"{lock.path} is up to date")
        return
    out.write_text(text, encoding="utf-8")
    print(f"wrote {lock.path}")


def check(lock: Lock, root: Path) -> str | None:
    path = root / lock.path
    if not path.exists():
        return f"{lock.path} is missing"
    text = path.read_text(encoding="utf-8")
    recorded = next((line + "\n" for line in text.splitlines() if line.startswith(DIGEST_PREFIX)), None)
    if recorded is None:
        return f"{lock.path} has no '{DIGEST_PREFIX.strip()}' line: it was not written by make lock"
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
    expected = digest_line(lock, root, body)
    if recorded == expected:
        return None
    if recorded.split()[3] != expected.split()[3]:
        return f"{lock.path} is stale: its source changed since it was generated"
    return f"{lock.path} was edited by hand: its pins don't match its digest"


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--check", action="store_true", help="fail when a lock is stale or hand-edited")
    parser.add_argument("--uv", default=".venv/bin/uv", help="the uv to compile with (default: %(default)s)")
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest allowed version")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    if args.check:
        problems = [problem for lock in LOCKS if (problem := check(lock, args.root))]
        for problem in problems:
            print(f"lock check: {problem}", file=sys.stderr)
        if problems:
            print("lock check: run `make lock` and commit the lock files", file=sys.stderr)
            return 1
        print(f"lock check: {len(LOCKS)} lock files match their sources")
        return 0
    for lock in LOCKS:
        generate(lock, args.root, args.uv, args.upgrade)
    return 0


if __name__ == "__main__":
    sys.exit(main())
