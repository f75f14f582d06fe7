"""Problems found before the first write: static checks and dry-run errors reported together."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from deployer.cluster import Cluster
from deployer.engine.apply import ApplyOptions, apply_manifests
from deployer.errors import ValidationError
from deployer.sources.loader import load_paths
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


def _apply_text(cluster: Cluster, folder: Path, text: str, namespace: str) -> None:
    path = folder / "objects.yaml"
    path.write_text(text)
    apply_manifests(
        cluster,
        load_paths([str(path)]),
        options=ApplyOptions(namespace=namespace, timeout_seconds=30),
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


def test_grouped_kind_with_static_problem_skips_dry_run(
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
