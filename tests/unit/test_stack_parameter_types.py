"""Stack parameter values are strings: YAML values that would change on the way are rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.engine.stack import load_stack
from deployer.errors import InputError

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: web-}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: tag, value: latest}
  templates:
  - name: main
    dag:
      tasks: []
"""


def _stack(tmp_path: Path, value: str, *, in_entry: bool = False) -> Path:
    """Write a stack that sets `tag: <value>` in spec.parameters, or in its one entry."""
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    spec = "  workflows:\n  - file: wf.yaml\n"
    if in_entry:
        spec += f"    parameters:\n      tag: {value}\n"
    else:
        spec = f"  parameters:\n    tag: {value}\n" + spec
    file = tmp_path / "stack.yaml"
    file.write_text(f"apiVersion: deployer.dev/v1alpha1\nkind: Stack\nspec:\n{spec}")
    return file


def test_float_parameter_names_line_and_quote(tmp_path: Path) -> None:
    file = _stack(tmp_path, "1.30")

    with pytest.raises(InputError) as raised:
        load_stack(file)

    assert raised.value.line == 5
    assert str(raised.value) == (
        f"{file}:5: spec.parameters.tag is the float 1.3 (written 1.30), but parameters "
        'are strings; quote it: "1.30"'
    )


def test_float_entry_parameter_is_rejected(tmp_path: Path) -> None:
    file = _stack(tmp_path, "1.30", in_entry=True)

    with pytest.raises(InputError) as raised:
        load_stack(file)

    assert raised.value.line == 7
    assert "spec.workflows[0].parameters.tag is the float 1.3" in str(raised.value)
    assert 'quote it: "1.30"' in str(raised.value)


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("1.5", "float"),
        ("1.0e+3", "float"),
        (".inf", "float"),
        ("yes", "boolean"),
        ("True", "boolean"),
        ("off", "boolean"),
        ("010", "integer"),
        ("0x1F", "integer"),
        ("1_000", "integer"),
        ("+1", "integer"),
    ],
)
def test_changed_scalar_is_rejected(tmp_path: Path, written: str, kind: str) -> None:
    with pytest.raises(InputError) as raised:
        load_stack(_stack(tmp_path, written))

    message = str(raised.value)
    assert f"spec.parameters.tag is the {kind} " in message
    assert f"(written {written})" in message
    assert f'quote it: "{written}"' in message


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("true", "true"),
        ("false", "false"),
        ("42", "42"),
        ("-3", "-3"),
        ("0", "0"),
        ('"1.30"', "1.30"),
        ("'yes'", "yes"),
        ("v1.30", "v1.30"),
        ("1e3", "1e3"),
        ('""', ""),
    ],
)
def test_string_as_written_is_kept(tmp_path: Path, written: str, value: str) -> None:
    for in_entry in (False, True):
        stack = load_stack(_stack(tmp_path, written, in_entry=in_entry))
        parameters = stack.workflows[0].parameters if in_entry else stack.parameters

        assert parameters == {"tag": value}


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("", 'spec.parameters.tag has no value; write "" for an empty string'),
        ("[a]", "spec.parameters.tag must be a string, not a mapping or list"),
        ("{a: b}", "spec.parameters.tag must be a string, not a mapping or list"),
    ],
)
def test_non_scalar_parameter_is_rejected(tmp_path: Path, written: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        load_stack(_stack(tmp_path, written))

    assert message in str(raised.value)
    assert raised.value.line == 5
