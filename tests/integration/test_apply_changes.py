"""The change each apply reports (created, configured, unchanged) against the real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.cluster import Cluster
from deployer.engine.apply import ApplyOptions, apply_manifests
from deployer.sources.loader import load_paths
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


@pytest.fixture
def namespace_name(kubeconfig: str) -> Iterator[str]:
    name = f"t-ns-{uuid.uuid4().hex[:8]}"
    yield name
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def _changes(cluster: Cluster, path: Path) -> list[str]:
    result = apply_manifests(
        cluster, load_paths([str(path)]), options=ApplyOptions(timeout_seconds=30)
    )
    return [item.change for item in result.objects]


def test_unchanged_namespace_reapply_is_unchanged(
    cluster: Cluster, namespace_name: str, tmp_path: Path
) -> None:
    path = tmp_path / "namespace.yaml"
    path.write_text(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace_name}}}\n")
    assert _changes(cluster, path) == ["created"]
    assert _changes(cluster, path) == ["unchanged"]
    assert _changes(cluster, path) == ["unchanged"]


def test_changed_namespace_label_is_configured(
    cluster: Cluster, namespace_name: str, tmp_path: Path
) -> None:
    path = tmp_path / "namespace.yaml"
    path.write_text(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace_name}}}\n")
    assert _changes(cluster, path) == ["created"]
    path.write_text(
        "apiVersion: v1\nkind: Namespace\n"
        f"metadata: {{name: {namespace_name}, labels: {{team: blue}}}}\n"
    )
    assert _changes(cluster, path) == ["configured"]
    assert _changes(cluster, path) == ["unchanged"]
