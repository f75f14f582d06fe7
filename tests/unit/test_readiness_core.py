"""Readiness of PVCs, PVs, Namespaces, Services, CRDs, APIServices and plain config kinds."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.model.status import State
from deployer.readiness import evaluate

WAIT_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "local-path"},
    "volumeBindingMode": "WaitForFirstConsumer",
}
IMMEDIATE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "fast", "annotations": {}},
    "volumeBindingMode": "Immediate",
}


def pvc(phase: str, class_name: str | None = "local-path") -> dict[str, Any]:
    spec: dict[str, Any] = {"volumeName": "pv-1"} if phase == "Bound" else {}
    if class_name is not None:
        spec["storageClassName"] = class_name
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "shop"},
        "spec": spec,
        "status": {"phase": phase},
    }


def test_bound_pvc_is_ready() -> None:
    status = evaluate(pvc("Bound"))
    assert status.state is State.READY
    assert status.message == "bound to volume pv-1"


def test_pvc_pending_on_wait_for_first_consumer_is_ready() -> None:
    classes = {"local-path": WAIT_CLASS, "fast": IMMEDIATE_CLASS}
    status = evaluate(pvc("Pending"), storage_classes=classes)
    assert status.state is State.READY
    assert status.reason == "WaitForFirstConsumer"


def test_pvc_pending_on_immediate_class_is_in_progress() -> None:
    classes = {"local-path": WAIT_CLASS, "fast": IMMEDIATE_CLASS}
    status = evaluate(pvc("Pending", "fast"), storage_classes=classes)
    assert status.state is State.IN_PROGRESS
    assert "storage class fast" in status.message


def test_pvc_pending_without_known_classes_is_in_progress() -> None:
    assert evaluate(pvc("Pending")).state is State.IN_PROGRESS


def test_pvc_without_class_name_uses_default_class() -> None:
    default = {
        **WAIT_CLASS,
        "metadata": {
            "name": "standard",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
    }
    classes = {"fast": IMMEDIATE_CLASS, "standard": default}
    status = evaluate(pvc("Pending", None), storage_classes=classes)
    assert status.state is State.READY
    assert "standard" in status.message


def test_pvc_with_empty_class_waits_for_volume() -> None:
    status = evaluate(pvc("Pending", ""), storage_classes={"local-path": WAIT_CLASS})
    assert status.state is State.IN_PROGRESS
    assert status.message == "waiting for a matching PersistentVolume"


def test_lost_pvc_fails() -> None:
    status = evaluate(pvc("Lost"))
    assert status.state is State.FAILED
    assert status.reason == "Lost"


@pytest.mark.parametrize(
    ("phase", "state"),
    [
        ("Available", State.READY),
        ("Bound", State.READY),
        ("Released", State.READY),
        ("Pending", State.IN_PROGRESS),
        ("Failed", State.FAILED),
    ],
)
def test_persistent_volume_phase_table(phase: str, state: State) -> None:
    obj = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"}}
    assert evaluate({**obj, "status": {"phase": phase}}).state is state


@pytest.mark.parametrize(
    ("phase", "state"),
    [("Active", State.READY), ("Terminating", State.TERMINATING), (None, State.IN_PROGRESS)],
)
def test_namespace_phase_table(phase: str | None, state: State) -> None:
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert evaluate({**obj, "status": {"phase": phase}}).state is state


def service(kind: str, ingress: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "front", "namespace": "shop"},
        "spec": {"type": kind, "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": ingress} if ingress else {}},
    }


@pytest.mark.parametrize("kind", ["ClusterIP", "NodePort", "ExternalName"])
def test_plain_service_is_ready_once_it_exists(kind: str) -> None:
    assert evaluate(service(kind)).state is State.READY


def test_load_balancer_without_ingress_is_in_progress() -> None:
    status = evaluate(service("LoadBalancer"))
    assert status.state is State.IN_PROGRESS
    assert status.reason == "LoadBalancerPending"
    assert "deployer.dev/readiness: skip" in status.message


def test_load_balancer_with_ingress_is_ready() -> None:
    status = evaluate(service("LoadBalancer", [{"ip": "10.0.0.7"}, {"hostname": "lb.example"}]))
    assert status.state is State.READY
    assert status.message == "load balancer at 10.0.0.7, lb.example"


def crd(*conditions: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "status": {"conditions": list(conditions)},
    }


def test_established_crd_is_ready() -> None:
    established = {"type": "Established", "status": "True"}
    names = {"type": "NamesAccepted", "status": "True"}
    assert evaluate(crd(names, established)).state is State.READY


def test_crd_not_established_is_in_progress() -> None:
    status = evaluate(crd({"type": "Established", "status": "False", "reason": "Installing"}))
    assert status.state is State.IN_PROGRESS
    assert "Established=False (Installing)" in status.message


def test_crd_with_rejected_names_fails() -> None:
    names = {
        "type": "NamesAccepted",
        "status": "False",
        "reason": "NameConflict",
        "message": 'plural "widgets" is already in use',
    }
    status = evaluate(crd(names))
    assert status.state is State.FAILED
    assert status.reason == "NameConflict"
    assert "already in use" in status.message


@pytest.mark.parametrize(("value", "state"), [("True", State.READY), ("False", State.IN_PROGRESS)])
def test_api_service_waits_for_available(value: str, state: State) -> None:
    obj = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "status": {"conditions": [{"type": "Available", "status": value}]},
    }
    assert evaluate(obj).state is state


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "ServiceAccount"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("storage.k8s.io/v1", "StorageClass"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("policy/v1", "PodDisruptionBudget"),
        ("batch/v1", "CronJob"),
    ],
)
def test_config_kinds_are_ready_once_they_exist(api_version: str, kind: str) -> None:
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "shop"}}
    status = evaluate(obj)
    assert status.state is State.READY
    assert status.reason == "Exists"
