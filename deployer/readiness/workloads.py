"""Readiness of the replica controllers: Deployment, StatefulSet, DaemonSet, ReplicaSet.

Each rule first waits for the controller to observe the latest generation, because until
then every replica count describes the previous spec. It then fails at once when a pod of
the workload waits in CrashLoopBackOff, ImagePullBackOff or a similar state that does not
clear without a change, and otherwise names the first count that is still short.

Only pods that the controller will not replace by itself count for these failures: for a
Deployment, and a DaemonSet with RollingUpdate, the pods of the current revision (see
selection.py), so the old pods of a rollout that fixes a crash loop do not fail it.

A ReplicaFailure condition (pods that cannot be created, for example because their
ServiceAccount or a quota is missing) gives its reason, such as FailedCreate, to the
in-progress verdict at once. It can clear by itself when the missing object appears,
so the waiter fails the object only once the reason has lasted for the number of
seconds that `PERSISTENT_REASONS` gives it (30 for FailedCreate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deployer.model.status import Status
from deployer.readiness.facts import Facts, failed, generation_lag, in_progress, ready
from deployer.readiness.fields import (
    condition,
    condition_is,
    condition_text,
    dig,
    integer,
    plural,
    spec,
    status,
)
from deployer.readiness.pods import first_failure, pod_name, unschedulable
from deployer.readiness.selection import REVISION_LABEL, current_pods, select_pods

# In-progress reasons that seldom clear by themselves, with how many seconds a waiter
# lets one last before it fails the object. FailedCreate comes from a ReplicaFailure
# condition, and it clears when the missing ServiceAccount, quota room or similar appears.
PERSISTENT_REASONS: Mapping[str, float] = {"FailedCreate": 30.0}


def _pod_failure(pods: Sequence[Mapping[str, Any]]) -> Status | None:
    problem = first_failure(pods)
    if problem is None:
        return None
    return failed(problem.reason, str(problem))


def _with_pod_hint(result: Status, pods: Sequence[Mapping[str, Any]], obj: Any) -> Status:
    """Add a ReplicaFailure condition, or else the scheduler's message for an unschedulable pod.

    A ReplicaFailure condition also gives its reason (FailedCreate) to the verdict.
    """
    failure = condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        reason = str(failure.get("reason") or "ReplicaFailure")
        return Status(result.state, reason, f"{result.message}; {condition_text(failure)}")
    hint = next((text for text in map(unschedulable, pods) if text), None)
    if hint is None:
        return result
    return Status(result.state, result.reason, f"{result.message}; {hint}")


def _count_gap(have: int, want: int, counted: str, reason: str) -> Status | None:
    if have < want:
        return in_progress(reason, f"{have}/{want} {counted}")
    return None


def _deployment_gap(obj: Mapping[str, Any]) -> Status | None:
    """Return what keeps a Deployment from being fully rolled out, or None."""
    want = integer(spec(obj).get("replicas"), 1)
    state = status(obj)
    updated = integer(state.get("updatedReplicas"))
    if updated < want:
        return in_progress(
            "RolloutInProgress", f"waiting for rollout: {updated}/{want} replicas updated"
        )
    extra = integer(state.get("replicas")) - want
    if extra > 0:
        return in_progress(
            "RolloutInProgress",
            f"waiting for rollout: {plural(extra, 'old replica')} pending termination",
        )
    gap = _count_gap(
        integer(state.get("readyReplicas")), want, "replicas ready", "ReplicasNotReady"
    ) or _count_gap(
        integer(state.get("availableReplicas")), want, "replicas available", "ReplicasNotAvailable"
    )
    if gap is not None:
        return gap
    if not condition_is(obj, "Available", "True"):
        detail = condition_text(condition(obj, "Available")) or "not reported yet"
        return in_progress("NotAvailable", f"waiting for condition Available: {detail}")
    return None


def deployment(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when the newest ReplicaSet is fully rolled out and every replica available."""
    lag = generation_lag(obj, required=True)
    if lag is not None:
        return lag
    progressing = condition(obj, "Progressing")
    if (
        progressing is not None
        and progressing.get("status") == "False"
        and progressing.get("reason") == "ProgressDeadlineExceeded"
    ):
        return failed("ProgressDeadlineExceeded", condition_text(progressing))
    pods = current_pods(obj, facts.pods, facts.replica_sets)
    failure = _pod_failure(pods)
    if failure is not None:
        return failure

    want = integer(spec(obj).get("replicas"), 1)
    gap = _deployment_gap(obj)
    paused = bool(spec(obj).get("paused"))
    if gap is not None and paused:
        return in_progress(
            "Paused",
            f"rollout paused ({gap.message.removeprefix('waiting for rollout: ')});"
            " resume it with `kubectl rollout resume`",
        )
    if gap is None and not paused and progressing is not None:
        reason = progressing.get("reason")
        if reason != "NewReplicaSetAvailable":
            gap = in_progress("RolloutInProgress", f"waiting for rollout: Progressing is {reason}")
    if gap is not None:
        return _with_pod_hint(gap, pods, obj)
    note = " (rollout paused)" if paused else ""
    return ready("Available", f"{want}/{want} replicas ready{note}")


def _statefulset_rollout(obj: Mapping[str, Any], want: int) -> Status | None:
    """Return what keeps a rolling update of a StatefulSet from being done, or None."""
    state = status(obj)
    updated = integer(state.get("updatedReplicas"))
    partition = integer(dig(obj, "spec", "updateStrategy", "rollingUpdate", "partition"))
    if partition > 0:
        # Only ordinals at or above the partition are updated; the rest keep the old revision.
        need = max(want - partition, 0)
        if updated < need:
            return in_progress(
                "RolloutInProgress",
                f"waiting for rollout: {updated}/{need} replicas at or above"
                f" partition {partition} updated",
            )
        return None
    if updated < want:
        return in_progress(
            "RolloutInProgress", f"waiting for rollout: {updated}/{want} replicas updated"
        )
    current, update = state.get("currentRevision"), state.get("updateRevision")
    if current != update:
        return in_progress(
            "RolloutInProgress", f"waiting for rollout: revision {update} to replace {current}"
        )
    return None


def _with_stale_revision_hint(
    failure: Status, obj: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> Status:
    """Tell the user to delete a broken pod that runs an older revision than the template."""
    update = status(obj).get("updateRevision")
    problem = first_failure(pods)
    if update is None or problem is None:
        return failure
    broken = next((pod for pod in pods if pod_name(pod) == problem.pod), None)
    revision = dig(broken or {}, "metadata", "labels", REVISION_LABEL)
    if revision is None or revision == update:
        return failure
    hint = (
        f"; the pod runs revision {revision}, not {update}, and the StatefulSet does not"
        f" replace a broken pod: delete pod {problem.pod} to let it roll out"
    )
    return Status(failure.state, failure.reason, failure.message + hint)


def _ordinal(pod: Mapping[str, Any]) -> int | None:
    """Return the ordinal of a StatefulSet pod from its name (`db-2` is 2)."""
    suffix = pod_name(pod).rpartition("-")[2]
    return int(suffix) if suffix.isdigit() else None


def _statefulset_stuck_pods(
    obj: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Keep the pods whose failures the StatefulSet controller will not roll away by itself.

    With the default OrderedReady policy, the controller waits for a broken pod to become
    ready before it replaces any pod, so pods of every revision count. With Parallel and
    RollingUpdate, it replaces a pod of an older revision whatever its state, except
    below the partition, so there the pods of older revisions at or above the partition
    do not count. With OnDelete, nothing is replaced until someone deletes the pod.
    """
    strategy = dig(obj, "spec", "updateStrategy", "type") or "RollingUpdate"
    policy = spec(obj).get("podManagementPolicy") or "OrderedReady"
    if strategy != "RollingUpdate" or policy != "Parallel":
        return list(pods)
    current = {pod_name(pod) for pod in current_pods(obj, pods)}
    partition = integer(dig(obj, "spec", "updateStrategy", "rollingUpdate", "partition"))
    kept = []
    for pod in pods:
        ordinal = _ordinal(pod)
        if pod_name(pod) in current or (ordinal is not None and ordinal < partition):
            kept.append(pod)
    return kept


def statefulset(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when every replica is ready and, for RollingUpdate, on the update revision.

    Pods of older revisions count for failures where the controller does not replace a
    broken pod by itself (see `_statefulset_stuck_pods`), even after the template is fixed.
    """
    lag = generation_lag(obj, required=True)
    if lag is not None:
        return lag
    pods = select_pods(obj, facts.pods)
    failure = _pod_failure(_statefulset_stuck_pods(obj, pods))
    if failure is not None:
        return _with_stale_revision_hint(failure, obj, pods)

    want = integer(spec(obj).get("replicas"), 1)
    state = status(obj)
    extra = integer(state.get("replicas")) - want
    gap = None
    if extra > 0:
        gap = in_progress(
            "ScalingDown", f"waiting for scale-down: {plural(extra, 'replica')} pending termination"
        )
    gap = gap or _count_gap(
        integer(state.get("readyReplicas")), want, "replicas ready", "ReplicasNotReady"
    )
    if gap is None and "availableReplicas" in state:
        gap = _count_gap(
            integer(state.get("availableReplicas")),
            want,
            "replicas available",
            "ReplicasNotAvailable",
        )
    strategy = dig(obj, "spec", "updateStrategy", "type") or "RollingUpdate"
    if gap is None and strategy != "OnDelete":
        gap = _statefulset_rollout(obj, want)
    if gap is not None:
        return _with_pod_hint(gap, pods, obj)
    return ready("Ready", f"{want}/{want} replicas ready")


def daemonset(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when every node that should run a pod runs an updated, available one.

    With RollingUpdate, only pods of the current template count for failures, since the
    controller replaces the old ones, broken ones first. With OnDelete, every pod counts.
    """
    lag = generation_lag(obj, required=True)
    if lag is not None:
        return lag
    strategy = dig(obj, "spec", "updateStrategy", "type") or "RollingUpdate"
    every_pod = strategy == "OnDelete"
    pods = select_pods(obj, facts.pods) if every_pod else current_pods(obj, facts.pods)
    failure = _pod_failure(pods)
    if failure is not None:
        return failure

    state = status(obj)
    desired = integer(state.get("desiredNumberScheduled"))
    if desired == 0:
        return ready("NoNodes", "no node needs a pod")
    gap = None
    if strategy != "OnDelete":
        updated = integer(state.get("updatedNumberScheduled"))
        if updated < desired:
            gap = in_progress(
                "RolloutInProgress", f"waiting for rollout: {updated}/{desired} pods updated"
            )
    for field, counted, reason in (
        ("currentNumberScheduled", "pods scheduled", "PodsNotScheduled"),
        ("numberReady", "pods ready", "PodsNotReady"),
        ("numberAvailable", "pods available", "PodsNotAvailable"),
    ):
        gap = gap or _count_gap(integer(state.get(field)), desired, counted, reason)
    if gap is not None:
        return _with_pod_hint(gap, pods, obj)
    return ready("Ready", f"{desired}/{desired} pods ready")


def replicaset(obj: Mapping[str, Any], facts: Facts) -> Status:
    """Ready when the ReplicaSet runs exactly the expected number of ready, available pods."""
    lag = generation_lag(obj, required=True)
    if lag is not None:
        return lag
    pods = select_pods(obj, facts.pods)
    failure = _pod_failure(pods)
    if failure is not None:
        return failure

    want = integer(spec(obj).get("replicas"), 1)
    state = status(obj)
    extra = integer(state.get("replicas")) - want
    gap = None
    if extra > 0:
        gap = in_progress(
            "ScalingDown", f"waiting for scale-down: {plural(extra, 'replica')} pending termination"
        )
    gap = (
        gap
        or _count_gap(
            integer(state.get("readyReplicas")), want, "replicas ready", "ReplicasNotReady"
        )
        or _count_gap(
            integer(state.get("availableReplicas")),
            want,
            "replicas available",
            "ReplicasNotAvailable",
        )
    )
    if gap is not None:
        return _with_pod_hint(gap, pods, obj)
    return ready("Ready", f"{want}/{want} replicas ready")
