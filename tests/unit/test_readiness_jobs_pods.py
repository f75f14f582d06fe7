"""Readiness of Jobs and bare Pods over plain dicts."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.model.status import State
from deployer.readiness import evaluate

JOB_LABELS = {"batch.kubernetes.io/controller-uid": "0b1c"}


def job(*conditions: dict[str, Any], suspend: bool = False, **status: Any) -> dict[str, Any]:
    """Build a Job of 1 completion with the given conditions and status counters."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "shop", "uid": "0b1c", "generation": 1},
        "spec": {
            "completions": 1,
            "backoffLimit": 2,
            "suspend": suspend,
            "selector": {"matchLabels": JOB_LABELS},
            "template": {"spec": {"containers": [{"name": "main", "image": "migrate:1"}]}},
        },
        "status": {"conditions": list(conditions), **status},
    }


def job_pod(name: str, phase: str, container_state: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": dict(JOB_LABELS)},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main"}]},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "main", "ready": False, "state": container_state}],
        },
    }


def condition(
    kind: str, status: str = "True", reason: str = "", message: str = ""
) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def test_complete_job_is_ready() -> None:
    status = evaluate(job(condition("Complete"), succeeded=1))
    assert status.state is State.READY
    assert status.reason == "Complete"
    assert "1/1 succeeded" in status.message


def test_running_job_is_not_ready() -> None:
    status = evaluate(job(active=1))
    assert status.state is State.IN_PROGRESS
    assert status.reason == "Running"
    assert status.message == "waiting for completion: 0/1 succeeded, 1 active"


def test_new_job_without_pods_waits() -> None:
    status = evaluate(job())
    assert status.state is State.IN_PROGRESS
    assert status.reason == "WaitingForPods"


def test_job_backoff_limit_exceeded_fails_at_once() -> None:
    reached = condition(
        "Failed",
        reason="BackoffLimitExceeded",
        message="Job has reached the specified backoff limit",
    )
    failed_pod = job_pod(
        "migrate-x", "Failed", {"terminated": {"exitCode": 3, "reason": "Error", "message": "boom"}}
    )
    status = evaluate(job(reached, failed=3, active=0), pods=[failed_pod])
    assert status.state is State.FAILED
    assert status.reason == "BackoffLimitExceeded"
    assert status.message.startswith("Job has reached the specified backoff limit")
    assert "pod migrate-x container main: Error: boom (last exit code 3)" in status.message


def test_job_failed_names_crashing_pod_when_none_failed() -> None:
    # With restartPolicy OnFailure, failures are container restarts in a Running pod.
    reached = condition("Failed", reason="BackoffLimitExceeded", message="backoff limit")
    crashing = job_pod(
        "migrate-r", "Running", {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}
    )
    status = evaluate(job(reached, failed=1), pods=[crashing])
    assert status.message == (
        "backoff limit; pod migrate-r container main: CrashLoopBackOff: back-off"
    )


def test_job_failure_target_fails_before_failed_condition() -> None:
    target = condition("FailureTarget", reason="DeadlineExceeded", message="Job was active longer")
    status = evaluate(job(target, active=1))
    assert status.state is State.FAILED
    assert status.reason == "DeadlineExceeded"


def test_job_failed_condition_false_is_not_failure() -> None:
    status = evaluate(job(condition("Failed", status="False"), active=1))
    assert status.state is State.IN_PROGRESS


def test_suspended_job_is_in_progress_with_reason() -> None:
    status = evaluate(job(suspend=True))
    assert status.state is State.IN_PROGRESS
    assert status.reason == "Suspended"
    assert "spec.suspend" in status.message


def test_job_suspended_condition_is_in_progress() -> None:
    status = evaluate(job(condition("Suspended", reason="JobSuspended")))
    assert status.reason == "Suspended"


def test_job_with_image_pull_backoff_fails_at_once() -> None:
    pulling = job_pod(
        "migrate-y", "Pending", {"waiting": {"reason": "ImagePullBackOff", "message": "no such"}}
    )
    status = evaluate(job(active=1), pods=[pulling])
    assert status.state is State.FAILED
    assert status.reason == "ImagePullBackOff"
    assert "pod migrate-y container main" in status.message


def test_job_with_crashlooping_pod_keeps_waiting() -> None:
    crashing = job_pod("migrate-z", "Running", {"waiting": {"reason": "CrashLoopBackOff"}})
    status = evaluate(job(active=1, failed=1), pods=[crashing])
    assert status.state is State.IN_PROGRESS
    assert "1 failed (backoff limit 2)" in status.message
    assert "CrashLoopBackOff" in status.message


def test_job_ignores_pods_of_other_jobs() -> None:
    other = job_pod("other-a", "Pending", {"waiting": {"reason": "ImagePullBackOff"}})
    other["metadata"]["labels"] = {"batch.kubernetes.io/controller-uid": "ffff"}
    assert evaluate(job(active=1), pods=[other]).state is State.IN_PROGRESS


def test_work_queue_job_counts_without_completions() -> None:
    obj = job(active=2, succeeded=1)
    obj["spec"]["completions"] = None
    assert evaluate(obj).message == "waiting for completion: 1 succeeded, 2 active"


def pod(phase: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "tool", "namespace": "shop"},
        "spec": {"containers": [{"name": "main"}]},
        "status": {"phase": phase, **status},
    }


def running(ready: bool, **container_state: Any) -> dict[str, Any]:
    return pod(
        "Running",
        conditions=[condition("PodScheduled"), condition("Ready", str(ready))],
        containerStatuses=[
            {"name": "main", "ready": ready, "state": container_state or {"running": {}}}
        ],
    )


@pytest.mark.parametrize(
    ("obj", "state", "reason"),
    [
        (pod("Succeeded"), State.READY, "Succeeded"),
        (running(True), State.READY, "Ready"),
        (running(False), State.IN_PROGRESS, "ContainersNotReady"),
        (pod("Pending"), State.IN_PROGRESS, "Pending"),
        (pod("Unknown"), State.IN_PROGRESS, "Unknown"),
        (pod("Failed", reason="Evicted", message="low on memory"), State.FAILED, "Evicted"),
        (running(False, waiting={"reason": "CrashLoopBackOff"}), State.FAILED, "CrashLoopBackOff"),
        (running(False, waiting={"reason": "ErrImagePull"}), State.FAILED, "ErrImagePull"),
        (running(False, waiting={"reason": "ImagePullBackOff"}), State.FAILED, "ImagePullBackOff"),
    ],
)
def test_pod_phase_table(obj: dict[str, Any], state: State, reason: str) -> None:
    status = evaluate(obj)
    assert status.state is state
    assert status.reason == reason


def test_failed_pod_without_reason_names_exit_code() -> None:
    obj = pod(
        "Failed",
        containerStatuses=[
            {"name": "main", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}
        ],
    )
    status = evaluate(obj)
    assert status.state is State.FAILED
    assert status.reason == "Error"
    assert "last exit code 2" in status.message


def test_unschedulable_pod_is_in_progress_with_reason() -> None:
    unschedulable = condition(
        "PodScheduled", "False", "Unschedulable", "0/3 nodes are available: 3 node(s) had taints."
    )
    status = evaluate(pod("Pending", conditions=[unschedulable]))
    assert status.state is State.IN_PROGRESS
    assert status.reason == "Unschedulable"
    assert "0/3 nodes are available" in status.message


def test_scheduled_pending_pod_waits_for_containers() -> None:
    status = evaluate(pod("Pending", conditions=[condition("PodScheduled")]))
    assert status.message == "waiting for containers to start"


def test_unready_pod_names_container() -> None:
    status = evaluate(running(False))
    assert status.message == "containers not ready: main"
