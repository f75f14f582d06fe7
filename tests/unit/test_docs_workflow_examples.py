"""Workflow files that the docs tell readers to submit exist and parse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deployer.engine.workflow.parse import load_workflow

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
_ASSIGNMENT = re.compile(r"^([A-Z_]+)=(\S+)$", re.MULTILINE)
_SUBMIT = re.compile(r"deployer submit (\S+\.ya?ml)")


def submitted_paths(doc: Path) -> list[str]:
    """Return the file of each `deployer submit FILE` in `doc`, with shell variables expanded."""
    text = doc.read_text(encoding="utf-8")
    variables = dict(_ASSIGNMENT.findall(text))
    paths = []
    for raw in _SUBMIT.findall(text):
        for name, value in variables.items():
            raw = raw.replace(f"${name}", value)
        paths.append(raw)
    return paths


EXAMPLES = [(doc.name, path) for doc in DOCS for path in submitted_paths(doc)]


def test_docs_show_submit_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize(("doc", "path"), EXAMPLES)
def test_submitted_example_exists_and_parses(doc: str, path: str) -> None:
    file = ROOT / path

    assert file.is_file(), f"{doc} submits {path}, which does not exist"
    assert load_workflow(file).kind == "Workflow"
