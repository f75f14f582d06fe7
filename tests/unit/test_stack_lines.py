"""Stack file errors name the line of the offending key or list item."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.engine.stack import load_stack
from deployer.engine.stack_parameters import resolve_parameters
from deployer.engine.stack_values import add_stack_values
from deployer.engine.workflow.parse import load_workflow
from deployer.engine.workflow.submit import prepare
from deployer.errors import InputError

ROOT = Path(__file__).resolve().parents[2]

HELM_WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: web-}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: namespace, value: shop}
  templates:
  - name: main
    dag:
      tasks:
      - {name: web, template: web}
  - name: web
    helm: {chart: chart}
"""


def _stack(tmp_path: Path, text: str) -> Path:
    """Write `text` as a stack file beside a workflow file wf.yaml and a chart folder."""
    (tmp_path / "wf.yaml").write_text(HELM_WORKFLOW)
    (tmp_path / "chart").mkdir(exist_ok=True)
    file = tmp_path / "stack.yaml"
    file.write_text(text)
    return file


HEADER = "apiVersion: deployer.dev/v1alpha1\nkind: Stack\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (HEADER + "metadata: {name: x}\nspecs: {}\n", 4, "not supported: specs (did you mean"),
        ("apiVersion: deployer.dev/v1\nkind: Stack\nspec: {}\n", 1, "not a stack"),
        (HEADER + "metadata: []\nspec: {}\n", 3, "metadata must be a mapping"),
        (HEADER + "spec:\n  description: x\n  workflow: []\n", 5, "spec.workflow (did you mean"),
        (HEADER + "spec:\n  description: x\n  workflows: []\n", 5, "must be a non-empty list"),
        (
            HEADER
            + "spec:\n  parameters:\n    a: x\n    b: yes\n  workflows:\n  - file: wf.yaml\n",
            6,
            "spec.parameters.b is the boolean true (written yes), but parameters are strings; "
            'quote it: "yes"',
        ),
        (
            HEADER + "spec:\n  workflows:\n  - file: wf.yaml\n  - file: nope.yaml\n",
            6,
            "spec.workflows[1].file: workflow file not found",
        ),
        (
            HEADER + "spec:\n  workflows:\n  - name: web\n    file: wf.yaml\n    parms: {}\n",
            7,
            "not supported: spec.workflows[0].parms (did you mean parameters?)",
        ),
        (
            HEADER + "spec:\n  workflows:\n  - name: web\n    parameters: {}\n",
            5,
            "spec.workflows[0].file is missing",
        ),
        (
            HEADER + "spec:\n  workflows:\n  - file: wf.yaml\n    name: a.b\n",
            6,
            "spec.workflows[0].name must be a non-empty string without dots",
        ),
        (
            HEADER + "spec:\n  workflows:\n  - file: wf.yaml\n    parameters:\n"
            "      namespace: shop\n      replicas: 2\n      debug: [x]\n",
            9,
            "spec.workflows[0].parameters.debug must be a string",
        ),
        (
            HEADER + "spec:\n  workflows:\n  - file: wf.yaml\n    values:\n"
            "      web: {a: 1}\n      other: [1]\n",
            8,
            "spec.workflows[0].values.other must be a mapping of Helm values",
        ),
        (HEADER + "spec:\n  workflows:\n  - wf.yaml\n", 5, "spec.workflows[0] must be a mapping"),
    ],
)
def test_load_error_cites_key_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    file = _stack(tmp_path, text)

    with pytest.raises(InputError) as raised:
        load_stack(file)

    problems = [item.strip() for item in str(raised.value).splitlines()]
    at_line = [item for item in problems if item.startswith(f"{file}:{line}: ")]
    assert any(message in item for item in at_line), str(raised.value)


def test_undeclared_parameter_cites_its_line(tmp_path: Path) -> None:
    text = (
        HEADER + "spec:\n  workflows:\n  - file: wf.yaml\n    parameters:\n"
        "      namespace: shop\n      replica: 2\n"
    )
    stack = load_stack(_stack(tmp_path, text))
    (entry,) = stack.workflows

    with pytest.raises(InputError, match="declares no parameter replica") as raised:
        resolve_parameters(stack, entry, load_workflow(entry.file))

    assert raised.value.line == 8


def test_unknown_values_template_cites_its_line(tmp_path: Path) -> None:
    text = (
        HEADER + "spec:\n  workflows:\n  - file: wf.yaml\n    values:\n"
        "      web: {a: 1}\n      wbe: {a: 2}\n"
    )
    stack = load_stack(_stack(tmp_path, text))
    (entry,) = stack.workflows
    prepared = prepare(entry.file)

    with pytest.raises(InputError, match="has no helm template wbe") as raised:
        add_stack_values(stack, entry, prepared.workflow, prepared.document)

    assert raised.value.line == 8


def test_demo_stacks_load(tmp_path: Path) -> None:
    for name in ("demo", "staging"):
        stack = load_stack(ROOT / "stacks" / f"{name}.yaml")
        assert stack.workflows
        assert all(entry.line > 1 for entry in stack.workflows)
