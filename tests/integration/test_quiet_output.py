"""`deployer -q`: only errors and the one-line result, for the commands that show progress."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

STACK = """
apiVersion: deployer.dev/v1alpha1
kind: Stack
metadata: {name: quiet}
spec:
  workflows:
    - file: quiet-workflow.yaml
"""

WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: quiet-}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: namespace, value: default}]
  templates:
    - name: main
      dag:
        tasks:
          - {name: settings, template: settings}
          - {name: limits, template: limits, depends: settings}
    - name: settings
      manifests:
        paths: [settings.yaml]
        namespace: "{{workflow.parameters.namespace}}"
        inventory: "{{workflow.parameters.namespace}}-settings"
    - name: limits
      manifests:
        paths: [limits.yaml]
        namespace: "{{workflow.parameters.namespace}}"
        inventory: "{{workflow.parameters.namespace}}-limits"
"""


def _deployer(kubeconfig: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from deployer.cli.main import main; main()", *args],
        cwd=cwd,
        env={**os.environ, "KUBECONFIG": kubeconfig},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def stack_folder(tmp_path: Path) -> Path:
    (tmp_path / "quiet.yaml").write_text(STACK)
    (tmp_path / "quiet-workflow.yaml").write_text(WORKFLOW)
    for name in ("settings", "limits"):
        (tmp_path / f"{name}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{K: v}}\n"
        )
    return tmp_path


def test_quiet_up_and_down_print_one_line_each(
    kubeconfig: str, namespace: str, stack_folder: Path
) -> None:
    parameter = f"namespace={namespace}"
    up = _deployer(kubeconfig, stack_folder, "-q", "up", "quiet.yaml", "-p", parameter)
    assert up.returncode == 0, up.stderr
    assert up.stderr == ""
    lines = up.stdout.splitlines()
    assert len(lines) == 1, up.stdout
    assert lines[0].startswith("stack up: ")
    assert lines[0].endswith(" Succeeded")

    down = _deployer(kubeconfig, stack_folder, "-q", "down", "quiet.yaml", "-p", parameter)
    assert down.returncode == 0, down.stderr
    assert down.stderr == ""
    lines = down.stdout.splitlines()
    assert len(lines) == 1, down.stdout
    assert lines[0].startswith("stack down: ")


def test_up_without_quiet_prints_progress(
    kubeconfig: str, namespace: str, stack_folder: Path
) -> None:
    parameter = f"namespace={namespace}"
    up = _deployer(kubeconfig, stack_folder, "up", "quiet.yaml", "-p", parameter)
    assert up.returncode == 0, up.stderr
    assert f"ConfigMap {namespace}/limits  Ready" in up.stdout
    down = _deployer(kubeconfig, stack_folder, "down", "quiet.yaml", "-p", parameter)
    assert down.returncode == 0, down.stderr
    assert "] limits  Deleted" in down.stdout


def test_quiet_submit_prints_one_line(kubeconfig: str, namespace: str, stack_folder: Path) -> None:
    done = _deployer(
        kubeconfig,
        stack_folder,
        "-q",
        "submit",
        "quiet-workflow.yaml",
        "-p",
        f"namespace={namespace}",
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1, done.stdout
