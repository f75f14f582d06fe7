"""Re-apply, prune, destroy and field-manager conflicts against the real control plane."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from deployer.cluster import Cluster
from deployer.engine.apply import ApplyOptions, ApplyResult, apply_manifests
from deployer.engine.deletion import destroy
from deployer.engine.diff import diff_manifests
from deployer.errors import ConflictError
from deployer.model.events import ObjectEvent
from deployer.model.status import State
from deployer.sources.loader import load_text
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster

STACK = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {COLOR: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: token}
stringData: {value: s3cr3t-value}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


def _apply(
    cluster: Cluster, text: str, namespace: str, **options: object
) -> tuple[ApplyResult, list[ObjectEvent]]:
    events: list[ObjectEvent] = []
    result = apply_manifests(
        cluster,
        load_text(text, file="stack.yaml"),
        options=ApplyOptions(namespace=namespace, timeout_seconds=60, **options),  # type: ignore[arg-type]
        progress=events.append,
    )
    return result, events


def _names(kubeconfig: str, kinds: str, namespace: str) -> set[str]:
    listed = kubectl(kubeconfig, "get", kinds, "-n", namespace, "-o", "name").stdout
    return set(listed.split())


def test_second_apply_changes_nothing(cluster: Cluster, namespace: str) -> None:
    first, _ = _apply(cluster, STACK, namespace)
    assert first.count("created") == 4
    second, events = _apply(cluster, STACK, namespace)
    assert second.count("unchanged") == 4
    assert all(item.status.state is State.READY for item in second.objects)
    assert {event.reason for event in events if event.state is State.APPLIED} == {"Unchanged"}


def test_diff_shows_change_and_masks_secret(cluster: Cluster, namespace: str) -> None:
    _apply(cluster, STACK, namespace)
    changed = STACK.replace("COLOR: blue", "COLOR: green").replace("s3cr3t-value", "other")
    diffs = dict(
        (str(m.ref), text)
        for m, text in diff_manifests(
            cluster, load_text(changed, file="stack.yaml"), namespace=namespace
        )
    )
    assert set(diffs) == {f"ConfigMap {namespace}/settings", f"Secret {namespace}/token"}
    assert "+  COLOR: green" in diffs[f"ConfigMap {namespace}/settings"]
    assert "-  COLOR: blue" in diffs[f"ConfigMap {namespace}/settings"]
    secret_diff = diffs[f"Secret {namespace}/token"]
    assert "(changed)" in secret_diff
    assert "s3cr3t" not in secret_diff
    assert "other" not in secret_diff


def test_prune_removes_objects_that_left(cluster: Cluster, kubeconfig: str, namespace: str) -> None:
    _apply(cluster, STACK, namespace, inventory="shop")
    without_config = STACK.split("---", 1)[1]
    result, _ = _apply(cluster, without_config, namespace, inventory="shop")
    assert [str(ref) for ref in result.pruned] == [f"ConfigMap {namespace}/settings"]
    assert "configmap/settings" not in _names(kubeconfig, "configmap", namespace)
    assert "secret/token" in _names(kubeconfig, "secret", namespace)


def test_destroy_leaves_nothing_behind(cluster: Cluster, kubeconfig: str, namespace: str) -> None:
    _apply(cluster, STACK, namespace, inventory="shop")
    deleted = destroy(cluster, inventory_name="shop", namespace=namespace)
    assert len(deleted.deleted) == 4
    left = _names(kubeconfig, "configmap,secret,service,deployment,replicaset,pod", namespace)
    assert left == {"configmap/kube-root-ca.crt"}


def test_conflict_names_path_and_manager(cluster: Cluster, kubeconfig: str, namespace: str) -> None:
    kubectl(
        kubeconfig, "create", "configmap", "settings", "-n", namespace, "--from-literal=COLOR=red"
    )
    with pytest.raises(ConflictError) as raised:
        _apply(cluster, STACK, namespace)
    assert ".data.COLOR" in str(raised.value)
    assert "kubectl-create" in str(raised.value)
    assert "--force-conflicts" in str(raised.value)
    assert "secret/token" not in _names(kubeconfig, "secret", namespace)


def test_force_conflicts_takes_fields_over(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    kubectl(
        kubeconfig, "create", "configmap", "settings", "-n", namespace, "--from-literal=COLOR=red"
    )
    _apply(cluster, STACK, namespace, force_conflicts=True)
    color = kubectl(
        kubeconfig, "get", "configmap", "settings", "-n", namespace, "-o", "jsonpath={.data.COLOR}"
    ).stdout
    assert color == "blue"


def test_destroy_by_manifests_removes_namespace_last(cluster: Cluster, kubeconfig: str) -> None:
    name = f"destroy-{uuid.uuid4().hex[:6]}"
    text = f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n---\n" + STACK.replace(
        "metadata: {name: ", f"metadata: {{namespace: {name}, name: "
    )
    try:
        _apply(cluster, text, name)
        events: list[ObjectEvent] = []
        deleted = destroy(
            cluster, manifests=load_text(text, file="stack.yaml"), progress=events.append
        )
        assert len(deleted.deleted) == 5
        gone = [str(event.ref) for event in events if event.state is State.DELETED]
        assert gone[-1] == f"Namespace {name}"
        listed = kubectl(kubeconfig, "get", "namespace", name, check=False)
        assert listed.returncode != 0
    finally:
        kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def test_generate_name_object_replaced_under_prune(
    cluster: Cluster, kubeconfig: str, namespace: str
) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: run-}\ndata: {a: '1'}\n"
    first, _ = _apply(cluster, text, namespace, inventory="runs")
    second, _ = _apply(cluster, text, namespace, inventory="runs")
    assert first.objects[0].ref.name != second.objects[0].ref.name
    assert second.pruned == [first.objects[0].ref]
    names = _names(kubeconfig, "configmap", namespace)
    assert f"configmap/{second.objects[0].ref.name}" in names
    assert f"configmap/{first.objects[0].ref.name}" not in names


def test_conflicts_list_every_object(cluster: Cluster, kubeconfig: str, namespace: str) -> None:
    for name in ("settings", "limits"):
        kubectl(kubeconfig, "create", "configmap", name, "-n", namespace, "--from-literal=SIZE=1")
    text = (
        STACK
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: limits}\ndata: {SIZE: '2'}\n"
    )
    with pytest.raises(ConflictError) as raised:
        _apply(cluster, text.replace("COLOR: blue", "SIZE: '3'"), namespace)
    message = str(raised.value)
    assert message.startswith("2 object(s) cannot be applied as written:")
    assert f"ConfigMap {namespace}/settings: server-side apply conflicts" in message
    assert f"ConfigMap {namespace}/limits: server-side apply conflicts" in message
    assert message.count(".data.SIZE is owned by kubectl-create") == 2
    assert message.count("--force-conflicts") == 1
    assert "secret/token" not in _names(kubeconfig, "secret", namespace)


def test_diff_lists_every_conflict(cluster: Cluster, kubeconfig: str, namespace: str) -> None:
    for name in ("settings", "limits"):
        kubectl(kubeconfig, "create", "configmap", name, "-n", namespace, "--from-literal=SIZE=1")
    text = (
        STACK.replace("COLOR: blue", "SIZE: '3'")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: limits}\ndata: {SIZE: '2'}\n"
    )
    with pytest.raises(ConflictError) as raised:
        diff_manifests(cluster, load_text(text, file="stack.yaml"), namespace=namespace)
    message = str(raised.value)
    assert message.startswith("2 object(s) cannot be applied as written:")
    assert f"ConfigMap {namespace}/settings: server-side apply conflicts" in message
    assert f"ConfigMap {namespace}/limits: server-side apply conflicts" in message
    assert message.count("--force-conflicts") == 1
    forced = diff_manifests(
        cluster, load_text(text, file="stack.yaml"), namespace=namespace, force=True
    )
    assert {manifest.name for manifest, _ in forced} >= {"settings", "limits"}


@pytest.fixture
def crd_group(kubeconfig: str) -> Iterator[str]:
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    yield group
    kubectl(kubeconfig, "delete", "crd", f"gadgets.{group}", "--wait=false", check=False)


def _crd_set(group: str, namespace: str) -> str:
    return f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: gadgets.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: gadgets, singular: gadget, kind: Gadget}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
---
apiVersion: v1
kind: Namespace
metadata: {{name: {namespace}}}
---
apiVersion: {group}/v1
kind: Gadget
metadata: {{name: first, namespace: {namespace}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {namespace}}}
"""


def _deletion_order(events: list[ObjectEvent]) -> list[str]:
    return [event.ref.kind for event in events if event.state is State.TERMINATING]


def _assert_crd_set_gone(kubeconfig: str, group: str, namespace: str) -> None:
    assert kubectl(kubeconfig, "get", "crd", f"gadgets.{group}", check=False).returncode != 0
    assert kubectl(kubeconfig, "get", "namespace", namespace, check=False).returncode != 0


def test_destroy_deletes_custom_resources_then_crd_then_namespace(
    cluster: Cluster, kubeconfig: str, namespace: str, crd_group: str
) -> None:
    fresh = f"gadgets-{uuid.uuid4().hex[:6]}"
    try:
        _apply(cluster, _crd_set(crd_group, fresh), namespace, inventory="gadgets")
        events: list[ObjectEvent] = []
        deleted = destroy(
            cluster, inventory_name="gadgets", namespace=namespace, progress=events.append
        )
        assert len(deleted.deleted) == 4
        order = _deletion_order(events)
        assert order.index("Gadget") < order.index("CustomResourceDefinition")
        assert order.index("ConfigMap") < order.index("CustomResourceDefinition")
        assert order[-1] == "Namespace"
        _assert_crd_set_gone(kubeconfig, crd_group, fresh)
        assert "configmap/deployer-inventory-gadgets" not in _names(
            kubeconfig, "configmap", namespace
        )
    finally:
        kubectl(kubeconfig, "delete", "namespace", fresh, "--wait=false", check=False)


def test_prune_deletes_custom_resources_then_crd_then_namespace(
    cluster: Cluster, kubeconfig: str, namespace: str, crd_group: str
) -> None:
    fresh = f"gadgets-{uuid.uuid4().hex[:6]}"
    remaining = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stays}\n"
    try:
        _apply(cluster, _crd_set(crd_group, fresh) + "---\n" + remaining, namespace, inventory="p")
        result, events = _apply(cluster, remaining, namespace, inventory="p")
        assert sorted(ref.kind for ref in result.pruned) == [
            "ConfigMap",
            "CustomResourceDefinition",
            "Gadget",
            "Namespace",
        ]
        order = _deletion_order(events)
        assert order.index("Gadget") < order.index("CustomResourceDefinition")
        assert order[-1] == "Namespace"
        _assert_crd_set_gone(kubeconfig, crd_group, fresh)
        assert "configmap/stays" in _names(kubeconfig, "configmap", namespace)
    finally:
        kubectl(kubeconfig, "delete", "namespace", fresh, "--wait=false", check=False)
