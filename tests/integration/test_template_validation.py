"""Bad template specs stop `deployer submit` before any step applies anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import kubectl
from tests.integration.test_workflow_basics import deployer

pytestmark = pytest.mark.cluster

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: bad-spec-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: first, template: first}
      - {name: second, template: second, depends: first}
      - {name: third, template: third, depends: second}
  - name: first
    manifests: {paths: [app]}
  - name: second
    manifests:
      path: [app]
  - name: third
    container:
      image: busybox
      command: "true"
"""

CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: first-config
data:
  a: b
"""


def test_bad_specs_fail_before_first_step(kubeconfig: str, namespace: str, tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "config.yaml").write_text(CONFIG_MAP)
    file = tmp_path / "wf.yaml"
    file.write_text(WORKFLOW)

    done = deployer(kubeconfig, "submit", str(file), "-n", namespace)

    assert done.returncode == 1
    assert f"{file}:17: template second: not supported: manifests.path (did you mean paths?)" in (
        done.stderr
    )
    assert (
        f"{file}:21: template third: container.command must be a list of strings, "
        "got string 'true'" in done.stderr
    )
    found = kubectl(kubeconfig, "get", "configmap", "first-config", "-n", namespace, check=False)
    assert found.returncode != 0, "the first step ran although the workflow was invalid"
    runs = kubectl(kubeconfig, "get", "pods", "-n", namespace, "-o", "name")
    assert runs.stdout.strip() == ""
