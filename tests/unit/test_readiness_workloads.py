"""Readiness of Deployments, StatefulSets, DaemonSets and ReplicaSets over plain dicts."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.model.status import State
from deployer.readiness import evaluate

LABELS = {"app": "web"}
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": LABELS},
    "spec": {"containers": [{"name": "app", "image": "shop/web:2"}]},
}
AVAILABLE = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
ROLLED_OUT = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}


def deployment(**status: Any) -> dict[str, Any]:
    """Build a rolled-out Deployment of `want` (3) replicas; `status` overrides status fields."""
    spec_fields: dict[str, Any] = {"replicas": status.pop("want", 3)}
    if "paused" in status:
        spec_fields["paused"] = status.pop("paused")
    generation = status.pop("generation", 2)
    body: dict[str, Any] = {
        "observedGeneration": 2,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "conditions": [AVAILABLE, ROLLED_OUT],
    }
    body.update(status)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": {"selector": {"matchLabels": LABELS}, "template": TEMPLATE, **spec_fields},
        "status": body,
    }


def pod(
    name: str,
    *,
    image: str = "shop/web:2",
    waiting: str | None = None,
    message: str = "",
    labels: dict[str, str] | None = None,
    restarts: int = 0,
    ready: bool = True,
) -> dict[str, Any]:
    """Build a pod of the web workload, running, or with its container waiting."""
    state: dict[str, Any] = {"running": {}}
    if waiting:
        state = {"waiting": {"reason": waiting, "message": message}}
        ready = False
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": labels or dict(LABELS)},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": str(ready)}],
            "containerStatuses": [
                {"name": "app", "ready": ready, "restartCount": restarts, "state": state}
            ],
        },
    }


def test_rolled_out_deployment_is_ready() -> None:
    status = evaluate(deployment())
    assert status.state is State.READY
    assert status.message == "3/3 replicas ready"


@pytest.mark.parametrize(
    ("changes", "reason", "message"),
    [
        ({"updatedReplicas": 1}, "RolloutInProgress", "waiting for rollout: 1/3 replicas updated"),
        (
            {"replicas": 4},
            "RolloutInProgress",
            "waiting for rollout: 1 old replica pending termination",
        ),
        (
            {"replicas": 5},
            "RolloutInProgress",
            "waiting for rollout: 2 old replicas pending termination",
        ),
        ({"readyReplicas": 2}, "ReplicasNotReady", "2/3 replicas ready"),
        ({"availableReplicas": 2}, "ReplicasNotAvailable", "2/3 replicas available"),
        ({"conditions": [ROLLED_OUT]}, "NotAvailable", "waiting for condition Available"),
        (
            {"conditions": [AVAILABLE, {**ROLLED_OUT, "reason": "ReplicaSetUpdated"}]},
            "RolloutInProgress",
            "Progressing is ReplicaSetUpdated",
        ),
        ({"observedGeneration": 1}, "GenerationNotObserved", "observe generation 2"),
    ],
)
def test_deployment_not_rolled_out_names_what_is_missing(
    changes: dict[str, Any], reason: str, message: str
) -> None:
    status = evaluate(deployment(**changes))
    assert status.state is State.IN_PROGRESS
    assert status.reason == reason
    assert message in status.message


def test_new_deployment_without_status_is_in_progress() -> None:
    obj = deployment()
    obj["status"] = {}
    status = evaluate(obj)
    assert status.state is State.IN_PROGRESS
    assert status.reason == "GenerationNotObserved"


def test_deployment_scaled_to_zero_is_ready() -> None:
    obj = deployment(want=0, replicas=0, updatedReplicas=0, readyReplicas=0, availableReplicas=0)
    assert evaluate(obj).state is State.READY


def test_deployment_progress_deadline_exceeded_fails() -> None:
    stuck = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "web-5d9" has timed out progressing.',
    }
    status = evaluate(deployment(readyReplicas=1, conditions=[AVAILABLE, stuck]))
    assert status.state is State.FAILED
    assert status.reason == "ProgressDeadlineExceeded"
    assert "timed out progressing" in status.message


@pytest.mark.parametrize(
    "reason",
    [
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "InvalidImageName",
    ],
)
def test_deployment_with_crashlooping_pod_fails_with_pod_reason(reason: str) -> None:
    pods = [
        pod("web-a"),
        pod("web-b", waiting=reason, message="back-off 40s restarting", restarts=4),
    ]
    status = evaluate(deployment(readyReplicas=2, availableReplicas=2), pods=pods)
    assert status.state is State.FAILED
    assert status.reason == reason
    assert "pod web-b" in status.message
    assert "container app" in status.message
    assert reason in status.message
    assert "back-off 40s restarting" in status.message


def test_deployment_ignores_crashing_pods_of_old_template() -> None:
    old = pod("web-old", image="shop/web:1", waiting="CrashLoopBackOff")
    status = evaluate(deployment(readyReplicas=2, availableReplicas=2), pods=[old, pod("web-a")])
    assert status.state is State.IN_PROGRESS


def test_deployment_ignores_crashing_pods_outside_selector() -> None:
    other = pod("db-0", waiting="CrashLoopBackOff", labels={"app": "db"})
    assert evaluate(deployment(), pods=[other]).state is State.READY


def test_deployment_starting_container_is_not_failure() -> None:
    starting = pod("web-c", waiting="ContainerCreating")
    status = evaluate(deployment(readyReplicas=2, availableReplicas=2), pods=[starting])
    assert status.state is State.IN_PROGRESS


def test_deployment_waiting_names_unschedulable_pod() -> None:
    pending = {
        "metadata": {"name": "web-c", "namespace": "shop", "labels": dict(LABELS)},
        "spec": TEMPLATE["spec"],
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient cpu.",
                }
            ],
        },
    }
    status = evaluate(deployment(readyReplicas=2, availableReplicas=2), pods=[pending])
    assert status.state is State.IN_PROGRESS
    assert status.message.startswith("2/3 replicas ready; ")
    assert "pod web-c is unschedulable: 0/3 nodes are available" in status.message


def test_paused_deployment_says_paused() -> None:
    status = evaluate(deployment(paused=True, updatedReplicas=0))
    assert status.state is State.IN_PROGRESS
    assert status.reason == "Paused"
    assert "rollout paused" in status.message
    assert "0/3 replicas updated" in status.message
    assert "kubectl rollout resume" in status.message


def test_paused_deployment_fully_rolled_out_is_ready() -> None:
    paused = {**ROLLED_OUT, "status": "Unknown", "reason": "DeploymentPaused"}
    status = evaluate(deployment(paused=True, conditions=[AVAILABLE, paused]))
    assert status.state is State.READY
    assert "paused" in status.message


def statefulset(strategy: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    """Build a StatefulSet of 3 replicas, fully rolled out unless `status` sets other values."""
    body: dict[str, Any] = {
        "observedGeneration": 4,
        "replicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "updatedReplicas": 3,
        "currentReplicas": 3,
        "currentRevision": "db-7f",
        "updateRevision": "db-7f",
    }
    body.update(status)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop", "generation": 4},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": LABELS},
            "template": TEMPLATE,
            "updateStrategy": strategy or {"type": "RollingUpdate"},
        },
        "status": body,
    }


def test_rolled_out_statefulset_is_ready() -> None:
    assert evaluate(statefulset()).state is State.READY


def test_statefulset_on_delete_ignores_revisions() -> None:
    obj = statefulset(
        {"type": "OnDelete"}, updatedReplicas=0, currentRevision="db-6a", updateRevision="db-7f"
    )
    assert evaluate(obj).state is State.READY


def test_statefulset_on_delete_waits_for_ready_replicas() -> None:
    status = evaluate(statefulset({"type": "OnDelete"}, readyReplicas=1))
    assert status.state is State.IN_PROGRESS
    assert status.message == "1/3 replicas ready"


def test_statefulset_on_delete_waits_for_observed_generation() -> None:
    status = evaluate(statefulset({"type": "OnDelete"}, observedGeneration=3))
    assert status.state is State.IN_PROGRESS
    assert status.reason == "GenerationNotObserved"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"readyReplicas": 2}, "2/3 replicas ready"),
        ({"availableReplicas": 2}, "2/3 replicas available"),
        ({"updatedReplicas": 1}, "waiting for rollout: 1/3 replicas updated"),
        ({"currentRevision": "db-6a"}, "waiting for rollout: revision db-7f to replace db-6a"),
        ({"replicas": 4}, "waiting for scale-down: 1 replica pending termination"),
    ],
)
def test_statefulset_rolling_update_names_what_is_missing(
    changes: dict[str, Any], message: str
) -> None:
    status = evaluate(statefulset(**changes))
    assert status.state is State.IN_PROGRESS
    assert status.message == message


def test_statefulset_partition_needs_only_replicas_above_it_updated() -> None:
    partitioned = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    done = statefulset(partitioned, updatedReplicas=1, currentRevision="db-6a")
    assert evaluate(done).state is State.READY


def test_statefulset_partition_waits_for_replicas_above_it() -> None:
    partitioned = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    status = evaluate(statefulset(partitioned, updatedReplicas=1, currentRevision="db-6a"))
    assert status.state is State.IN_PROGRESS
    assert "1/2 replicas at or above partition 1 updated" in status.message


def test_statefulset_with_crashlooping_pod_fails() -> None:
    pods = [pod("db-0"), pod("db-1", waiting="CrashLoopBackOff", message="back-off 20s")]
    status = evaluate(statefulset(readyReplicas=1), pods=pods)
    assert status.state is State.FAILED
    assert status.reason == "CrashLoopBackOff"
    assert "pod db-1 container app" in status.message


def test_statefulset_broken_old_revision_pod_says_delete_it() -> None:
    # After a bad template is reverted, the pod made from it keeps crashing: the controller
    # waits for it to become Ready before rolling further.
    broken = pod(
        "db-1", waiting="CrashLoopBackOff", labels={**LABELS, "controller-revision-hash": "db-bad"}
    )
    fine = pod("db-0", labels={**LABELS, "controller-revision-hash": "db-7f"})
    status = evaluate(statefulset(readyReplicas=1), pods=[fine, broken])
    assert status.state is State.FAILED
    assert "the pod runs revision db-bad, not db-7f" in status.message
    assert status.message.endswith("delete pod db-1 to let it roll out")


def test_statefulset_broken_current_revision_pod_has_no_hint() -> None:
    broken = pod(
        "db-1", waiting="CrashLoopBackOff", labels={**LABELS, "controller-revision-hash": "db-7f"}
    )
    status = evaluate(statefulset(readyReplicas=1), pods=[broken])
    assert status.state is State.FAILED
    assert "delete pod" not in status.message


def daemonset(strategy: str = "RollingUpdate", **status: Any) -> dict[str, Any]:
    """Build a DaemonSet on 3 nodes, fully rolled out unless `status` sets other values."""
    body: dict[str, Any] = {
        "observedGeneration": 1,
        "desiredNumberScheduled": 3,
        "currentNumberScheduled": 3,
        "updatedNumberScheduled": 3,
        "numberReady": 3,
        "numberAvailable": 3,
    }
    body.update(status)
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "shop", "generation": 1},
        "spec": {
            "selector": {"matchLabels": LABELS},
            "template": TEMPLATE,
            "updateStrategy": {"type": strategy},
        },
        "status": body,
    }


def test_rolled_out_daemonset_is_ready() -> None:
    status = evaluate(daemonset())
    assert status.state is State.READY
    assert status.message == "3/3 pods ready"


def test_daemonset_with_no_desired_pods_is_ready() -> None:
    obj = daemonset(
        desiredNumberScheduled=0,
        currentNumberScheduled=0,
        updatedNumberScheduled=0,
        numberReady=0,
        numberAvailable=0,
    )
    assert evaluate(obj).state is State.READY


def test_daemonset_without_observed_generation_is_in_progress() -> None:
    obj = daemonset()
    del obj["status"]["observedGeneration"]
    status = evaluate(obj)
    assert status.state is State.IN_PROGRESS
    assert status.reason == "GenerationNotObserved"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"updatedNumberScheduled": 2}, "waiting for rollout: 2/3 pods updated"),
        ({"currentNumberScheduled": 2}, "2/3 pods scheduled"),
        ({"numberReady": 1}, "1/3 pods ready"),
        ({"numberAvailable": 0}, "0/3 pods available"),
    ],
)
def test_daemonset_names_what_is_missing(changes: dict[str, Any], message: str) -> None:
    status = evaluate(daemonset(**changes))
    assert status.state is State.IN_PROGRESS
    assert status.message == message


def test_daemonset_on_delete_ignores_updated_count() -> None:
    assert evaluate(daemonset("OnDelete", updatedNumberScheduled=0)).state is State.READY


def test_daemonset_with_image_pull_failure_fails() -> None:
    pods = [pod("agent-x", waiting="ImagePullBackOff", message='Back-off pulling "shop/web:2"')]
    status = evaluate(daemonset(numberReady=2, numberAvailable=2), pods=pods)
    assert status.state is State.FAILED
    assert status.reason == "ImagePullBackOff"
    assert "pod agent-x" in status.message


def replicaset(**status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "observedGeneration": 1,
        "replicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    body.update(status)
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-5d9", "namespace": "shop", "generation": 1},
        "spec": {"replicas": 2, "selector": {"matchLabels": LABELS}, "template": TEMPLATE},
        "status": body,
    }


@pytest.mark.parametrize(
    ("changes", "state", "message"),
    [
        ({}, State.READY, "2/2 replicas ready"),
        ({"readyReplicas": 1}, State.IN_PROGRESS, "1/2 replicas ready"),
        ({"availableReplicas": 1}, State.IN_PROGRESS, "1/2 replicas available"),
        ({"replicas": 3}, State.IN_PROGRESS, "waiting for scale-down: 1 replica pending"),
    ],
)
def test_replicaset_counts_ready_and_available(
    changes: dict[str, Any], state: State, message: str
) -> None:
    status = evaluate(replicaset(**changes))
    assert status.state is state
    assert message in status.message


def test_replicaset_names_replica_failure() -> None:
    quota = {
        "type": "ReplicaFailure",
        "status": "True",
        "reason": "FailedCreate",
        "message": "pods is forbidden: exceeded quota",
    }
    status = evaluate(replicaset(readyReplicas=1, availableReplicas=1, conditions=[quota]))
    assert status.state is State.IN_PROGRESS
    assert "exceeded quota" in status.message


def test_replicaset_with_crashlooping_pod_fails() -> None:
    status = evaluate(replicaset(readyReplicas=1), pods=[pod("web-5d9-a", waiting="ErrImagePull")])
    assert status.state is State.FAILED
    assert status.reason == "ErrImagePull"
