"""Copies of pods and workloads cut down to the fields the readiness rules read.

The waiter keeps every pod of the workloads it waits for, and each workload's latest
body, for the whole wait. A pod as the API server sends it is mostly fields no rule
reads (volumes, tolerations, the scheduler's and kubelet's bookkeeping), so the waiter
keeps these copies instead. `evaluate` returns the same verdict on the copies as on the
full objects.

A shape lists what to keep of a value. True keeps the value whole, a dict keeps the
listed keys of a mapping, each by its own shape, and a one-element list applies its
shape to every mapping in a list. A value of another type than its shape expects is
kept as it is, so the rules read malformed fields the same way in the copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.readiness.fields import dig, mapping
from deployer.readiness.rules import FAILURE_ANNOTATION, SUCCESS_ANNOTATION
from deployer.readiness.selection import (
    REVISION_ANNOTATION,
    TEMPLATE_DIGEST_KEY,
    needs_pods,
    template_digest,
)

Shape = Any  # True, a dict of key to Shape, or a one-element list of Shape

# Container fields that `selection.runs_template` compares between a pod and its template.
CONTAINER_SHAPE: Shape = {
    "name": True,
    "image": True,
    "command": True,
    "args": True,
    "env": [{"name": True, "value": True}],
}

CONDITION_SHAPE: Shape = {"type": True, "status": True, "reason": True, "message": True}

CONTAINER_STATUS_SHAPE: Shape = {
    "name": True,
    "ready": True,
    "restartCount": True,
    "state": True,
    "lastState": True,
}

POD_SPEC_SHAPE: Shape = {"containers": [CONTAINER_SHAPE], "initContainers": [CONTAINER_SHAPE]}

POD_SHAPE: Shape = {
    "apiVersion": True,
    "kind": True,
    "metadata": {
        "name": True,
        "namespace": True,
        "labels": True,
        "annotations": True,
        "deletionTimestamp": True,
    },
    "spec": POD_SPEC_SHAPE,
    "status": {
        "phase": True,
        "reason": True,
        "message": True,
        "conditions": [CONDITION_SHAPE],
        "containerStatuses": [CONTAINER_STATUS_SHAPE],
        "initContainerStatuses": [CONTAINER_STATUS_SHAPE],
    },
}


def project(value: Any, shape: Shape) -> Any:
    """Return the parts of `value` that `shape` names (see the module docstring)."""
    if shape is True:
        return value
    if isinstance(shape, dict):
        if not isinstance(value, Mapping):
            return value
        return {key: project(value[key], shape[key]) for key in shape if key in value}
    if not isinstance(value, list):
        return value
    return [project(item, shape[0]) if isinstance(item, Mapping) else item for item in value]


# The fields of a Deployment's ReplicaSets that `selection.current_replica_set` reads.
REPLICA_SET_SHAPE: Shape = {
    "apiVersion": True,
    "kind": True,
    "metadata": {
        "name": True,
        "namespace": True,
        "labels": True,
        "annotations": {REVISION_ANNOTATION: True},
        "ownerReferences": [{"kind": True, "name": True, "uid": True}],
    },
    "spec": {"selector": True},
}


def pod_fields(pod: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a pod with only the fields that the workload rules read of pods."""
    projected: dict[str, Any] = project(pod, POD_SHAPE)
    return projected


def replica_set_fields(replica_set: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a ReplicaSet with the fields that tell its pods and template.

    The pod template is replaced by its `selection.template_digest`.
    """
    projected: dict[str, Any] = project(replica_set, REPLICA_SET_SHAPE)
    projected[TEMPLATE_DIGEST_KEY] = template_digest(replica_set)
    return projected


def workload_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """Return a workload with its pod template's spec cut down to the containers.

    The rules read the rest of a workload, so only `spec.template.spec` is cut. A
    Deployment keeps the `selection.template_digest` of its whole template, to find its
    current ReplicaSet. Objects of other kinds, and workloads with a success or failure
    condition annotation (whose path may point anywhere), are returned unchanged.
    """
    kind = str(obj.get("kind") or "")
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    if not needs_pods(kind, group):
        return obj
    annotations = mapping(dig(obj, "metadata", "annotations"))
    if SUCCESS_ANNOTATION in annotations or FAILURE_ANNOTATION in annotations:
        return obj
    spec = mapping(obj.get("spec"))
    template = mapping(spec.get("template"))
    if not isinstance(template.get("spec"), Mapping):
        return obj
    cut_template = {**template, "spec": project(template["spec"], POD_SPEC_SHAPE)}
    cut = {**obj, "spec": {**spec, "template": cut_template}}
    if kind == "Deployment":
        cut[TEMPLATE_DIGEST_KEY] = template_digest(obj)
    return cut
