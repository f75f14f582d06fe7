"""Pods and workloads cut down to the fields the rules read get the same verdicts."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from deployer.model.status import State
from deployer.readiness import evaluate
from deployer.readiness.projection import pod_fields, project, workload_fields

LABELS = {"app": "web"}
ENV = [
    {"name": "MODE", "value": "prod"},
    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "web", "key": "token"}}},
]
CONTAINER = {
    "name": "app",
    "image": "shop/web:2",
    "args": ["--port", "8080"],
    "env": ENV,
    "imagePullPolicy": "IfNotPresent",
    "resources": {"requests": {"cpu": "100m"}},
    "volumeMounts": [{"name": "token", "mountPath": "/var/run/secrets"}],
}
INIT_CONTAINER = {"name": "migrate", "image": "shop/migrate:2", "command": ["migrate"]}
POD_SPEC = {
    "containers": [CONTAINER],
    "initContainers": [INIT_CONTAINER],
    "volumes": [{"name": "token", "projected": {"sources": [{"serviceAccountToken": {}}]}}],
    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
}
TEMPLATE = {
    "metadata": {"labels": LABELS, "annotations": {"checksum/config": "abc"}},
    "spec": POD_SPEC,
}


def condition(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    entry = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": "2026-12-04T16:57:32Z",
    }
    if reason:
        entry["reason"] = reason
    if message:
        entry["message"] = message
    return entry


RUNNING = {"running": {"startedAt": "2026-12-04T16:57:32Z"}}
CRASHING = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}
PULL_FAILING = {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}
CREATING = {"waiting": {"reason": "ContainerCreating"}}
EXITED = {"terminated": {"exitCode": 1, "reason": "Error", "message": "boom"}}
DONE = {"terminated": {"exitCode": 0, "reason": "Completed"}}


def pod(
    name: str,
    state: dict[str, Any],
    *,
    phase: str = "Running",
    ready: bool = False,
    labels: dict[str, str] | None = None,
    scheduled: dict[str, Any] | None = None,
    image: str = "shop/web:2",
    deleting: bool = False,
) -> dict[str, Any]:
    """Build a pod as the API server sends it, with the fields no rule reads."""
    spec = copy.deepcopy(POD_SPEC)
    spec["containers"][0]["image"] = image
    spec["nodeName"] = "node-1"
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "shop",
        "uid": f"uid-{name}",
        "resourceVersion": "132645",
        "generateName": "web-",
        "labels": {**LABELS, **(labels or {})},
        "annotations": {"checksum/config": "abc"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": True}],
        "managedFields": [{"manager": "kube-controller-manager", "fieldsV1": {"f:spec": {}}}],
    }
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-04T17:00:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {
            "phase": phase,
            "conditions": [
                condition("Ready", str(ready)),
                scheduled or condition("PodScheduled", "True"),
            ],
            "initContainerStatuses": [
                {"name": "migrate", "ready": True, "restartCount": 0, "state": DONE, "image": "m"}
            ],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": ready,
                    "restartCount": 3,
                    "state": state,
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
                    "image": image,
                    "imageID": "",
                    "started": ready,
                }
            ],
            "podIP": "10.244.0.124",
            "qosClass": "Burstable",
            "startTime": "2026-12-04T16:57:32Z",
        },
    }


UNSCHEDULABLE = condition(
    "PodScheduled", "False", "Unschedulable", "0/3 nodes are available: 3 Insufficient cpu."
)

POD_SETS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "ready": [pod("web-a", RUNNING, ready=True)],
    "crashing": [pod("web-a", RUNNING, ready=True), pod("web-b", CRASHING)],
    "pull failing": [pod("web-b", PULL_FAILING, phase="Pending")],
    "creating": [pod("web-c", CREATING, phase="Pending")],
    "exited": [pod("web-d", EXITED, phase="Failed")],
    "succeeded": [pod("web-e", DONE, phase="Succeeded")],
    "unschedulable": [
        pod("web-f", CREATING, phase="Pending", scheduled=UNSCHEDULABLE),
        pod("web-g", CREATING, phase="Pending", scheduled=UNSCHEDULABLE),
    ],
    "old template": [pod("web-h", CRASHING, image="shop/web:1")],
    "other revision": [pod("web-i", CRASHING, labels={"controller-revision-hash": "db-5b"})],
    "deleting": [pod("web-j", CRASHING, deleting=True)],
    "other app": [pod("api-a", CRASHING, labels={"app": "api"})],
}


def workload(kind: str, **status: Any) -> dict[str, Any]:
    """Build a workload of `kind` with the full pod template and the given status."""
    group = "batch/v1" if kind == "Job" else "apps/v1"
    spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(LABELS)},
        "template": copy.deepcopy(TEMPLATE),
    }
    if kind != "DaemonSet" and kind != "Job":
        spec["replicas"] = 2
    return {
        "apiVersion": group,
        "kind": kind,
        "metadata": {"name": "web", "namespace": "shop", "generation": 1, "uid": "0b1c"},
        "spec": spec,
        "status": {"observedGeneration": 1, **status},
    }


WORKLOADS: dict[str, dict[str, Any]] = {
    "deployment ready": workload(
        "Deployment",
        replicas=2,
        updatedReplicas=2,
        readyReplicas=2,
        availableReplicas=2,
        conditions=[
            condition("Available", "True"),
            condition("Progressing", "True", "NewReplicaSetAvailable"),
        ],
    ),
    "deployment rolling": workload("Deployment", replicas=2, updatedReplicas=1),
    "statefulset": workload(
        "StatefulSet", replicas=2, readyReplicas=1, updateRevision="db-6a", currentRevision="db-6a"
    ),
    "daemonset": workload("DaemonSet", desiredNumberScheduled=3, updatedNumberScheduled=1),
    "replicaset": workload("ReplicaSet", replicas=2, readyReplicas=1, availableReplicas=1),
    "job running": workload("Job", active=1),
    "job failed": workload(
        "Job", failed=1, conditions=[condition("Failed", "True", "BackoffLimitExceeded", "limit")]
    ),
}


@pytest.mark.parametrize(
    ("workload_name", "pods_name"), list(itertools.product(WORKLOADS, POD_SETS))
)
def test_cut_objects_get_same_verdict(workload_name: str, pods_name: str) -> None:
    obj = WORKLOADS[workload_name]
    pods = POD_SETS[pods_name]
    full = evaluate(obj, pods=pods)
    cut = evaluate(workload_fields(obj), pods=[pod_fields(entry) for entry in pods])
    assert cut == full


def test_verdict_table_covers_every_state() -> None:
    states = {
        evaluate(obj, pods=pods).state
        for obj, pods in itertools.product(WORKLOADS.values(), POD_SETS.values())
    }
    assert states == {State.READY, State.IN_PROGRESS, State.FAILED}


def test_pod_fields_drop_what_no_rule_reads() -> None:
    cut = pod_fields(pod("web-a", CRASHING))
    assert set(cut["metadata"]) == {"name", "namespace", "labels", "annotations"}
    assert set(cut["spec"]) == {"containers", "initContainers"}
    assert cut["spec"]["containers"] == [
        {
            "name": "app",
            "image": "shop/web:2",
            "args": ["--port", "8080"],
            "env": [{"name": "MODE", "value": "prod"}, {"name": "TOKEN"}],
        }
    ]
    assert set(cut["status"]) == {
        "phase",
        "conditions",
        "initContainerStatuses",
        "containerStatuses",
    }
    assert set(cut["status"]["containerStatuses"][0]) == {
        "name",
        "ready",
        "restartCount",
        "state",
        "lastState",
    }
    assert cut["status"]["conditions"][0] == {"type": "Ready", "status": "False"}


def test_pod_fields_keep_deletion_timestamp() -> None:
    cut = pod_fields(pod("web-j", CRASHING, deleting=True))
    assert cut["metadata"]["deletionTimestamp"] == "2026-12-04T17:00:00Z"


def test_pod_fields_leave_the_original_unchanged() -> None:
    original = pod("web-a", CRASHING)
    before = copy.deepcopy(original)
    pod_fields(original)
    assert original == before


def test_workload_fields_cut_only_template_spec() -> None:
    obj = WORKLOADS["deployment ready"]
    cut = workload_fields(obj)
    assert cut["metadata"] == obj["metadata"]
    assert cut["status"] == obj["status"]
    assert cut["spec"]["selector"] == obj["spec"]["selector"]
    assert cut["spec"]["template"]["metadata"] == TEMPLATE["metadata"]
    assert set(cut["spec"]["template"]["spec"]) == {"containers", "initContainers"}
    assert "volumes" in obj["spec"]["template"]["spec"]


@pytest.mark.parametrize(
    "annotation", ["deployer.dev/success-condition", "deployer.dev/failure-condition"]
)
def test_workload_with_condition_annotation_stays_whole(annotation: str) -> None:
    obj = workload("Deployment")
    obj["metadata"]["annotations"] = {annotation: "spec.template.spec.dnsPolicy == ClusterFirst"}
    assert workload_fields(obj) is obj


def test_other_kinds_stay_whole() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    custom = workload("Deployment")
    custom["apiVersion"] = "example.com/v1"
    assert workload_fields(config) is config
    assert workload_fields(custom) is custom


def test_project_keeps_values_of_unexpected_type() -> None:
    shape = {"spec": {"containers": [{"name": True}]}}
    assert project({"spec": "oops"}, shape) == {"spec": "oops"}
    assert project({"spec": {"containers": "oops"}}, shape) == {"spec": {"containers": "oops"}}
    assert project({"spec": {"containers": ["x", {"name": "a", "b": 1}]}}, shape) == {
        "spec": {"containers": ["x", {"name": "a"}]}
    }
