"""Readiness of a Job: ready only once it completed, failed as soon as it is bound to fail.

Unlike kstatus, a running Job is not ready: the objects of a later wave usually need the
Job's work (a schema migration, a seeded bucket) done, not merely started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deployer.model.status import Status
from deployer.readiness.facts import Facts, failed, in_progress, ready
from deployer.readiness.fields import condition, condition_is, integer, spec, status
from deployer.readiness.pods import (
    IMAGE_AND_CONFIG_REASONS,
    container_problems,
    first_failure,
    unschedulable,
)
from deployer.readiness.selection import select_pods


def _failed_pod_detail(pods: Sequence[Mapping[str, Any]]) -> str:
    """Describe the first container problem of the Job's pods, failed pods first."""
    ordered = sorted(pods, key=lambda pod: status(pod).get("phase") != "Failed")
    for pod in ordered:
        problems = container_problems(pod)
        if problems:
            return f"; {problems[0]}"
    return ""


def _progress(obj: Mapping[str, Any]) -> str:
    """Format the Job's counters: `0/3 succeeded, 1 active, 2 failed (backoff limit 6)`."""
    state = status(obj)
    succeeded = integer(state.get("succeeded"))
    completions = spec(obj).get("completions")
    text = f"{succeeded}/{completions} succeeded" if completions else f"{succeeded} succeeded"
    active = integer(state.get("active"))
    if active:
        text += f", {active} active"
    failures = integer(state.get("failed"))
    if failures:
        limit = spec(obj).get("backoffLimit")
        text += f", {failures} failed"
        if limit is not None:
            text += f" (backoff limit {limit})"
    return text


def job(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready on Complete=True; failed on Failed=True or FailureTarget=True, or bad images."""
    pods = select_pods(obj, facts.pods)
    # FailureTarget (Kubernetes 1.31+) is set as soon as the controller decides the Job
    # fails, while its pods may still be terminating; Failed follows once they are gone.
    for kind in ("Failed", "FailureTarget"):
        entry = condition(obj, kind)
        if entry is not None and entry.get("status") == "True":
            message = str(entry.get("message") or "Job failed")
            return failed(str(entry.get("reason") or kind), message + _failed_pod_detail(pods))
    if condition_is(obj, "Complete", "True"):
        return ready("Complete", f"completed: {_progress(obj)}")

    # A pod stuck pulling its image stays Pending and never counts as failed, so the backoff
    # limit does not end the Job; only spec.activeDeadlineSeconds would.
    problem = first_failure(pods, IMAGE_AND_CONFIG_REASONS)
    if problem is not None:
        return failed(problem.reason, str(problem))
    if spec(obj).get("suspend") is True or condition_is(obj, "Suspended", "True"):
        return in_progress("Suspended", "Job is suspended; set spec.suspend to false to run it")

    message = f"waiting for completion: {_progress(obj)}"
    hint = first_failure(pods) or next((text for text in map(unschedulable, pods) if text), None)
    if hint is not None:
        message += f"; {hint}"
    reason = "Running" if integer(status(obj).get("active")) else "WaitingForPods"
    return in_progress(reason, message)
