"""Which pods count as a workload's current revision, and ReplicaFailure verdicts."""

from __future__ import annotations

import copy
from typing import Any

from deployer.model.status import State
from deployer.readiness import PERSISTENT_REASONS, evaluate
from deployer.readiness.projection import replica_set_fields, workload_fields
from deployer.readiness.selection import (
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
    TEMPLATE_GENERATION_ANNOTATION,
    TEMPLATE_GENERATION_LABEL,
    current_replica_set,
)

LABELS = {"app": "web"}
UID = "d-1"


def template(sim: str | None = None, cpu: str = "100m") -> dict[str, Any]:
    annotations = {"deployer.dev/sim": sim} if sim else {}
    return {
        "metadata": {"labels": dict(LABELS), "annotations": annotations},
        "spec": {
            "containers": [
                {"name": "app", "image": "shop/web:2", "resources": {"requests": {"cpu": cpu}}}
            ]
        },
    }


def deployment(
    pod_template: dict[str, Any], *, revision: str = "2", want: int = 2
) -> dict[str, Any]:
    """Build a Deployment whose controller has observed its spec but not rolled it out."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": UID,
            "generation": 2,
            "annotations": {REVISION_ANNOTATION: revision},
        },
        "spec": {"replicas": want, "selector": {"matchLabels": LABELS}, "template": pod_template},
        "status": {"observedGeneration": 2, "replicas": want, "updatedReplicas": 0},
    }


def replica_set(pod_template: dict[str, Any], hash_value: str, revision: str) -> dict[str, Any]:
    labelled = copy.deepcopy(pod_template)
    labelled["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL] = hash_value
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"web-{hash_value}",
            "namespace": "shop",
            "labels": {**LABELS, POD_TEMPLATE_HASH_LABEL: hash_value},
            "annotations": {REVISION_ANNOTATION: revision},
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": UID}],
        },
        "spec": {
            "selector": {"matchLabels": {**LABELS, POD_TEMPLATE_HASH_LABEL: hash_value}},
            "template": labelled,
        },
    }


def pod(name: str, labels: dict[str, str], *, crashing: bool) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {}}
    if crashing:
        state = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {**LABELS, **labels}},
        "spec": {"containers": [{"name": "app", "image": "shop/web:2"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": str(not crashing)}],
            "containerStatuses": [
                {"name": "app", "ready": not crashing, "restartCount": 3, "state": state}
            ],
        },
    }


BROKEN = template(sim="crashloop")
FIXED = template()
OLD_SET = replica_set(BROKEN, "aaa", "1")
NEW_SET = replica_set(FIXED, "bbb", "2")
OLD_POD = pod("web-aaa-1", {POD_TEMPLATE_HASH_LABEL: "aaa"}, crashing=True)


def test_deployment_ignores_old_replica_set_pods() -> None:
    # The fix removes an annotation, so the old pods carry every label and annotation of
    # the new template, and only the ReplicaSet tells them apart.
    status = evaluate(deployment(FIXED), pods=[OLD_POD], replica_sets=[OLD_SET, NEW_SET])
    assert status.state is State.IN_PROGRESS


def test_deployment_ignores_old_pods_after_resource_change() -> None:
    bigger = template(sim="crashloop", cpu="200m")
    current = replica_set(bigger, "ccc", "2")
    status = evaluate(deployment(bigger), pods=[OLD_POD], replica_sets=[OLD_SET, current])
    assert status.state is State.IN_PROGRESS


def test_deployment_fails_on_current_replica_set_pod() -> None:
    new_pod = pod("web-bbb-1", {POD_TEMPLATE_HASH_LABEL: "bbb"}, crashing=True)
    status = evaluate(deployment(FIXED), pods=[OLD_POD, new_pod], replica_sets=[OLD_SET, NEW_SET])
    assert status.state is State.FAILED
    assert "pod web-bbb-1" in status.message


def test_deployment_scaling_sync_with_stale_revision() -> None:
    # A scale and a template change in one apply: the controller syncs the scale first,
    # so observedGeneration catches up while the revision still names the old set.
    status = evaluate(deployment(FIXED, revision="1"), pods=[OLD_POD], replica_sets=[OLD_SET])
    assert status.state is State.IN_PROGRESS


def test_deployment_without_replica_sets_uses_template() -> None:
    # Without ReplicaSets, the old pod still looks current: the limit that the
    # ReplicaSet lookup removes.
    status = evaluate(deployment(FIXED), pods=[OLD_POD])
    assert status.state is State.FAILED


def test_current_replica_set_prefers_newest_revision() -> None:
    twin = replica_set(FIXED, "ddd", "3")
    assert current_replica_set(deployment(FIXED), [NEW_SET, twin]) is twin


def test_current_replica_set_needs_owner() -> None:
    stranger = copy.deepcopy(NEW_SET)
    stranger["metadata"]["ownerReferences"] = [{"kind": "Deployment", "uid": "other"}]
    assert current_replica_set(deployment(FIXED), [stranger]) is None


def test_projected_objects_keep_template_match() -> None:
    cut_deployment = workload_fields(deployment(FIXED))
    cut_sets = [replica_set_fields(OLD_SET), replica_set_fields(NEW_SET)]
    assert "template" not in cut_sets[0]["spec"]
    assert current_replica_set(cut_deployment, cut_sets) == cut_sets[1]


def daemonset(strategy: str, generation: str = "2") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "agent",
            "namespace": "shop",
            "generation": 2,
            "annotations": {TEMPLATE_GENERATION_ANNOTATION: generation},
        },
        "spec": {
            "selector": {"matchLabels": LABELS},
            "template": FIXED,
            "updateStrategy": {"type": strategy},
        },
        "status": {
            "observedGeneration": 2,
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 2,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "numberAvailable": 2,
        },
    }


OLD_AGENT = pod("agent-x", {TEMPLATE_GENERATION_LABEL: "1"}, crashing=True)


def test_daemonset_rolling_update_ignores_old_generation_pods() -> None:
    assert evaluate(daemonset("RollingUpdate"), pods=[OLD_AGENT]).state is State.IN_PROGRESS


def test_daemonset_fails_on_current_generation_pod() -> None:
    current = pod("agent-y", {TEMPLATE_GENERATION_LABEL: "2"}, crashing=True)
    assert evaluate(daemonset("RollingUpdate"), pods=[current]).state is State.FAILED


def test_daemonset_on_delete_counts_old_pods() -> None:
    # OnDelete never replaces the old pod, so its crash loop does not end by itself.
    assert evaluate(daemonset("OnDelete"), pods=[OLD_AGENT]).state is State.FAILED


def statefulset(policy: str, partition: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop", "generation": 2},
        "spec": {
            "replicas": 3,
            "podManagementPolicy": policy,
            "selector": {"matchLabels": LABELS},
            "template": FIXED,
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"partition": partition},
            },
        },
        "status": {
            "observedGeneration": 2,
            "replicas": 3,
            "readyReplicas": 2,
            "updatedReplicas": 2,
            "currentRevision": "db-old",
            "updateRevision": "db-new",
        },
    }


def _db_pod(ordinal: int) -> dict[str, Any]:
    return pod(f"db-{ordinal}", {"controller-revision-hash": "db-old"}, crashing=True)


def test_parallel_statefulset_ignores_old_revision_pod() -> None:
    assert evaluate(statefulset("Parallel"), pods=[_db_pod(0)]).state is State.IN_PROGRESS


def test_parallel_statefulset_counts_pods_below_partition() -> None:
    status = evaluate(statefulset("Parallel", partition=2), pods=[_db_pod(1)])
    assert status.state is State.FAILED


def test_ordered_statefulset_counts_old_revision_pod() -> None:
    status = evaluate(statefulset("OrderedReady"), pods=[_db_pod(0)])
    assert status.state is State.FAILED
    assert "delete pod db-0" in status.message


def test_replica_failure_gives_failed_create_reason() -> None:
    obj = deployment(FIXED)
    obj["status"]["conditions"] = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "message": 'pods "web-bbb-" is forbidden: serviceaccount "nosuch" not found',
        }
    ]
    status = evaluate(obj, pods=[], replica_sets=[NEW_SET])
    assert status.state is State.IN_PROGRESS
    assert status.reason == "FailedCreate"
    assert 'serviceaccount "nosuch" not found' in status.message
    assert PERSISTENT_REASONS["FailedCreate"] == 30.0
