"""Problems found before the first write: static checks and dry-run errors reported together."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.cluster import Cluster
from deployer.engine.apply import ApplyOptions, ApplyResult, apply_manifests
from deployer.errors import ValidationError
from deployer.model.status import State
from deployer.sources.loader import load_paths
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


def _apply_text(
    cluster: Cluster, folder: Path, text: str, namespace: str, **options: object
) -> ApplyResult:
    path = folder / "objects.yaml"
    path.write_text(text)
    return apply_manifests(
        cluster,
        load_paths([str(path)]),
        options=ApplyOptions(namespace=namespace, timeout_seconds=30, **options),  # type: ignore[arg-type]
    )


def _configmaps(kubeconfig: str, namespace: str) -> str:
    return kubectl(kubeconfig, "get", "configmap", "-n", namespace, "-o", "name").stdout


BAD_QUOTA = """
apiVersion: v1
kind: ConfigMap
metadata: {name: flags}
data:
  FEATURE: on
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota}
spec:
  hard: {memory: 1GB}
"""


def test_dry_run_error_joins_static_problems(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    before = _configmaps(kubeconfig, namespace)
    started = time.monotonic()
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, BAD_QUOTA, namespace)
    seconds = time.monotonic() - started
    text = str(raised.value)
    assert "data.FEATURE" in text
    assert f"ResourceQuota {namespace}/quota" in text
    assert "quantities must match" in text
    assert len(raised.value.problems) == 2
    # A 500 for a body the server cannot convert is permanent: no retries with backoff.
    assert seconds < 3.0
    assert _configmaps(kubeconfig, namespace) == before


def test_unconvertible_quantity_alone_is_a_problem(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    quota_only = BAD_QUOTA.split("---", 1)[1]
    started = time.monotonic()
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, quota_only, namespace)
    assert time.monotonic() - started < 3.0
    assert len(raised.value.problems) == 1
    assert "quantities must match" in str(raised.value)


def test_grouped_kind_static_problems_not_restated(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: Bad_Name}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: b}}
    spec:
      containers:
        - name: c
          image: busybox
          resources: {limits: {memory: 1GB}}
"""
    started = time.monotonic()
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, text, namespace)
    assert time.monotonic() - started < 3.0
    paths = [problem.path for problem in raised.value.problems]
    assert "metadata.name" in paths
    assert "spec.selector.matchLabels" in paths
    assert "spec.template.spec.containers[0].resources.limits.memory" in paths
    assert "failed to convert" not in str(raised.value)


def test_bad_annotations_rejected_before_any_write(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = """
apiVersion: v1
kind: ConfigMap
metadata: {name: first}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: typo
  annotations:
    deployer.dev/readiness: skpi
    deployer.dev/timeout: 5 minutes
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: condition
  annotations: {deployer.dev/success-condition: "status.phase === Ready"}
data: {a: "1"}
"""
    before = _configmaps(kubeconfig, namespace)
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, text, namespace)
    messages = sorted(str(problem) for problem in raised.value.problems)
    assert len(messages) == 3
    assert "/condition (" in messages[0]
    assert "deployer.dev/success-condition: invalid condition" in messages[0]
    assert "/typo (" in messages[1]
    assert "deployer.dev/readiness is 'skpi'" in messages[1]
    assert "/typo (" in messages[2]
    assert "deployer.dev/timeout: invalid duration '5 minutes'" in messages[2]
    assert all("objects.yaml:" in message for message in messages)
    assert _configmaps(kubeconfig, namespace) == before


def test_bad_recreate_annotation_rejected_before_any_write(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: redo
  annotations: {deployer.dev/recreate: "yes"}
data: {a: "1"}
"""
    before = _configmaps(kubeconfig, namespace)
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, text, namespace)
    assert len(raised.value.problems) == 1
    assert 'deployer.dev/recreate must be "true" or "false", got \'yes\'' in str(raised.value)
    assert _configmaps(kubeconfig, namespace) == before


@pytest.fixture
def fresh_namespace(kubeconfig: str) -> Iterator[str]:
    """A namespace name that the test's manifests create; deleted afterwards if they did."""
    name = f"fresh-{uuid.uuid4().hex[:6]}"
    yield name
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def _namespace_exists(kubeconfig: str, name: str) -> bool:
    return kubectl(kubeconfig, "get", "namespace", name, check=False).returncode == 0


def test_invalid_pod_in_new_namespace_writes_nothing(
    cluster: Cluster, kubeconfig: str, namespace: str, fresh_namespace: str, tmp_path: Path
) -> None:
    text = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {fresh_namespace}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {fresh_namespace}}}
data: {{COLOR: blue}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {fresh_namespace}}}
spec:
  containers: [{{name: web}}]
"""
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, text, namespace)
    assert len(raised.value.problems) == 1
    problem = str(raised.value.problems[0])
    assert f"Pod {fresh_namespace}/web (" in problem
    assert "spec.containers[0].image: Required value" in problem
    assert not _namespace_exists(kubeconfig, fresh_namespace)


def test_new_namespace_objects_are_checked_in_stand_in(
    cluster: Cluster, kubeconfig: str, namespace: str, fresh_namespace: str, tmp_path: Path
) -> None:
    text = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {fresh_namespace}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: runner, namespace: {fresh_namespace}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {fresh_namespace}}}
spec:
  serviceAccountName: runner
  containers: [{{name: web, image: nginx}}]
"""
    checked = _apply_text(cluster, tmp_path, text, namespace, dry_run=True)
    messages = {item.ref.kind: item.status.message for item in checked.objects}
    assert messages["Pod"] == f"checked in stand-in namespace {namespace}"
    assert messages["ServiceAccount"] == f"checked in stand-in namespace {namespace}"
    assert not _namespace_exists(kubeconfig, fresh_namespace)

    applied = _apply_text(cluster, tmp_path, text, namespace)
    assert {item.ref.kind: item.status.state for item in applied.objects} == {
        "Namespace": State.READY,
        "ServiceAccount": State.READY,
        "Pod": State.READY,
    }


def test_pod_with_unknown_account_in_new_namespace_rejected(
    cluster: Cluster, kubeconfig: str, namespace: str, fresh_namespace: str, tmp_path: Path
) -> None:
    text = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {fresh_namespace}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {fresh_namespace}}}
spec:
  serviceAccountName: nobody
  containers: [{{name: web, image: nginx}}]
"""
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, text, namespace)
    (problem,) = raised.value.problems
    assert problem.path == "spec.serviceAccountName"
    assert 'serviceaccount "nobody" not found' in problem.message
    assert not _namespace_exists(kubeconfig, fresh_namespace)


def test_custom_resource_checked_against_crd_in_same_set(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    text = f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: pumps.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: pumps, singular: pump, kind: Pump}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [rate]
              properties:
                rate: {{type: integer, minimum: 1}}
---
apiVersion: {group}/v1
kind: Pump
metadata: {{name: main}}
spec: {{rate: fast}}
---
apiVersion: {group}/v1
kind: Pump
metadata: {{name: spare}}
spec: {{}}
"""
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, text, namespace)
    found = sorted(
        (problem.object.split(" (")[0], problem.path) for problem in raised.value.problems
    )
    assert found == [
        (f"Pump.{group} {namespace}/main", "spec.rate"),
        (f"Pump.{group} {namespace}/spare", "spec"),
    ]
    assert "'fast' is not of type 'integer'" in str(raised.value)
    listed = kubectl(kubeconfig, "get", "crd", f"pumps.{group}", check=False)
    assert listed.returncode != 0


def test_missing_inventory_namespace_rejected_before_any_write(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\ndata: {a: '1'}\n"
    missing = f"nowhere-{uuid.uuid4().hex[:6]}"
    before = _configmaps(kubeconfig, namespace)
    with pytest.raises(ValidationError) as raised:
        _apply_text(
            cluster, tmp_path, text, namespace, inventory="app", inventory_namespace=missing
        )
    (problem,) = raised.value.problems
    assert problem.object == "inventory app"
    assert f"cannot store the inventory in namespace {missing}" in problem.message
    assert "create the namespace" in problem.message
    assert _configmaps(kubeconfig, namespace) == before
