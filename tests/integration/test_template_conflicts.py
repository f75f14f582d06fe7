"""Server-side apply conflicts in workflow steps, and `forceConflicts: true` that takes over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer.cluster import Cluster
from deployer.engine.kinds import TemplateContext
from deployer.engine.templates import KINDS
from tests.conftest import kubectl
from tests.integration.test_workflow_basics import deployer, nodes_by_display

pytestmark = pytest.mark.cluster

CHARTS = Path(__file__).resolve().parent.parent / "charts"

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: conflict-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: config, template: config}
  - name: config
    manifests:
      paths: [shared.yaml]
      FORCE
"""

SHARED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
data:
  owner: workflow
"""


def _data(kubeconfig: str, namespace: str, name: str) -> dict[str, str]:
    found = kubectl(kubeconfig, "get", "configmap", name, "-n", namespace, "-o", "json")
    data: dict[str, str] = json.loads(found.stdout)["data"]
    return data


def _submit(kubeconfig: str, namespace: str, file: Path) -> tuple[int, dict[str, dict[str, str]]]:
    done = deployer(kubeconfig, "submit", str(file), "-n", namespace, "-o", "json")
    assert done.stdout.strip(), f"no output; stderr:\n{done.stderr}"
    return done.returncode, nodes_by_display(json.loads(done.stdout))


def test_manifests_step_conflict_advises_field(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    kubectl(
        kubeconfig, "create", "configmap", "shared", "-n", namespace, "--from-literal=owner=other"
    )
    (tmp_path / "shared.yaml").write_text(SHARED)
    file = tmp_path / "wf.yaml"
    file.write_text(WORKFLOW.replace("FORCE", ""))

    code, nodes = _submit(kubeconfig, namespace, file)

    assert code == 1
    message = nodes["config"]["message"]
    assert nodes["config"]["phase"] == "Failed"
    assert ".data.owner is owned by kubectl-create" in message
    assert "Set forceConflicts: true in this step's manifests template" in message
    assert "--force-conflicts" not in message
    assert _data(kubeconfig, namespace, "shared") == {"owner": "other"}

    file.write_text(WORKFLOW.replace("FORCE", "forceConflicts: true"))
    code, nodes = _submit(kubeconfig, namespace, file)

    assert code == 0, nodes["config"]["message"]
    assert nodes["config"]["phase"] == "Succeeded"
    assert _data(kubeconfig, namespace, "shared") == {"owner": "workflow"}


def _context(cluster: Cluster, namespace: str, base_dir: Path) -> TemplateContext:
    return TemplateContext(
        cluster=cluster,
        base_dir=base_dir,
        parameters={},
        workflow_parameters={},
        namespace=namespace,
        run_name="conflict-abcde",
        node_name="conflict-abcde.step",
        workflow_name="conflict",
        timeout_seconds=120.0,
    )


def test_jsonnet_force_conflicts_takes_fields_over(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    cluster = Cluster.connect(kubeconfig=kubeconfig)
    kubectl(
        kubeconfig, "create", "configmap", "shared", "-n", namespace, "--from-literal=owner=other"
    )
    (tmp_path / "main.jsonnet").write_text(
        '{apiVersion: "v1", kind: "ConfigMap", metadata: {name: "shared"}, '
        'data: {owner: "jsonnet"}}\n'
    )
    spec: dict[str, object] = {"main": "main.jsonnet"}

    rejected = KINDS["jsonnet"].run(spec, _context(cluster, namespace, tmp_path))

    assert rejected.phase == "Failed"
    assert "Set forceConflicts: true in this step's jsonnet template" in rejected.message
    assert "--force-conflicts" not in rejected.message
    assert _data(kubeconfig, namespace, "shared") == {"owner": "other"}

    spec["forceConflicts"] = "true"  # as a `{{...}}` placeholder would substitute it
    forced = KINDS["jsonnet"].run(spec, _context(cluster, namespace, tmp_path))

    assert forced.phase == "Succeeded", forced.message
    assert _data(kubeconfig, namespace, "shared") == {"owner": "jsonnet"}


def test_helm_force_conflicts_takes_fields_over(
    kubeconfig: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # helm reads KUBECONFIG, because a Cluster does not record its kubeconfig path.
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    cluster = Cluster.connect(kubeconfig=kubeconfig)
    spec: dict[str, object] = {"chart": "webapp", "release": "web", "values": {"message": "one"}}
    installed = KINDS["helm"].run(spec, _context(cluster, namespace, CHARTS))
    assert installed.phase == "Succeeded", installed.message
    # Another field manager takes a field of the release over, as `kubectl edit` would.
    patch = '{"data": {"message": "edited"}}'
    kubectl(kubeconfig, "patch", "configmap", "web-config", "-n", namespace, "-p", patch)

    spec["values"] = {"message": "two"}
    rejected = KINDS["helm"].run(spec, _context(cluster, namespace, CHARTS))

    assert rejected.phase == "Failed"
    assert 'conflict with "kubectl-patch"' in rejected.message
    assert "Set forceConflicts: true in this step's helm template" in rejected.message
    assert _data(kubeconfig, namespace, "web-config")["message"] == "edited"

    spec["forceConflicts"] = True
    forced = KINDS["helm"].run(spec, _context(cluster, namespace, CHARTS))

    assert forced.phase == "Succeeded", forced.message
    assert _data(kubeconfig, namespace, "web-config")["message"] == "two"


def test_force_conflicts_is_typed_in_validation(
    kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    (tmp_path / "shared.yaml").write_text(SHARED)
    file = tmp_path / "wf.yaml"
    file.write_text(WORKFLOW.replace("FORCE", "forceConflicts: sometimes"))

    done = deployer(kubeconfig, "submit", str(file), "-n", namespace)

    assert done.returncode == 1
    problem = "template config: manifests.forceConflicts must be true or false"
    assert f"{file}:14: {problem}" in done.stderr
    listed = kubectl(kubeconfig, "get", "configmap", "shared", "-n", namespace, check=False)
    assert listed.returncode != 0
