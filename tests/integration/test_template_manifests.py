"""The manifests and jsonnet template kinds against the local control plane."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from deployer.cluster import Cluster
from deployer.engine.kinds import TemplateContext
from deployer.engine.templates import KINDS
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster

JSONNET_DIR = Path(__file__).resolve().parent.parent / "jsonnet"

CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ name }}
data:
  greeting: "{{ greeting }}"
  replicas: "{{ replicas }}"
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: {{ replicas }}
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: registry.example/api:1}]
"""


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


def _context(cluster: Cluster, namespace: str, base_dir: Path, **extra: Any) -> TemplateContext:
    fields: dict[str, Any] = {
        "parameters": {"replicas": "2"},
        "workflow_parameters": {"greeting": "from-workflow", "replicas": "9"},
        "run_name": "stack-abcde",
        "node_name": "stack-abcde.app",
        "workflow_name": "stack",
        "timeout_seconds": 120.0,
    }
    fields.update(extra)
    return TemplateContext(cluster=cluster, base_dir=base_dir, namespace=namespace, **fields)


def _names(kubeconfig: str, namespace: str, kind: str) -> set[str]:
    listed = json.loads(kubectl(kubeconfig, "get", kind, "-n", namespace, "-o", "json").stdout)
    return {item["metadata"]["name"] for item in listed["items"]}


def test_manifests_apply_prune_and_destroy(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "config.yaml").write_text(CONFIG_MAP)
    (tmp_path / "app" / "deployment.yaml").write_text(DEPLOYMENT)
    kubectl(kubeconfig, "create", "configmap", "not-ours", "-n", namespace)
    outputs = [
        {
            "name": "ready",
            "valueFrom": {"jsonPath": "{.status.readyReplicas}", "object": "Deployment.apps/api"},
        }
    ]
    ctx = _context(cluster, namespace, tmp_path, output_parameters=outputs)
    spec = {"paths": ["app"], "parameters": {"name": "settings"}}

    applied = KINDS["manifests"].run(spec, ctx)
    assert applied.phase == "Succeeded", applied.message
    assert applied.outputs == {"ready": "2"}
    settings = json.loads(
        kubectl(kubeconfig, "get", "configmap", "settings", "-n", namespace, "-o", "json").stdout
    )
    # Step parameters win over node inputs, which win over workflow parameters.
    assert settings["data"] == {"greeting": "from-workflow", "replicas": "2"}
    assert {"settings", "not-ours"} <= _names(kubeconfig, namespace, "configmaps")

    (tmp_path / "app" / "deployment.yaml").unlink()
    reapplied = KINDS["manifests"].run(spec, _context(cluster, namespace, tmp_path))
    assert reapplied.phase == "Succeeded", reapplied.message
    assert "api" not in _names(kubeconfig, namespace, "deployments")

    destroyed = KINDS["manifests"].destroy(spec, _context(cluster, namespace, tmp_path))
    assert destroyed.phase == "Succeeded", destroyed.message
    left = _names(kubeconfig, namespace, "configmaps")
    assert "settings" not in left
    assert "not-ours" in left


def test_manifests_render_error_is_error_phase(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text(CONFIG_MAP.replace("{{ greeting }}", "{{ missing }}"))
    result = KINDS["manifests"].run(
        {"paths": ["bad.yaml"], "parameters": {"name": "x"}}, _context(cluster, namespace, tmp_path)
    )
    assert result.phase == "Error"
    assert "bad.yaml" in result.message
    assert "missing" in result.message


def test_manifests_unknown_field_is_rejected(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    result = KINDS["manifests"].run(
        {"paths": ["x.yaml"], "path": "typo"}, _context(cluster, namespace, tmp_path)
    )
    assert result.phase == "Error"
    assert "not supported: manifests.path (did you mean paths?)" in result.message


def _applied(kubeconfig: str, namespace: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Return each named ConfigMap's name, labels, data and resourceVersion."""
    applied = {}
    for name in names:
        item = json.loads(
            kubectl(kubeconfig, "get", "configmap", name, "-n", namespace, "-o", "json").stdout
        )
        meta = item["metadata"]
        applied[name] = {
            "labels": meta.get("labels"),
            "data": item.get("data"),
            "resourceVersion": meta["resourceVersion"],
        }
    return applied


def test_jsonnet_apply_from_any_directory(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    spec = {
        "main": "app/main.jsonnet",
        "libPaths": ["lib"],
        "extVars": {"namespace": namespace},
        "tlas": {"title": "Sock Shop"},
    }
    names = ("dashboards-app", "extra-app")
    # Each folder contains a util.libsonnet that the other folder's files must not see: an
    # import resolved against the working directory would pick the wrong one.
    applied = []
    before = os.getcwd()
    for folder in (JSONNET_DIR / "app", JSONNET_DIR / "lib"):
        os.chdir(folder)
        try:
            result = KINDS["jsonnet"].run(spec, _context(cluster, namespace, JSONNET_DIR))
        finally:
            os.chdir(before)
        assert result.phase == "Succeeded", f"from {folder}: {result.message}"
        applied.append(_applied(kubeconfig, namespace, names))

    first, second = applied
    assert first["dashboards-app"]["data"] == {"title": "Sock Shop"}
    assert first["dashboards-app"]["labels"] == {"origin": "lib"}
    assert first["extra-app"]["data"] == {"panels": "cpu,memory\n"}
    # The same objects: the second apply changed nothing, not even a resourceVersion.
    assert second == first

    destroyed = KINDS["jsonnet"].destroy(spec, _context(cluster, namespace, JSONNET_DIR))
    assert destroyed.phase == "Succeeded", destroyed.message
    assert not set(names) & _names(kubeconfig, namespace, "configmaps")


def test_jsonnet_unset_variable_fails_with_name(cluster: Cluster, namespace: str) -> None:
    spec = {"main": "app/main.jsonnet", "libPaths": ["lib"]}
    result = KINDS["jsonnet"].run(spec, _context(cluster, namespace, JSONNET_DIR))
    assert result.phase == "Error"
    assert '"namespace"' in result.message
    assert "main.jsonnet:5" in result.message
