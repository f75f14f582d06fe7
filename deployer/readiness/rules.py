"""Judge one live object: in progress, ready, failed, terminating or skipped, and why.

`evaluate` applies, in this order:

1. `metadata.deletionTimestamp` set: TERMINATING.
2. Annotation `deployer.dev/readiness: skip`: SKIPPED.
3. `metadata.generation` differs from `status.observedGeneration` (both present):
   IN_PROGRESS, because the status still describes an older spec.
4. Annotation `deployer.dev/failure-condition` matches: FAILED.
5. Annotation `deployer.dev/success-condition`: READY when it matches, else IN_PROGRESS.
   A success condition replaces steps 6 and 7, so pod failures and Job failures no longer
   end the wait. Add a failure condition to keep failing fast. A failure condition alone
   only adds a way to fail, and the steps below still decide readiness.
6. Condition Stalled=True: FAILED; Reconciling=True: IN_PROGRESS.
7. The rule for the object's kind in `RULES`, or `custom_resource` for other kinds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deployer.errors import InputError
from deployer.model.objects import ANNOTATION_PREFIX
from deployer.model.status import State, Status
from deployer.readiness import batch, core, extensions, workloads
from deployer.readiness.conditions import Condition, parse_condition
from deployer.readiness.facts import Facts, Rule, failed, generation_lag, in_progress, ready
from deployer.readiness.fields import api_group, condition, condition_text, describe, mapping
from deployer.readiness.fields import metadata as metadata_of
from deployer.readiness.selection import needs_pods, pod_selector

__all__ = [
    "RULES",
    "conditions_of",
    "evaluate",
    "needs_pods",
    "pod_selector",
    "validate_annotations",
]

READINESS_ANNOTATION = ANNOTATION_PREFIX + "readiness"
SUCCESS_ANNOTATION = ANNOTATION_PREFIX + "success-condition"
FAILURE_ANNOTATION = ANNOTATION_PREFIX + "failure-condition"

# (API group, kind) -> rule. Kinds not listed go to `extensions.custom_resource`.
RULES: Mapping[tuple[str, str], Rule] = {
    # Workloads: wait for the controller, then for the pods.
    ("apps", "Deployment"): workloads.deployment,
    ("apps", "StatefulSet"): workloads.statefulset,
    ("apps", "DaemonSet"): workloads.daemonset,
    ("apps", "ReplicaSet"): workloads.replicaset,
    ("batch", "Job"): batch.job,
    ("", "Pod"): core.pod,
    # Objects with a status phase or an address to wait for.
    ("", "PersistentVolumeClaim"): core.persistent_volume_claim,
    ("", "PersistentVolume"): core.persistent_volume,
    ("", "Namespace"): core.namespace,
    ("", "Service"): core.service,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): extensions.custom_resource_definition,
    ("apiregistration.k8s.io", "APIService"): extensions.api_service,
    # Ready once they exist: configuration and policy that no controller has to act on.
    ("", "ConfigMap"): extensions.exists,
    ("", "Secret"): extensions.exists,
    ("", "ServiceAccount"): extensions.exists,
    ("", "Endpoints"): extensions.exists,
    ("", "LimitRange"): extensions.exists,
    ("", "ResourceQuota"): extensions.exists,
    ("rbac.authorization.k8s.io", "Role"): extensions.exists,
    ("rbac.authorization.k8s.io", "RoleBinding"): extensions.exists,
    ("rbac.authorization.k8s.io", "ClusterRole"): extensions.exists,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): extensions.exists,
    ("storage.k8s.io", "StorageClass"): extensions.exists,
    ("scheduling.k8s.io", "PriorityClass"): extensions.exists,
    ("networking.k8s.io", "NetworkPolicy"): extensions.exists,
    ("networking.k8s.io", "Ingress"): extensions.exists,
    ("networking.k8s.io", "IngressClass"): extensions.exists,
    ("discovery.k8s.io", "EndpointSlice"): extensions.exists,
    ("policy", "PodDisruptionBudget"): extensions.exists,
    ("batch", "CronJob"): extensions.exists,
    ("autoscaling", "HorizontalPodAutoscaler"): extensions.exists,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): extensions.exists,
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): extensions.exists,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): extensions.exists,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): extensions.exists,
}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(metadata_of(obj).get("annotations"))


def _parse_annotation(
    obj: Mapping[str, Any], key: str, file: str | None, line: int | None
) -> Condition | None:
    text = _annotations(obj).get(key)
    if text is None:
        return None
    try:
        return parse_condition(str(text))
    except InputError as error:
        raise InputError(
            f"{describe(obj)}: annotation {key}: {error}; fix the annotation and apply again",
            file=file,
            line=line,
        ) from error


def conditions_of(
    obj: Mapping[str, Any], *, file: str | None = None, line: int | None = None
) -> tuple[Condition | None, Condition | None]:
    """Parse the object's success and failure condition annotations.

    Raises InputError naming the object and the annotation, and `file:line` when given,
    if either annotation is malformed.
    """
    return (
        _parse_annotation(obj, SUCCESS_ANNOTATION, file, line),
        _parse_annotation(obj, FAILURE_ANNOTATION, file, line),
    )


def skips_readiness(
    obj: Mapping[str, Any], *, file: str | None = None, line: int | None = None
) -> bool:
    """Tell whether `deployer.dev/readiness: skip` turns the wait off for the object.

    Raises InputError for any other value of the annotation, so a typo does not silently
    leave the wait on.
    """
    value = _annotations(obj).get(READINESS_ANNOTATION)
    if value is None:
        return False
    if str(value).strip().lower() == "skip":
        return True
    raise InputError(
        f"{describe(obj)}: annotation {READINESS_ANNOTATION} is {str(value)!r}, but the only"
        " supported value is skip; remove the annotation to wait for readiness",
        file=file,
        line=line,
    )


def validate_annotations(
    obj: Mapping[str, Any], *, file: str | None = None, line: int | None = None
) -> None:
    """Check the readiness annotations of a manifest before it is applied.

    Raises the InputError that `evaluate` would raise later on the live object, with the
    manifest's `file` and `line` in front when given, so a typo fails the run up front.
    """
    skips_readiness(obj, file=file, line=line)
    conditions_of(obj, file=file, line=line)


def _by_annotations(obj: Mapping[str, Any]) -> Status | None:
    """Apply the success and failure condition annotations, if the object has any."""
    success, failure = conditions_of(obj)
    if failure is not None and failure.matches(obj):
        return failed("FailureCondition", f"failure condition matched: {failure}")
    if success is None:
        return None
    if success.matches(obj):
        return ready("SuccessCondition", f"success condition matched: {success}")
    unmet = "; ".join(requirement.explain(obj) for requirement in success.unmet(obj))
    return in_progress("SuccessConditionUnmet", f"waiting for success condition: {unmet}")


def _by_kstatus_conditions(obj: Mapping[str, Any]) -> Status | None:
    """Apply the Stalled and Reconciling conditions that kstatus-aware controllers set."""
    stalled = condition(obj, "Stalled")
    if stalled is not None and stalled.get("status") == "True":
        return failed(str(stalled.get("reason") or "Stalled"), condition_text(stalled))
    reconciling = condition(obj, "Reconciling")
    if reconciling is not None and reconciling.get("status") == "True":
        return in_progress(
            str(reconciling.get("reason") or "Reconciling"), condition_text(reconciling)
        )
    return None


def rule_for(obj: Mapping[str, Any]) -> Rule:
    """Return the kind rule for an object: its entry in `RULES` or the custom-resource rule."""
    return RULES.get((api_group(obj), str(obj.get("kind") or "")), extensions.custom_resource)


def evaluate(
    obj: Mapping[str, Any],
    *,
    pods: Sequence[Mapping[str, Any]] = (),
    storage_classes: Mapping[str, Mapping[str, Any]] | None = None,
    replica_sets: Sequence[Mapping[str, Any]] | None = None,
) -> Status:
    """Judge the readiness of one live object, in the order the module docstring lists.

    `pods` are the pods found with `pod_selector(obj)` for kinds where `needs_pods` is
    true. The rules apply the full selector to them again, so a superset is fine.
    `storage_classes` maps StorageClass names to the live objects, for PVCs.
    `replica_sets` are a Deployment's ReplicaSets, to tell the pods of its current
    revision; without them, pods are compared with the pod template instead. Raises
    InputError when a readiness annotation is malformed.
    """
    if metadata_of(obj).get("deletionTimestamp"):
        return Status(State.TERMINATING, "Terminating", "deletion in progress")
    if skips_readiness(obj):
        return Status(State.SKIPPED, "Skipped", f"{READINESS_ANNOTATION} is skip")
    lag = generation_lag(obj, required=False)
    if lag is not None:
        return lag
    verdict = _by_annotations(obj) or _by_kstatus_conditions(obj)
    if verdict is not None:
        return verdict
    facts = Facts(pods=pods, storage_classes=storage_classes or {}, replica_sets=replica_sets)
    return rule_for(obj)(obj, facts)
