"""Summaries of pod problems, for the workload rules and for timeout reports.

A workload's own status counts replicas but does not report why some are missing. Its
pods do. A container waiting in CrashLoopBackOff or ImagePullBackOff will not recover on
its own, so the rules fail the workload at once and name the pod, container and reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deployer.readiness.fields import condition, dig, integer, items, mapping, metadata, status

# Waiting reasons that image pulls or container creation keep failing with until someone
# changes the pod spec or the objects it refers to.
IMAGE_AND_CONFIG_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
    }
)

# Waiting reasons that make a long-running workload fail at once.
# NOTE: the kubelet reports CrashLoopBackOff from the first restart on, so an app that exits
# a few times while a dependency starts fails the wait; put the dependency in an earlier wave.
FATAL_WAITING_REASONS = IMAGE_AND_CONFIG_REASONS | {"CrashLoopBackOff"}

# Waiting reasons that are part of a normal start.
_STARTING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})


@dataclass(frozen=True)
class ContainerProblem:
    """One container that is not running as it should, with what the kubelet reported."""

    pod: str
    container: str
    reason: str
    message: str = ""
    restarts: int = 0
    exit_code: int | None = None  # of the last termination, when there was one
    init: bool = False

    def __str__(self) -> str:
        kind = "init container" if self.init else "container"
        text = f"pod {self.pod} {kind} {self.container}: {self.reason}"
        if self.message:
            text += f": {self.message}"
        details = []
        if self.exit_code is not None:
            details.append(f"last exit code {self.exit_code}")
        if self.restarts:
            details.append(f"{self.restarts} restarts" if self.restarts != 1 else "1 restart")
        if details:
            text += f" ({', '.join(details)})"
        return text


def pod_name(pod: Mapping[str, Any]) -> str:
    return str(metadata(pod).get("name") or "<unnamed>")


def container_statuses(pod: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], bool]]:
    """Return (container status, is init container) pairs, init containers first."""
    pod_status = status(pod)
    init = [(entry, True) for entry in items(pod_status.get("initContainerStatuses"))]
    main = [(entry, False) for entry in items(pod_status.get("containerStatuses"))]
    return init + main


def _last_exit_code(entry: Mapping[str, Any]) -> int | None:
    for state_key in ("state", "lastState"):
        terminated = dig(entry, state_key, "terminated")
        if isinstance(terminated, Mapping) and "exitCode" in terminated:
            return integer(terminated.get("exitCode"))
    return None


def _problem(pod: Mapping[str, Any], entry: Mapping[str, Any], init: bool) -> ContainerProblem:
    """Describe the problem of one container; call only for a container that has one."""
    waiting = mapping(dig(entry, "state", "waiting"))
    terminated = mapping(dig(entry, "state", "terminated"))
    current = waiting or terminated
    return ContainerProblem(
        pod=pod_name(pod),
        container=str(entry.get("name") or "?"),
        reason=str(current.get("reason") or "Error"),
        message=str(current.get("message") or "").strip(),
        restarts=integer(entry.get("restartCount")),
        exit_code=_last_exit_code(entry),
        init=init,
    )


def _has_problem(entry: Mapping[str, Any]) -> bool:
    waiting = dig(entry, "state", "waiting")
    if isinstance(waiting, Mapping):
        return str(waiting.get("reason") or "") not in _STARTING_REASONS
    terminated = dig(entry, "state", "terminated")
    if isinstance(terminated, Mapping):
        return integer(terminated.get("exitCode")) != 0
    return False


def container_problems(pod: Mapping[str, Any]) -> list[ContainerProblem]:
    """List the containers of a pod that wait for a bad reason or exited non-zero."""
    return [
        _problem(pod, entry, init) for entry, init in container_statuses(pod) if _has_problem(entry)
    ]


def first_failure(
    pods: Iterable[Mapping[str, Any]], reasons: frozenset[str] = FATAL_WAITING_REASONS
) -> ContainerProblem | None:
    """Return the first container, by pod name, waiting with one of `reasons`.

    Pods being deleted are skipped, since their problems leave with them.
    """
    for pod in sorted(pods, key=pod_name):
        if metadata(pod).get("deletionTimestamp"):
            continue
        for problem in container_problems(pod):
            if problem.reason in reasons:
                return problem
    return None


def restart_count(pod: Mapping[str, Any]) -> int:
    """Sum the restart counts of every container of a pod."""
    return sum(integer(entry.get("restartCount")) for entry, _ in container_statuses(pod))


def is_ready(pod: Mapping[str, Any]) -> bool:
    ready = condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


def unready_containers(pod: Mapping[str, Any]) -> list[str]:
    """Name the regular containers whose `ready` flag is false."""
    return [
        str(entry.get("name") or "?")
        for entry in items(status(pod).get("containerStatuses"))
        if not entry.get("ready")
    ]


def termination_message(pod: Mapping[str, Any], container: str | None = None) -> str | None:
    """Return the termination message of `container` (default: the first one), if it ended."""
    for entry in items(status(pod).get("containerStatuses")):
        if container is not None and entry.get("name") != container:
            continue
        terminated = dig(entry, "state", "terminated")
        if isinstance(terminated, Mapping) and "message" in terminated:
            return str(terminated.get("message"))
        return None
    return None


def _pod_state(pod: Mapping[str, Any]) -> str:
    """Return one word for the state of a pod: ready, not ready, pending, succeeded, failed."""
    phase = str(status(pod).get("phase") or "Pending")
    if phase == "Running":
        return "ready" if is_ready(pod) else "not ready"
    return phase.lower()


def summarize(pods: Sequence[Mapping[str, Any]]) -> str:
    """Count pods by state and name the first problem: `3 pods: 2 ready, 1 pending (...)`."""
    if not pods:
        return "no pods"
    counts = Counter(_pod_state(pod) for pod in pods)
    text = f"{len(pods)} pod{'s' if len(pods) != 1 else ''}: " + ", ".join(
        f"{count} {state}" for state, count in sorted(counts.items())
    )
    problem = _first_problem(pods)
    if problem is not None:
        text += f"; {problem}"
    else:
        unscheduled = next((u for u in map(unschedulable, pods) if u), None)
        if unscheduled:
            text += f"; {unscheduled}"
    return text


def _first_problem(pods: Sequence[Mapping[str, Any]]) -> ContainerProblem | None:
    for pod in sorted(pods, key=pod_name):
        problems = container_problems(pod)
        if problems:
            return problems[0]
    return None


def unschedulable(pod: Mapping[str, Any]) -> str | None:
    """Return the scheduler's message when a pod is unschedulable, else None."""
    scheduled = condition(pod, "PodScheduled")
    if scheduled is None or scheduled.get("status") != "False":
        return None
    if scheduled.get("reason") != "Unschedulable":
        return None
    message = str(scheduled.get("message") or "no node fits the pod")
    return f"pod {pod_name(pod)} is unschedulable: {message}"
