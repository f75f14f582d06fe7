"""Apply of tricky inputs against the real control plane: ordering, shapes, rejections."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.cluster import Cluster
from deployer.engine.apply import ApplyOptions, apply_manifests
from deployer.errors import InputError, ValidationError
from deployer.model.status import State
from deployer.sources.loader import load_paths
from tests.conftest import kubectl

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster(kubeconfig: str) -> Cluster:
    return Cluster.connect(kubeconfig=kubeconfig)


def _write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def _apply(cluster: Cluster, paths: list[str], namespace: str) -> list[tuple[str, str, State]]:
    result = apply_manifests(
        cluster,
        load_paths(paths),
        options=ApplyOptions(namespace=namespace, timeout_seconds=60),
    )
    return [(item.ref.kind, item.ref.name, item.status.state) for item in result.objects]


def _names(kubeconfig: str, kind: str, namespace: str) -> set[str]:
    listed = kubectl(kubeconfig, "get", kind, "-n", namespace, "-o", "name").stdout
    return {line.split("/", 1)[1] for line in listed.split()}


@pytest.fixture
def crd_group(kubeconfig: str) -> Iterator[str]:
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    yield group
    kubectl(kubeconfig, "delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def test_crd_and_custom_resource_in_one_file(
    cluster: Cluster, kubeconfig: str, namespace: str, crd_group: str, tmp_path: Path
) -> None:
    text = f"""
apiVersion: {crd_group}/v1
kind: Widget
metadata: {{name: first}}
spec: {{size: 3}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{crd_group}}}
spec:
  group: {crd_group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""
    applied = _apply(cluster, [_write(tmp_path, "all.yaml", text)], namespace)
    kinds = [kind for kind, _, _ in applied]
    assert kinds.index("CustomResourceDefinition") < kinds.index("Widget")
    assert all(state is State.READY for _, _, state in applied)
    assert "first" in _names(kubeconfig, f"widgets.{crd_group}", namespace)


def test_namespace_in_later_file_is_applied_first(
    cluster: Cluster, kubeconfig: str, tmp_path: Path
) -> None:
    name = f"test-{uuid.uuid4().hex[:6]}"
    pod = f"""
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {name}}}
spec:
  containers: [{{name: web, image: nginx}}]
"""
    try:
        applied = _apply(
            cluster,
            [
                _write(tmp_path, "a.yaml", pod),
                _write(
                    tmp_path,
                    "z.yaml",
                    f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n",
                ),
            ],
            "default",
        )
        assert [kind for kind, _, _ in applied] == ["Namespace", "Pod"]
        assert applied[1][2] is State.READY
    finally:
        kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def test_comment_only_and_bare_separators_give_one_object(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = (
        "# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: lone}\n---\n---\n"
    )
    applied = _apply(cluster, [_write(tmp_path, "docs.yaml", text)], namespace)
    assert applied == [("ConfigMap", "lone", State.READY)]


def test_list_kind_applies_each_item(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = """
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: listed}
    data: {a: "1"}
  - apiVersion: v1
    kind: Secret
    metadata: {name: listed}
    stringData: {token: abc}
"""
    applied = _apply(cluster, [_write(tmp_path, "list.yaml", text)], namespace)
    assert sorted(kind for kind, _, _ in applied) == ["ConfigMap", "Secret"]
    assert "listed" in _names(kubeconfig, "configmap", namespace)
    assert "listed" in _names(kubeconfig, "secret", namespace)


def test_boolean_configmap_value_rejected_and_nothing_written(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = """
apiVersion: v1
kind: ConfigMap
metadata: {name: good}
data: {COLOR: blue}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: flags}
data:
  FEATURE: on
"""
    before = _names(kubeconfig, "configmap", namespace)
    with pytest.raises(ValidationError) as raised:
        _apply(cluster, [_write(tmp_path, "flags.yaml", text)], namespace)
    assert "data.FEATURE" in str(raised.value)
    assert len(raised.value.problems) == 1
    assert _names(kubeconfig, "configmap", namespace) == before


def test_bool_and_int_data_name_both_paths(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = """
apiVersion: v1
kind: ConfigMap
metadata: {name: features}
data: {FEATURE: on, RETRIES: 3}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bystander}
data: {COLOR: blue}
"""
    before = _names(kubeconfig, "configmap", namespace)
    with pytest.raises(ValidationError) as raised:
        _apply(cluster, [_write(tmp_path, "features.yaml", text)], namespace)
    paths = sorted(problem.path for problem in raised.value.problems)
    assert paths == ["data.FEATURE", "data.RETRIES"]
    message = str(raised.value)
    assert 'data.FEATURE: must be a string, got boolean true; quote it: "on"' in message
    assert "data.RETRIES: must be a string" in message
    assert _names(kubeconfig, "configmap", namespace) == before


def test_duplicate_image_key_names_both_lines(tmp_path: Path) -> None:
    text = """apiVersion: v1
kind: Pod
metadata: {name: twice}
spec:
  containers:
    - name: web
      image: nginx
      image: httpd
"""
    with pytest.raises(InputError) as raised:
        load_paths([_write(tmp_path, "pod.yaml", text)])
    message = str(raised.value)
    assert ":8" in message
    assert "line 7" in message


def test_digit_string_target_port_rejected_as_port_name(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = """
apiVersion: v1
kind: Service
metadata: {name: cache}
spec:
  selector: {app: cache}
  ports:
    - port: 6379
      targetPort: "6379"
"""
    with pytest.raises(ValidationError) as raised:
        _apply(cluster, [_write(tmp_path, "svc.yaml", text)], namespace)
    (problem,) = raised.value.problems
    assert problem.path == "spec.ports[0].targetPort"
    assert (
        '"6379" is a digits-only string, which Kubernetes takes as a port NAME' in problem.message
    )
    assert "write it as a number (6379)" in problem.message
    assert "cache" not in _names(kubeconfig, "service", namespace)


def test_unknown_kind_names_object_and_crd(
    cluster: Cluster, kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    text = """
apiVersion: nowhere.example.com/v1
kind: Gadget
metadata: {name: lost}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bystander}
"""
    with pytest.raises(ValidationError) as raised:
        _apply(cluster, [_write(tmp_path, "gadget.yaml", text)], namespace)
    message = str(raised.value)
    assert "Gadget.nowhere.example.com lost" in message
    assert "CustomResourceDefinition" in message
    assert "bystander" not in _names(kubeconfig, "configmap", namespace)
