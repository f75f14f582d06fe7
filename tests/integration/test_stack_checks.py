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
