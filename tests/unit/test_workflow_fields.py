"""Template fields that deployer would otherwise ignore: each is used or rejected by name."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from deployer.engine.workflow.parse import load_workflow
from deployer.engine.workflow.parse_template import CONTAINER_KEYS
from deployer.errors import WorkflowError

HEAD = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  entrypoint: main
  templates:
"""


def load(tmp_path: Path, templates: str) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(templates), "  "), encoding="utf-8")
    return path


def rejection(tmp_path: Path, templates: str) -> str:
    path = load(tmp_path, templates)
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    return str(caught.value)


def test_script_typo_names_file_line_template_and_key(tmp_path: Path) -> None:
    message = rejection(
        tmp_path,
        """\
        - name: main
          script:
            image: python:3.12
            comand: [python]
            source: print(1)
        """,
    )
    assert message.startswith(f"{tmp_path / 'wf.yaml'}:10: ")
    assert "not supported: spec.templates[0].script.comand in template main" in message
    assert "(did you mean command?)" in message


def test_unknown_container_key_is_rejected(tmp_path: Path) -> None:
    message = rejection(
        tmp_path,
        """\
        - name: main
          container: {image: busybox, arguments: [x]}
        """,
    )
    assert "not supported: spec.templates[0].container.arguments in template main" in message


@pytest.mark.parametrize(
    ("sidecar", "key"),
    [
        ("{name: web, image: nginx, port: 80}", "port"),
        ("{name: web, image: nginx, mirrorVolumeMounts: true}", "mirrorVolumeMounts"),
    ],
)
def test_unknown_sidecar_key_is_rejected(tmp_path: Path, sidecar: str, key: str) -> None:
    message = rejection(
        tmp_path,
        f"""\
        - name: main
          container: {{image: busybox}}
          sidecars:
          - {sidecar}
        """,
    )
    assert f"not supported: spec.templates[0].sidecars[0].{key} in template main" in message


def test_every_container_field_is_accepted(tmp_path: Path) -> None:
    fields = "\n".join(f"    {key}: null" for key in sorted(CONTAINER_KEYS - {"image"}))
    path = load(tmp_path, f"- name: main\n  container:\n    image: busybox\n{fields}\n")
    template = load_workflow(path).templates["main"]
    assert set(template.body) == CONTAINER_KEYS


@pytest.mark.parametrize(
    ("template", "key", "kind"),
    [
        ("container: {image: busybox}\n  parallelism: 2", "parallelism", "container"),
        ("container: {image: busybox}\n  failFast: true", "failFast", "container"),
        ("suspend: {}\n  failFast: true", "failFast", "suspend"),
        ("steps: [[]]\n  sidecars: [{name: web, image: nginx}]", "sidecars", "steps"),
        ("steps: [[]]\n  metadata: {labels: {a: b}}", "metadata", "steps"),
        (
            "dag: {tasks: [{name: a, template: leaf}]}\n  metadata: {annotations: {a: b}}",
            "metadata",
            "dag",
        ),
        ("suspend: {}\n  metadata: {labels: {a: b}}", "metadata", "suspend"),
        (
            "resource: {action: get, manifest: 'x'}\n  sidecars: [{name: web, image: nginx}]",
            "sidecars",
            "resource",
        ),
    ],
)
def test_field_unused_by_the_kind_is_rejected(
    tmp_path: Path, template: str, key: str, kind: str
) -> None:
    message = rejection(
        tmp_path,
        f"- name: main\n  {template}\n- name: leaf\n  container: {{image: busybox}}\n",
    )
    assert f"not supported: spec.templates[0].{key} in {kind} template main" in message


def test_fail_fast_and_parallelism_of_a_dag_template_are_read(tmp_path: Path) -> None:
    path = load(
        tmp_path,
        """\
        - name: main
          parallelism: 2
          failFast: true
          dag:
            failFast: false
            tasks: [{name: a, template: leaf}]
        - name: leaf
          container: {image: busybox}
        """,
    )
    main = load_workflow(path).templates["main"]
    assert main.fail_fast is True
    assert main.parallelism == 2
    assert main.dag_fail_fast is False


RESOURCE = """\
- name: main
  resource:
    action: {action}
    mergeStrategy: {strategy}
    manifest: |
      apiVersion: v1
      kind: ConfigMap
      metadata: {{name: paint}}
"""


@pytest.mark.parametrize(
    ("action", "strategy", "message"),
    [
        ("patch", "replace", "mergeStrategy 'replace' is not one of json, merge, strategic"),
        ("patch", "json", "not supported: spec.templates[0].resource.mergeStrategy json"),
        ("apply", "merge", "mergeStrategy with action apply; it applies only to action patch"),
    ],
)
def test_bad_merge_strategy_is_rejected(
    tmp_path: Path, action: str, strategy: str, message: str
) -> None:
    text = RESOURCE.format(action=action, strategy=strategy)
    assert message in rejection(tmp_path, text)


@pytest.mark.parametrize("strategy", ["merge", "strategic"])
def test_merge_strategies_of_a_patch_are_accepted(tmp_path: Path, strategy: str) -> None:
    path = load(tmp_path, RESOURCE.format(action="patch", strategy=strategy))
    assert load_workflow(path).templates["main"].body["mergeStrategy"] == strategy
