"""Validation and the runner agree: a variable that validates resolves at run time, and back."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.engine.workflow.parse import load_with_templates
from deployer.engine.workflow.validate import validate
from deployer.errors import WorkflowError
from tests.unit.test_runner_scheduling import node, run, workflow, write

TEMPLATES = """
  - name: main
    steps:
    - - {name: one, template: produce}
      - {name: each, template: produce, withItems: [a, b]}
      - {name: inner, template: nested}
    - - {name: use, template: show, arguments: {parameters: [{name: text, value: "VARIABLE"}]}}
  - name: produce
    metadata: {annotations: {deployer.dev/sim-output: made}}
    outputs:
      parameters:
      - {name: out, valueFrom: {path: /dev/termination-log}}
    container: {image: busybox:1.36}
  - name: nested
    steps:
    - - {name: deep, template: produce}
  - name: show
    inputs: {parameters: [{name: text}]}
    metadata: {annotations: {deployer.dev/sim-output: "{{inputs.parameters.text}}"}}
    container: {image: busybox:1.36}
"""


@pytest.mark.parametrize(
    ("variable", "problem"),
    [
        ("steps.one.status", None),
        ("steps.one.id", None),
        ("steps.one.startedAt", None),
        ("steps.one.finishedAt", None),
        ("steps.one.exitCode", None),
        ("steps.one.outputs.result", None),
        ("steps.one.outputs.parameters.out", None),
        ("steps.one.outputs.parameters", "only a looped step has outputs.parameters as a whole"),
        ("steps.one.ip", "not supported: {{steps.one.ip}}; deployer does not record pod IP"),
        ("steps.each.status", None),
        ("steps.each.outputs.result", None),
        ("steps.each.outputs.parameters", None),
        ("steps.each.id", "step each loops, so only its status, outputs.result and outputs"),
        ("steps.each.exitCode", "step each loops"),
        ("steps.each.outputs.parameters.out", "step each loops"),
        ("steps.inner.status", None),
        ("steps.inner.exitCode", "a steps template runs no pod, so it has no exitCode"),
    ],
)
def test_node_variable_validates_only_if_it_resolves(
    tmp_path: Path, variable: str, problem: str | None
) -> None:
    path = write(
        tmp_path,
        workflow("entrypoint: main\n", TEMPLATES.replace("VARIABLE", f"{{{{{variable}}}}}")),
    )
    loaded, templates = load_with_templates(path)
    if problem is not None:
        with pytest.raises(WorkflowError) as caught:
            validate(loaded, templates=templates)
        assert "template main step use" in str(caught.value)
        assert problem in str(caught.value)
        record, _ = run(path)
        assert record.phase == "Failed"
        assert f"undefined variable {{{{{variable}}}}}" in node(record, "use").message
        return
    validate(loaded, templates=templates)
    record, _ = run(path)
    assert record.phase == "Succeeded", node(record, "use").message
    assert node(record, "use").result


INPUTS = """
  - name: main
    inputs:
      parameters:
      - {name: greeting, KEY: "VALUE"}
    metadata: {annotations: {deployer.dev/sim-output: "{{inputs.parameters.greeting}}"}}
    container: {image: busybox:1.36}
"""


@pytest.mark.parametrize("key", ["value", "default"])
def test_input_placeholder_resolves_from_workflow_parameters(tmp_path: Path, key: str) -> None:
    text = INPUTS.replace("KEY", key).replace("VALUE", "hi {{workflow.parameters.who}}")
    spec = "entrypoint: main\narguments: {parameters: [{name: who, value: you}]}\n"
    path = write(tmp_path, workflow(spec, text))
    loaded, templates = load_with_templates(path)
    validate(loaded, templates=templates)
    record, _ = run(path)
    assert record.phase == "Succeeded"
    assert node(record, record.name).inputs == {"greeting": "hi you"}


@pytest.mark.parametrize("key", ["value", "default"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{{workflow.parameters.nope}}", "undefined variable {{workflow.parameters.nope}}"),
        ("{{inputs.parameters.greeting}}", "undefined variable {{inputs.parameters.greeting}}"),
        ("{{steps.a.outputs.result}}", "undefined variable {{steps.a.outputs.result}}"),
        ("{{workflow.status}}", "defined only in templates that an onExit handler runs"),
    ],
)
def test_input_placeholder_is_checked(tmp_path: Path, key: str, value: str, problem: str) -> None:
    path = write(
        tmp_path, workflow("entrypoint: main\n", INPUTS.replace("KEY", key).replace("VALUE", value))
    )
    loaded, templates = load_with_templates(path)
    with pytest.raises(WorkflowError) as caught:
        validate(loaded, templates=templates)
    assert f"template main input greeting {key}: " in str(caught.value)
    assert problem in str(caught.value)
    assert "wf.yaml:" in str(caught.value)
