"""One apply reports every problem it can find before the first write, on the real cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.cluster import Cluster
from deployer.engine.apply import ApplyOptions, ApplyResult, apply_manifests
from deployer.errors import ValidationError
from deployer.sources.loader import load_paths
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


@pytest.fixture
def fresh_namespace(kubeconfig: str) -> Iterator[str]:
    """A namespace name that the test's manifests create; deleted afterwards if they did."""
    name = f"fresh-{uuid.uuid4().hex[:6]}"
    yield name
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def terminating(kubeconfig: str) -> Iterator[str]:
    """A namespace kept in Terminating by a finalizer on one of its ConfigMaps."""
    name = f"ending-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", name)
    kubectl(kubeconfig, "create", "configmap", "hold", "-n", name)
    kubectl(
        kubeconfig,
        "patch",
        "configmap",
        "hold",
        "-n",
        name,
        "--type=merge",
        "-p",
        '{"metadata": {"finalizers": ["example.com/hold"]}}',
    )
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false")
    kubectl(
        kubeconfig,
        "wait",
        "--for=jsonpath={.status.phase}=Terminating",
        f"namespace/{name}",
        "--timeout=30s",
    )
    yield name
    kubectl(
        kubeconfig,
        "patch",
        "configmap",
        "hold",
        "-n",
        name,
        "--type=merge",
        "-p",
        '{"metadata": {"finalizers": null}}',
        check=False,
    )


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


def _exists(kubeconfig: str, *args: str) -> bool:
    return kubectl(kubeconfig, "get", *args, check=False).returncode == 0


SERVICE = """
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {namespace}}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: {target}, protocol: TCPP}}]
"""


def test_static_and_server_problems_of_one_object(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = SERVICE.format(namespace=namespace, target='"8080"') + (
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata:\n  FEATURE: on\n"
    )
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, text, namespace)
    messages = [str(problem) for problem in raised.value.problems]
    assert len(messages) == 3
    assert any("targetPort" in message and "digits-only" in message for message in messages)
    assert any('Unsupported value: "TCPP"' in message for message in messages)
    assert sum("ConfigMap" in message for message in messages) == 1
    assert not _exists(kubeconfig, "service", "web", "-n", namespace)


def test_conflict_joins_other_problems(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    owned = tmp_path / "owned.yaml"
    owned.write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: owned, namespace: {namespace}}}\n"
        "data: {COLOR: red}\n"
    )
    kubectl(kubeconfig, "apply", "--server-side", "--field-manager=other", "-f", str(owned))
    text = SERVICE.format(namespace=namespace, target=8080) + (
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned}\ndata: {COLOR: blue}\n"
    )
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, text, namespace)
    messages = [str(problem) for problem in raised.value.problems]
    assert len(messages) == 2
    assert any('Unsupported value: "TCPP"' in message for message in messages)
    assert any("data.COLOR is owned by other" in message for message in messages)


def test_terminating_stand_in_falls_back(
    cluster: Cluster,
    kubeconfig: str,
    namespace: str,
    fresh_namespace: str,
    terminating: str,
    tmp_path: Path,
) -> None:
    text = (
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {fresh_namespace}}}\n---\n"
        + SERVICE.format(namespace=fresh_namespace, target=8080)
    )
    with pytest.raises(ValidationError) as raised:
        _apply_text(cluster, tmp_path, text, namespace, inventory_namespace=terminating)
    assert 'Unsupported value: "TCPP"' in str(raised.value)
    assert not _exists(kubeconfig, "namespace", fresh_namespace)


def test_same_name_in_stand_in_is_checked(
    cluster: Cluster, kubeconfig: str, namespace: str, fresh_namespace: str, tmp_path: Path
) -> None:
    kubectl(kubeconfig, "create", "configmap", "same", "-n", namespace)
    text = (
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {fresh_namespace}}}\n---\n"
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: same, namespace: {fresh_namespace}}}\n"
    )
    checked = _apply_text(cluster, tmp_path, text, namespace, dry_run=True)
    changes = {item.ref.kind: item.change for item in checked.objects}
    assert changes == {"Namespace": "dry-run", "ConfigMap": "dry-run"}


def test_stand_in_quota_still_checks(
    cluster: Cluster, kubeconfig: str, namespace: str, fresh_namespace: str, tmp_path: Path
) -> None:
    kubectl(kubeconfig, "create", "quota", "none", "--hard=configmaps=0", "-n", namespace)
    text = (
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {fresh_namespace}}}\n---\n"
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: new, namespace: {fresh_namespace}}}\n"
    )
    checked = _apply_text(cluster, tmp_path, text, namespace, dry_run=True)
    statuses = {item.ref.kind: item.status.message for item in checked.objects}
    assert statuses["ConfigMap"] == f"checked in stand-in namespace {namespace}"
