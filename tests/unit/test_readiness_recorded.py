"""Verdicts on statuses written by a real control plane.

The status blocks below were read from Kubernetes 1.37.2 (kube-controller-manager, with
kwok simulating the kubelet) and trimmed to the fields the rules read. They pin the rules
to what the controllers really write, such as the FailureTarget condition that precedes
Failed on a Job and the `terminatingReplicas` count on a Deployment.
"""

from __future__ import annotations

from typing import Any

from deployer.model.status import State
from deployer.readiness import evaluate

JOB_UID = "db5b6ecc-1288-45eb-8f20-be60660c7a85"
JOB_LABELS = {"batch.kubernetes.io/controller-uid": JOB_UID, "job-name": "bad"}


def job(name: str, spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "rdy", "uid": JOB_UID, "generation": 1},
        "spec": {
            "backoffLimit": 1,
            "completions": 1,
            "parallelism": 1,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": JOB_UID}},
            **spec,
        },
        "status": status,
    }


def job_condition(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "lastProbeTime": "2026-12-04T04:29:29Z",
        "lastTransitionTime": "2026-12-04T04:29:29Z",
        "message": message,
        "reason": reason,
        "status": "True",
        "type": kind,
    }


def job_pod(phase: str, container_state: dict[str, Any]) -> dict[str, Any]:
    ready_reason = "PodCompleted" if phase == "Failed" else "ContainersNotReady"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad-ft8fb", "namespace": "rdy", "labels": dict(JOB_LABELS)},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "m:1"}]},
        "status": {
            "phase": phase,
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "PodScheduled", "status": "True"},
                {"type": "ContainersReady", "status": "False", "reason": ready_reason},
                {"type": "Ready", "status": "False", "reason": ready_reason},
            ],
            "containerStatuses": [
                {
                    "lastState": {},
                    "name": "main",
                    "ready": False,
                    "restartCount": 0,
                    "state": container_state,
                }
            ],
        },
    }


def test_recorded_job_backoff_limit_fails_with_pod_output() -> None:
    limit = "Job has reached the specified backoff limit"
    status = {
        "conditions": [
            job_condition("FailureTarget", "BackoffLimitExceeded", limit),
            job_condition("Failed", "BackoffLimitExceeded", limit),
        ],
        "failed": 2,
        "ready": 0,
        "startTime": "2026-12-04T04:29:18Z",
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }
    terminated = {
        "terminated": {"exitCode": 3, "message": "boom", "reason": "Error"},
    }
    verdict = evaluate(job("bad", {}, status), pods=[job_pod("Failed", terminated)])
    assert verdict.state is State.FAILED
    assert verdict.reason == "BackoffLimitExceeded"
    assert (
        verdict.message == f"{limit}; pod bad-ft8fb container main: Error: boom (last exit code 3)"
    )


def test_recorded_job_complete_is_ready() -> None:
    reached = "Reached expected number of succeeded pods"
    status = {
        "completionTime": "2026-12-04T04:29:19Z",
        "conditions": [
            job_condition("SuccessCriteriaMet", "CompletionsReached", reached),
            job_condition("Complete", "CompletionsReached", reached),
        ],
        "ready": 0,
        "succeeded": 1,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }
    verdict = evaluate(job("ok", {}, status))
    assert verdict.state is State.READY
    assert verdict.message == "completed: 1/1 succeeded"


def test_recorded_suspended_job_waits() -> None:
    status = {
        "conditions": [job_condition("Suspended", "JobSuspended", "Job suspended")],
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }
    verdict = evaluate(job("held", {"suspend": True}, status))
    assert verdict.state is State.IN_PROGRESS
    assert verdict.reason == "Suspended"


def test_recorded_job_with_unpullable_image_fails() -> None:
    status = {"active": 1, "ready": 0, "startTime": "2026-12-04T04:31:06Z", "terminating": 0}
    waiting = {
        "waiting": {
            "message": 'Back-off pulling image "nope:1" (simulated)',
            "reason": "ImagePullBackOff",
        }
    }
    verdict = evaluate(job("pulljob", {}, status), pods=[job_pod("Pending", waiting)])
    assert verdict.state is State.FAILED
    assert verdict.reason == "ImagePullBackOff"
    assert 'Back-off pulling image "nope:1"' in verdict.message


def deployment(status: dict[str, Any], image: str = "shop/web:3") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "good",
            "namespace": "rdy",
            "generation": status["observedGeneration"],
        },
        "spec": {
            "replicas": 3,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "good"}},
            "template": {
                "metadata": {"labels": {"app": "good"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
        "status": status,
    }


def web_pod(name: str, image: str, ready: bool) -> dict[str, Any]:
    flag = "True" if ready else "False"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "rdy",
            "labels": {"app": "good", "pod-template-hash": name.split("-")[1]},
        },
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "ContainersReady", "status": flag},
                {"type": "Ready", "status": flag},
            ],
            "containerStatuses": [
                {"name": "app", "ready": ready, "restartCount": 0, "state": {"running": {}}}
            ],
        },
    }


def test_recorded_deployment_mid_rollout_waits_for_updates() -> None:
    status = {
        "availableReplicas": 3,
        "conditions": [
            {
                "message": "Deployment has minimum availability.",
                "reason": "MinimumReplicasAvailable",
                "status": "True",
                "type": "Available",
            },
            {
                "message": 'ReplicaSet "good-7d469c868" is progressing.',
                "reason": "ReplicaSetUpdated",
                "status": "True",
                "type": "Progressing",
            },
        ],
        "observedGeneration": 2,
        "readyReplicas": 3,
        "replicas": 4,
        "terminatingReplicas": 0,
        "unavailableReplicas": 1,
        "updatedReplicas": 1,
    }
    pods = [
        web_pod("good-59b8d85497-56cn5", "shop/web:2", ready=True),
        web_pod("good-59b8d85497-g6fqj", "shop/web:2", ready=True),
        web_pod("good-59b8d85497-hjpcf", "shop/web:2", ready=True),
        web_pod("good-7d469c868-tpbvl", "shop/web:3", ready=False),
    ]
    verdict = evaluate(deployment(status), pods=pods)
    assert verdict.state is State.IN_PROGRESS
    assert verdict.message == "waiting for rollout: 1/3 replicas updated"


def test_recorded_deployment_progress_deadline_fails() -> None:
    status = {
        "conditions": [
            {
                "message": "Deployment does not have minimum availability.",
                "reason": "MinimumReplicasUnavailable",
                "status": "False",
                "type": "Available",
            },
            {
                "message": 'ReplicaSet "unready-75cf5577f8" has timed out progressing.',
                "reason": "ProgressDeadlineExceeded",
                "status": "False",
                "type": "Progressing",
            },
        ],
        "observedGeneration": 1,
        "replicas": 1,
        "terminatingReplicas": 0,
        "unavailableReplicas": 1,
        "updatedReplicas": 1,
    }
    verdict = evaluate(deployment(status))
    assert verdict.state is State.FAILED
    assert verdict.reason == "ProgressDeadlineExceeded"
    assert verdict.message == (
        "Progressing=False (ProgressDeadlineExceeded):"
        ' ReplicaSet "unready-75cf5577f8" has timed out progressing.'
    )
