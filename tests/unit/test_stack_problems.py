"""A stack's problems come in one error: those of the stack file and, for `up`, its workflows."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.cli.stack_cmds import open_stack
from deployer.engine.stack import load_stack, read_stack
from deployer.engine.stack_parameters import with_overrides
from deployer.engine.stack_run import prepare_stack
from deployer.errors import DeployerError, InputError

GOOD = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: good-}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: tag, value: latest}
  templates:
  - name: main
    dag:
      tasks:
      - {name: config, template: config}
  - name: config
    manifests: {paths: [config.yaml]}
"""

# Two validation problems (lines 14 and 15) in one workflow file.
BROKEN = GOOD.replace("generateName: good-", "generateName: broken-").replace(
    "      - {name: config, template: config}\n",
    "      - {name: config, template: config}\n      - {name: more, template: nope}\n"
    "      - {name: again, template: config, depends: missing}\n",
)

# A Workflow with a fixed run name (line 3).
FIXED = GOOD.replace("{generateName: good-}", "{name: base}")

STACK_FILE_PROBLEMS = """\
apiVersion: deployer.dev/v1alpha1
kind: Stack
spec:
  parameters:
    tag: 1.30
  description: x
  workflow: []
  workflows:
  - file: good.yaml
    parms: {}
  - file: missing.yaml
  - file: good.yaml
    name: a.b
"""


def _write(tmp_path: Path, stack: str) -> Path:
    (tmp_path / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    for name, text in (("good.yaml", GOOD), ("broken.yaml", BROKEN), ("fixed.yaml", FIXED)):
        (tmp_path / name).write_text(text)
    file = tmp_path / "stack.yaml"
    file.write_text(stack)
    return file


def _problems(error: DeployerError) -> list[str]:
    """Return the problem lines of a combined error, without its heading."""
    heading, *items = str(error).splitlines()
    assert heading.endswith(":"), heading
    return [item.strip() for item in items]


def test_stack_file_problems_come_together(tmp_path: Path) -> None:
    file = _write(tmp_path, STACK_FILE_PROBLEMS)

    with pytest.raises(InputError) as raised:
        load_stack(file)

    problems = _problems(raised.value)
    assert str(raised.value).startswith(f"{file}: 5 problems:\n")
    assert problems[0] == (
        f"{file}:5: spec.parameters.tag is the float 1.3 (written 1.30), but parameters are "
        'strings; quote it: "1.30"'
    )
    assert problems[1].startswith(f"{file}:7: not supported: spec.workflow (did you mean")
    assert problems[2].startswith(f"{file}:10: not supported: spec.workflows[0].parms")
    assert problems[3].startswith(f"{file}:11: spec.workflows[1].file: workflow file not found")
    assert problems[4].startswith(f"{file}:13: spec.workflows[2].name must be a non-empty")


def test_read_stack_keeps_valid_entries(tmp_path: Path) -> None:
    file = _write(tmp_path, STACK_FILE_PROBLEMS.replace("    parms: {}\n", ""))

    stack, problems = read_stack(file)

    assert len(problems) == 4
    assert [entry.label for entry in stack.workflows] == ["good"]
    assert stack.parameters == {}


def test_up_lists_stack_and_workflow_problems(tmp_path: Path) -> None:
    text = STACK_FILE_PROBLEMS.replace("  - file: missing.yaml\n", "  - file: broken.yaml\n")
    stack, file_problems = read_stack(_write(tmp_path, text))

    with pytest.raises(InputError) as raised:
        prepare_stack(stack, file_problems=file_problems)

    message = str(raised.value)
    problems = _problems(raised.value)
    assert message.startswith(f"{stack.file}: 6 problems; nothing was run:\n")
    assert problems[0].startswith(f"{stack.file}:5: spec.parameters.tag is the float 1.3")
    broken = tmp_path / "broken.yaml"
    assert any(item.startswith(f"{broken}:14: ") and "nope" in item for item in problems)
    assert any(item.startswith(f"{broken}:15: ") and "missing" in item for item in problems)


def test_up_lists_problems_of_every_workflow(tmp_path: Path) -> None:
    text = (
        "apiVersion: deployer.dev/v1alpha1\nkind: Stack\nspec:\n  workflows:\n"
        "  - file: broken.yaml\n  - file: good.yaml\n    parameters: {tga: x}\n"
        "  - file: fixed.yaml\n"
    )
    stack = load_stack(_write(tmp_path, text))

    with pytest.raises(InputError) as raised:
        prepare_stack(stack)

    problems = _problems(raised.value)
    assert len(problems) == 4, str(raised.value)
    broken = tmp_path / "broken.yaml"
    assert {item.split(": ")[0] for item in problems[:2]} == {f"{broken}:14", f"{broken}:15"}
    assert problems[2] == (
        f"{stack.file}:7: workflow good.yaml declares no parameter tga; it declares tag"
    )
    assert problems[3].startswith(f"{tmp_path / 'fixed.yaml'}:3: metadata.name base gives")


def test_fixed_run_name_is_rejected(tmp_path: Path) -> None:
    text = "apiVersion: deployer.dev/v1alpha1\nkind: Stack\nspec:\n  workflows:\n"
    stack = load_stack(_write(tmp_path, text + "  - file: fixed.yaml\n"))

    with pytest.raises(DeployerError) as raised:
        prepare_stack(stack)

    assert str(raised.value) == (
        f"{tmp_path / 'fixed.yaml'}:3: metadata.name base gives every run of this workflow "
        "the same name, but `deployer up` runs the stack's workflows again each time and a "
        "run name can be used only once; write `generateName: base-` in its place, so that "
        "each up records a run of its own"
    )


def test_generated_run_name_is_accepted(tmp_path: Path) -> None:
    text = "apiVersion: deployer.dev/v1alpha1\nkind: Stack\nspec:\n  workflows:\n"
    stack = load_stack(_write(tmp_path, text + "  - file: good.yaml\n"))

    ((prepared, parameters),) = prepare_stack(stack)

    assert prepared.workflow.generate_name == "good-"
    assert parameters == {}


def test_override_problems_come_together(tmp_path: Path) -> None:
    text = "apiVersion: deployer.dev/v1alpha1\nkind: Stack\nspec:\n  workflows:\n"
    stack = load_stack(_write(tmp_path, text + "  - file: good.yaml\n"))

    with pytest.raises(InputError) as raised:
        with_overrides(stack, {"nope": "x", "good.tga": "y", "tag": "v2"})

    problems = _problems(raised.value)
    assert problems == [
        f"{stack.file}: no workflow of stack stack declares parameter nope; declared: tag",
        f"{stack.file}: -p good.tga: workflow good.yaml declares no parameter tga; it declares tag",
    ]


def test_up_lists_option_and_file_problems(tmp_path: Path) -> None:
    file = _write(tmp_path, STACK_FILE_PROBLEMS.replace("    parms: {}\n", ""))

    with pytest.raises(InputError) as raised:
        open_stack(str(file), tmp_path, ("nope=x", "tag=v2"), for_up=True)

    problems = _problems(raised.value)
    assert len(problems) == 4, str(raised.value)
    assert problems[0].startswith(f"{file}:5: spec.parameters.tag is the float 1.3")
    # Entries with problems are left out, so names are checked once the file is valid.
    assert not any("declares parameter" in item for item in problems)


def test_up_lists_option_and_workflow_problems(tmp_path: Path) -> None:
    text = "apiVersion: deployer.dev/v1alpha1\nkind: Stack\nspec:\n  workflows:\n"
    file = _write(tmp_path, text + "  - file: good.yaml\n  - file: fixed.yaml\n")

    with pytest.raises(InputError) as raised:
        open_stack(str(file), tmp_path, ("nope=x", "tag=v2"), for_up=True)

    problems = _problems(raised.value)
    assert len(problems) == 2, str(raised.value)
    assert problems[0] == (
        f"{file}: no workflow of stack stack declares parameter nope; declared: tag"
    )
    assert problems[1].startswith(f"{tmp_path / 'fixed.yaml'}:3: metadata.name base gives")
