"""Script templates: the main container's command, and the pre-run check of the interpreter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deployer.engine.workflow.parse import load_with_templates
from deployer.engine.workflow.pods import main_container
from deployer.engine.workflow.validate import validate
from deployer.errors import WorkflowError

# A shell's $0 and node's process.argv[1] get a stand-in name, so that the template's
# first argument is $1 and process.argv[2], as when Argo passes the script file there.
SHELL_ARGS = ["-c", "echo hi", "script", "a"]
PYTHON_ARGS = ["-c", "echo hi", "a"]


@pytest.mark.parametrize(
    ("command", "expected_command", "expected_args"),
    [
        (None, ["sh"], SHELL_ARGS),
        (["sh"], ["sh"], SHELL_ARGS),
        (["/bin/bash"], ["/bin/bash"], SHELL_ARGS),
        (["sh", "-x"], ["sh", "-x"], SHELL_ARGS),
        (["bash", "-e"], ["bash", "-e"], SHELL_ARGS),
        (["bash", "-eu", "-o", "pipefail"], ["bash", "-eu", "-o", "pipefail"], SHELL_ARGS),
        (["python", "-u"], ["python", "-u"], PYTHON_ARGS),
        (["python3.12", "-W", "ignore"], ["python3.12", "-W", "ignore"], PYTHON_ARGS),
        (["/usr/bin/env", "python3"], ["/usr/bin/env", "python3"], PYTHON_ARGS),
        (["node", "--no-warnings"], ["node", "--no-warnings"], ["-e", "echo hi", "script", "a"]),
        (["perl"], ["perl"], ["-e", "echo hi", "a"]),
    ],
)
def test_script_command_keeps_interpreter_options(
    command: list[str] | None, expected_command: list[str], expected_args: list[str]
) -> None:
    body: dict[str, Any] = {"image": "alpine", "source": "echo hi", "args": ["a"]}
    if command is not None:
        body["command"] = command

    container = main_container(body, script=True)

    assert container["command"] == expected_command
    assert container["args"] == expected_args
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
