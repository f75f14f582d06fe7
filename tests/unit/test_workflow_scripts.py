"""Script templates: the main container's command, and the pre-run check of the interpreter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deployer.engine.workflow.parse import load_with_templates
from deployer.engine.workflow.pods import main_container
from deployer.engine.workflow.validate import validate
from deployer.errors import WorkflowError


@pytest.mark.parametrize(
    ("command", "expected_command", "flag"),
    [
        (None, ["sh"], "-c"),
        (["sh"], ["sh"], "-c"),
        (["/bin/bash"], ["/bin/bash"], "-c"),
        (["sh", "-x"], ["sh", "-x"], "-c"),
        (["bash", "-e"], ["bash", "-e"], "-c"),
        (["bash", "-eu", "-o", "pipefail"], ["bash", "-eu", "-o", "pipefail"], "-c"),
        (["python", "-u"], ["python", "-u"], "-c"),
        (["python3.12", "-W", "ignore"], ["python3.12", "-W", "ignore"], "-c"),
        (["/usr/bin/env", "python3"], ["/usr/bin/env", "python3"], "-c"),
        (["node", "--no-warnings"], ["node", "--no-warnings"], "-e"),
    ],
)
def test_script_command_keeps_interpreter_options(
    command: list[str] | None, expected_command: list[str], flag: str
) -> None:
    body: dict[str, Any] = {"image": "alpine", "source": "echo hi", "args": ["a"]}
    if command is not None:
        body["command"] = command

    container = main_container(body, script=True)

    assert container["command"] == expected_command
    assert container["args"] == [flag, "echo hi", "a"]
    assert "source" not in container


def test_script_unknown_interpreter_fails_pod_build() -> None:
    body = {"image": "r-base", "command": ["Rscript", "--vanilla"], "source": "print(1)"}

    with pytest.raises(WorkflowError, match="script interpreter 'Rscript'"):
        main_container(body, script=True)


SCRIPTS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: scripts-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: flag, template: flag}
      - {name: r, template: r}
      - {name: later, template: later}
  - name: flag
    script: {image: bash, command: [bash, -e], source: "echo hi"}
  - name: r
    script:
      image: r-base
      command: [Rscript, --vanilla]
      source: print(1)
  - name: later
    inputs:
      parameters: [{name: shell, value: sh}]
    script: {image: alpine, command: ["{{inputs.parameters.shell}}", -x], source: "echo hi"}
"""


def test_script_unknown_interpreter_rejected_before_run(tmp_path: Path) -> None:
    path = tmp_path / "scripts.yaml"
    path.write_text(SCRIPTS)
    workflow, _ = load_with_templates(path)

    with pytest.raises(WorkflowError) as caught:
        validate(workflow)

    message = str(caught.value)
    assert "1 problem(s)" in message
    assert f"{path}:14: template r: script interpreter 'Rscript'" in message
    assert "--vanilla" in message
