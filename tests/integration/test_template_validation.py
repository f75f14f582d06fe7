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


CONTENT_WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: bad-content-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: first, template: first}
    - - {name: render, template: render}
      - {name: evaluate, template: evaluate}
      - {name: release, template: release}
  - name: first
    manifests: {paths: [app]}
    outputs:
      parameters:
      - name: mode
        valueFrom: {jsonPath: "{.data.mode", object: ConfigMap/first-config}
  - name: render
    manifests: {paths: [templated]}
  - name: evaluate
    jsonnet: {main: app.jsonnet}
  - name: release
    helm:
      chart: chart
      release: Web_1
      valuesFiles: [values.yaml]
"""


def test_bad_content_fails_before_first_step(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "config.yaml").write_text(CONFIG_MAP)
    (tmp_path / "templated").mkdir()
    (tmp_path / "templated" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ app_name }}\n"
    )
    # The comma after kind is missing.
    jsonnet = "{\n  apiVersion: 'v1',\n  kind: 'ConfigMap'\n  x: 1,\n}\n"
    (tmp_path / "app.jsonnet").write_text(jsonnet)
    (tmp_path / "chart").mkdir()
    (tmp_path / "values.yaml").write_text("replicas: [1\n")
    file = tmp_path / "wf.yaml"
    file.write_text(CONTENT_WORKFLOW)

    done = deployer(kubeconfig, "submit", str(file), "-n", namespace)

    assert done.returncode == 1
    errors = done.stderr
    assert "has 5 problem(s)" in errors
    assert (
        f"{file}:13: template first: output parameter mode: invalid JSONPath '{{.data.mode': "
        "the closing '}' is missing" in errors
    )
    assert (
        f"{file}:20: template render: manifests.paths: {tmp_path}/templated/cm.yaml:4: "
        'undefined parameter "app_name"' in errors
    )
    assert (
        f"{file}:22: template evaluate: jsonnet.main: {tmp_path}/app.jsonnet:4: "
        "Jsonnet syntax error" in errors
    )
    assert f"{file}:26: template release: helm.release: release name 'Web_1' is invalid" in errors
    assert f"{file}:27: template release: helm.valuesFiles: {tmp_path}/values.yaml:" in errors
    found = kubectl(kubeconfig, "get", "configmap", "first-config", "-n", namespace, check=False)
    assert found.returncode != 0, "the first step ran although the workflow was invalid"
