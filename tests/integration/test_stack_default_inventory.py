"""A stack task without `inventory:` keeps one inventory, `<workflow>.<task>`, across runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import kubectl
from tests.integration.test_demo_stacks import deployer

pytestmark = pytest.mark.cluster

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: js1-}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: namespace}
  templates:
  - name: main
    dag:
      tasks:
      - {name: app, template: app}
  - name: app
    manifests:
      paths: [app.yaml]
      namespace: "{{workflow.parameters.namespace}}"
"""

STACK = """\
apiVersion: deployer.dev/v1alpha1
kind: Stack
spec:
  workflows:
  - file: js1.yaml
"""


def _write(tmp_path: Path) -> str:
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-settings}\ndata: {a: b}\n"
    )
    (tmp_path / "js1.yaml").write_text(WORKFLOW)
    (tmp_path / "stack.yaml").write_text(STACK)
    return str(tmp_path / "stack.yaml")


def _exists(kubeconfig: str, namespace: str, name: str) -> bool:
    found = kubectl(kubeconfig, "get", "configmap", name, "-n", namespace, check=False)
    return found.returncode == 0


def test_default_inventory_outlives_runs(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    stack = _write(tmp_path)

    for _ in range(2):
        up = deployer(kubeconfig, "up", stack, "-p", f"namespace={namespace}")
        assert up.returncode == 0, up.stdout + up.stderr

    inventories = kubectl(
        kubeconfig, "get", "configmap", "-n", namespace, "-o", "name"
    ).stdout.split()
    assert [name for name in inventories if "deployer-inventory-" in name] == [
        "configmap/deployer-inventory-js1.app"
    ]


def test_status_and_down_find_default_inventory(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    stack = _write(tmp_path)
    up = deployer(kubeconfig, "up", stack, "-p", f"namespace={namespace}")
    assert up.returncode == 0, up.stdout + up.stderr

    status = deployer(kubeconfig, "status", stack, "-p", f"namespace={namespace}")

    assert status.returncode == 0, status.stdout + status.stderr
    row = next(line for line in status.stdout.splitlines() if " app " in line)
    assert "manifests" in row
    assert " 1 " in row, status.stdout
    assert "yes" in row

    down = deployer(kubeconfig, "down", stack, "-p", f"namespace={namespace}")

    assert down.returncode == 0, down.stdout + down.stderr
    assert "1 task(s) of stack destroyed" in down.stdout
    assert not _exists(kubeconfig, namespace, "app-settings")
    assert not _exists(kubeconfig, namespace, "deployer-inventory-js1.app")
    again = deployer(kubeconfig, "status", stack, "-p", f"namespace={namespace}")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "no: not deployed" in again.stdout
