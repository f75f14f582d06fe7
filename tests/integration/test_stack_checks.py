"""Stack workflows that fail their checks stop `up` and `down` before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import kubectl
from tests.integration.test_demo_stacks import deployer

pytestmark = pytest.mark.cluster

FIRST = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: first-}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: namespace}
  templates:
  - name: main
    dag:
      tasks:
      - {name: config, template: config}
  - name: config
    manifests:
      paths: [config.yaml]
      namespace: "{{workflow.parameters.namespace}}"
      inventory: first-config
"""

STEPS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: steps-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: hello, template: hello}
  - name: hello
    container: {image: busybox}
"""

STACK = """\
apiVersion: deployer.dev/v1alpha1
kind: Stack
spec:
  workflows:
  - file: FIRST
  - file: SECOND
"""


def _write(tmp_path: Path, name: str, *files: str) -> str:
    """Write a stack of `files` in order (one file given twice is one entry) and the files."""
    (tmp_path / "config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first-config}\ndata: {a: b}\n"
    )
    (tmp_path / "first.yaml").write_text(FIRST)
    (tmp_path / "steps.yaml").write_text(STEPS)
    text = STACK.replace("FIRST", files[0]).replace("SECOND", files[-1])
    if len(set(files)) == 1:
        text = text.replace(f"  - file: {files[0]}\n", "", 1)
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


def _config_exists(kubeconfig: str, namespace: str) -> bool:
    found = kubectl(kubeconfig, "get", "configmap", "first-config", "-n", namespace, check=False)
    return found.returncode == 0


def test_steps_entrypoint_fails_up_before_any_run(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    stack = _write(tmp_path, "stack.yaml", "first.yaml", "steps.yaml")

    up = deployer(kubeconfig, "up", stack, "-p", f"namespace={namespace}")

    assert up.returncode == 1, up.stdout + up.stderr
    assert f"{tmp_path / 'steps.yaml'}:7: entrypoint main is a steps template" in up.stderr
    assert "a stack workflow's entrypoint must be a dag template" in up.stderr
    assert "Make the entrypoint a dag whose tasks call the other templates" in up.stderr
    assert not _config_exists(kubeconfig, namespace), "the first workflow ran"


def test_steps_entrypoint_fails_down_before_any_delete(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    good = _write(tmp_path, "good.yaml", "first.yaml", "first.yaml")
    up = deployer(kubeconfig, "up", good, "-p", f"namespace={namespace}")
    assert up.returncode == 0, up.stdout + up.stderr
    assert _config_exists(kubeconfig, namespace)
    # `down` goes last workflow first, so the valid workflow would be destroyed first.
    bad = _write(tmp_path, "bad.yaml", "steps.yaml", "first.yaml")

    down = deployer(kubeconfig, "down", bad, "-p", f"namespace={namespace}")

    assert down.returncode == 1, down.stdout + down.stderr
    assert "entrypoint main is a steps template" in down.stderr
    assert _config_exists(kubeconfig, namespace), "down deleted objects of a rejected stack"


def test_invalid_later_workflow_fails_up_before_any_run(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    stack = _write(tmp_path, "stack.yaml", "first.yaml", "broken.yaml")
    broken = FIRST.replace("paths: [config.yaml]", "path: [config.yaml]")
    (tmp_path / "broken.yaml").write_text(broken)

    up = deployer(kubeconfig, "up", stack, "-p", f"namespace={namespace}")

    assert up.returncode == 1, up.stdout + up.stderr
    problem = "template config: not supported: manifests.path (did you mean paths?)"
    assert f"{tmp_path / 'broken.yaml'}:16: {problem}" in up.stderr
    assert not _config_exists(kubeconfig, namespace), "the first workflow ran"


def test_all_problems_fail_up_before_any_run(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    stack = _write(tmp_path, "stack.yaml", "first.yaml", "broken.yaml")
    broken = FIRST.replace("paths: [config.yaml]", "path: [config.yaml]")
    (tmp_path / "broken.yaml").write_text(broken)
    text = (tmp_path / "stack.yaml").read_text()
    (tmp_path / "stack.yaml").write_text(
        text.replace("spec:\n", "spec:\n  parameters: {tag: 1.30}\n  descripton: x\n")
    )

    up = deployer(kubeconfig, "up", stack, "-p", f"namespace={namespace}")

    assert up.returncode == 1, up.stdout + up.stderr
    assert f"{stack}: 3 problems; nothing was run:" in up.stderr
    assert f"{stack}:4: spec.parameters.tag is the float 1.3 (written 1.30)" in up.stderr
    assert 'quote it: "1.30"' in up.stderr
    assert f"{stack}:5: not supported: spec.descripton (did you mean description?)" in up.stderr
    problem = "template config: not supported: manifests.path (did you mean paths?)"
    assert f"{tmp_path / 'broken.yaml'}:16: {problem}" in up.stderr
    assert not _config_exists(kubeconfig, namespace), "the first workflow ran"


def test_fixed_run_name_fails_first_up(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    stack = _write(tmp_path, "stack.yaml", "first.yaml", "fixed.yaml")
    fixed = FIRST.replace("{generateName: first-}", f"{{name: base-{namespace}}}")
    (tmp_path / "fixed.yaml").write_text(fixed.replace("first-config", "fixed-config"))

    up = deployer(kubeconfig, "up", stack, "-p", f"namespace={namespace}")

    assert up.returncode == 1, up.stdout + up.stderr
    assert f"{tmp_path / 'fixed.yaml'}:3: metadata.name base-{namespace} gives" in up.stderr
    assert f"write `generateName: base-{namespace}-` in its place" in up.stderr
    assert not _config_exists(kubeconfig, namespace), "the first workflow ran"
    listed = deployer(kubeconfig, "list", "-o", "name")
    assert f"base-{namespace}" not in listed.stdout.split()
