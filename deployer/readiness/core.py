"""Readiness of core objects with a status of their own: Pod, PVC, PV, Namespace, Service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.model.status import State, Status
from deployer.readiness.facts import Facts, failed, in_progress, ready
from deployer.readiness.fields import condition, dig, items, mapping, metadata, spec, status
from deployer.readiness.pods import (
    container_problems,
    first_failure,
    is_ready,
    unready_containers,
    unschedulable,
)

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def _failed_pod(obj: Mapping[str, Any]) -> Status:
    state = status(obj)
    problems = container_problems(obj)
    reason = str(state.get("reason") or (problems[0].reason if problems else "Failed"))
    message = str(state.get("message") or (problems[0] if problems else "pod failed"))
    return failed(reason, message)


def pod(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when Succeeded, or Running with Ready=True; failed when Failed or stuck."""
    phase = status(obj).get("phase") or "Pending"
    if phase == "Succeeded":
        return ready("Succeeded", "pod completed")
    if phase == "Failed":
        return _failed_pod(obj)
    problem = first_failure([obj])
    if problem is not None:
        return failed(problem.reason, str(problem))
    unscheduled = unschedulable(obj)
    if unscheduled is not None:
        return in_progress("Unschedulable", unscheduled)
    if phase == "Running" and is_ready(obj):
        return ready("Ready", "pod running and ready")
    if phase == "Running":
        waiting = unready_containers(obj)
        message = "containers not ready: " + ", ".join(waiting) if waiting else "pod not ready"
        problems = container_problems(obj)
        if problems:
            message += f"; {problems[0]}"
        return in_progress("ContainersNotReady", message)
    if phase == "Unknown":
        return in_progress("Unknown", "the node stopped reporting the pod's state")
    scheduled = condition(obj, "PodScheduled")
    if scheduled is None or scheduled.get("status") != "True":
        return in_progress("Pending", "waiting to be scheduled")
    return in_progress("Pending", "waiting for containers to start")


def _storage_class(name: Any, classes: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Find the claim's StorageClass; a claim with no class name gets the default class."""
    if name is not None:
        return classes.get(str(name))
    for candidate in classes.values():
        annotations = mapping(metadata(candidate).get("annotations"))
        if str(annotations.get(DEFAULT_CLASS_ANNOTATION)) == "true":
            return candidate
    return None


def persistent_volume_claim(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when Bound, or Pending on a WaitForFirstConsumer class; failed when Lost."""
    phase = status(obj).get("phase") or "Pending"
    if phase == "Bound":
        return ready("Bound", f"bound to volume {spec(obj).get('volumeName') or '?'}")
    if phase == "Lost":
        return failed(
            "Lost", "the bound PersistentVolume no longer exists; recreate the claim to rebind it"
        )
    class_name = spec(obj).get("storageClassName")
    storage_class = _storage_class(class_name, facts.storage_classes)
    if storage_class is not None and storage_class.get("volumeBindingMode") == (
        "WaitForFirstConsumer"
    ):
        return ready(
            "WaitForFirstConsumer",
            f"storage class {metadata(storage_class).get('name')} binds the volume"
            " when the first pod using the claim is scheduled",
        )
    if class_name == "":
        return in_progress("Pending", "waiting for a matching PersistentVolume")
    class_label = class_name if class_name is not None else "(default)"
    return in_progress("Pending", f"waiting for a volume from storage class {class_label}")


def persistent_volume(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when Available, Bound or Released; failed when Failed."""
    phase = status(obj).get("phase") or "Pending"
    if phase in ("Available", "Bound", "Released"):
        return ready(str(phase), f"volume is {str(phase).lower()}")
    if phase == "Failed":
        return failed("Failed", str(status(obj).get("message") or "volume reclamation failed"))
    return in_progress(str(phase), f"volume is {str(phase).lower()}")


def namespace(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when Active; Terminating while it is being deleted."""
    phase = status(obj).get("phase")
    if phase == "Active":
        return ready("Active", "namespace is active")
    if phase == "Terminating":
        return Status(State.TERMINATING, "Terminating", "namespace is being deleted")
    return in_progress("Pending", "waiting for the namespace to become active")


def service(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready once it exists, except a LoadBalancer service, which waits for its address."""
    if spec(obj).get("type") != "LoadBalancer":
        return ready("Exists", "")
    ingress = items(dig(obj, "status", "loadBalancer", "ingress"))
    addresses = [str(entry.get("ip") or entry.get("hostname")) for entry in ingress]
    if addresses:
        return ready("LoadBalancerReady", f"load balancer at {', '.join(addresses)}")
    return in_progress(
        "LoadBalancerPending",
        "waiting for a load-balancer address; set the annotation"
        " deployer.dev/readiness: skip if no load-balancer controller runs in this cluster",
    )
