"""Selection of a workload's pods, and of those among them that run its current template.

A pod runs a workload's current template when it carries the label of the current
revision:

- Deployment: the `pod-template-hash` of its current ReplicaSet, which is the one whose
  pod template equals the Deployment's apart from that label, as the Deployment
  controller finds it. The `deployment.kubernetes.io/revision` annotation alone is not
  enough: when a change of the template comes with a change of `replicas`, the
  controller first syncs the scaling, and the Deployment's observedGeneration catches up
  while its revision still names the old ReplicaSet. The annotation only picks the
  newest of several matching ReplicaSets;
- StatefulSet: `controller-revision-hash` equal to `status.updateRevision`;
- DaemonSet: `pod-template-generation` equal to the DaemonSet's
  `deprecated.daemonset.template.generation` annotation.

Without them (a Deployment whose ReplicaSets the caller did not look up, an object
without a revision annotation), `runs_template` compares the pod with the template
instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from deployer.readiness.fields import dig, items, mapping, metadata, spec, status

# Workload kinds whose readiness depends on their pods, by API group.
POD_OWNER_KINDS: Mapping[str, str] = {
    "Deployment": "apps",
    "StatefulSet": "apps",
    "DaemonSet": "apps",
    "ReplicaSet": "apps",
    "Job": "batch",
}

# The label the Job controller puts on its pods and into a generated spec.selector.
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"

# The revision number the Deployment controller writes on a Deployment and its ReplicaSets.
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
# The key under which projection.py stores the `template_digest` of a Deployment or
# ReplicaSet whose pod template it cut away. No Kubernetes field has this name.
TEMPLATE_DIGEST_KEY = "_templateDigest"
# The label with which a ReplicaSet of a Deployment selects its own pods.
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
# The label the StatefulSet and DaemonSet controllers put on each pod: its revision.
REVISION_LABEL = "controller-revision-hash"
# The DaemonSet's template generation (apps/v1 keeps it in this annotation), and the
# label with which the DaemonSet controller stamps it on each pod.
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"


def needs_pods(kind: str, group: str | None = None) -> bool:
    """Tell whether the rule for `kind` reads the pods that match the object's selector.

    Pass `group` to keep a custom resource that reuses a built-in kind name (a `Job` of
    some batch operator) from being treated as the built-in kind.
    """
    expected = POD_OWNER_KINDS.get(kind)
    return expected is not None and (group is None or group == expected)


def pod_selector(obj: Mapping[str, Any]) -> dict[str, str] | None:
    """Return the `matchLabels` that find the pods of a workload, or None if it has none.

    A Job created without a selector gets one from the API server. For a Job object that
    lacks it, the controller-uid label is built from `metadata.uid` instead.
    The result drops `matchExpressions`, so it may match more pods than the selector does;
    `select_pods` applies the full selector to whatever the caller found.
    """
    if not needs_pods(str(obj.get("kind") or "")):
        return None
    selector = dig(obj, "spec", "selector")
    if isinstance(selector, Mapping):
        labels = mapping(selector.get("matchLabels"))
        return {str(key): str(value) for key, value in labels.items()}
    uid = metadata(obj).get("uid")
    if obj.get("kind") == "Job" and uid:
        return {JOB_UID_LABEL: str(uid)}
    return None


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    key = str(expression.get("key") or "")
    operator = expression.get("operator")
    values = {str(value) for value in expression.get("values") or ()}
    if operator == "In":
        return key in labels and str(labels[key]) in values
    if operator == "NotIn":
        return key not in labels or str(labels[key]) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    # An unknown operator selects nothing, as the API server's selector conversion rejects it.
    return False


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Apply a LabelSelector (`matchLabels` and `matchExpressions`) to a set of labels."""
    for key, value in mapping(selector.get("matchLabels")).items():
        if key not in labels or str(labels[key]) != str(value):
            return False
    return all(
        _expression_matches(expression, labels)
        for expression in items(selector.get("matchExpressions"))
    )


def select_pods(
    obj: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Keep the pods in the object's namespace that its full selector matches."""
    selector = dig(obj, "spec", "selector")
    namespace = metadata(obj).get("namespace")
    chosen = []
    for pod in pods:
        pod_namespace = metadata(pod).get("namespace")
        if namespace and pod_namespace and pod_namespace != namespace:
            continue
        labels = mapping(metadata(pod).get("labels"))
        if isinstance(selector, Mapping):
            if not selector_matches(selector, labels):
                continue
        else:
            fallback = pod_selector(obj)
            if fallback is not None and not selector_matches({"matchLabels": fallback}, labels):
                continue
        chosen.append(pod)
    return chosen


def _container_key(container: Mapping[str, Any]) -> tuple[Any, ...]:
    env = tuple(
        (entry.get("name"), entry.get("value"))
        for entry in items(container.get("env"))
        if "value" in entry
    )
    return (container.get("image"), container.get("command"), container.get("args"), env)


def _containers_match(template: Any, pod: Any) -> bool:
    pod_containers = {str(entry.get("name")): entry for entry in items(pod)}
    for wanted in items(template):
        found = pod_containers.get(str(wanted.get("name")))
        if found is None or _container_key(found) != _container_key(wanted):
            return False
    return True


def _subset(wanted: Mapping[str, Any], present: Mapping[str, Any]) -> bool:
    return all(key in present and str(present[key]) == str(value) for key, value in wanted.items())


def runs_template(pod: Mapping[str, Any], template: Mapping[str, Any]) -> bool:
    """Tell whether a pod was made from this pod template rather than an older one.

    Compares the template's labels and annotations (which the pod must carry) and, for
    each container and init container, the image, command, args and literal env values.
    Used only when the workload's revision cannot be read (see the module docstring).
    NOTE: two revisions that differ only elsewhere (volumes, resources, env from a
    ConfigMap, a removed annotation) look the same here, so an old pod may be judged as a
    current one. A pod whose image an admission webhook rewrote looks old, so its failures
    wait for the timeout.
    """
    template_meta = mapping(template.get("metadata"))
    pod_meta = metadata(pod)
    if not _subset(mapping(template_meta.get("labels")), mapping(pod_meta.get("labels"))):
        return False
    annotations = mapping(template_meta.get("annotations"))
    if not _subset(annotations, mapping(pod_meta.get("annotations"))):
        return False
    template_spec = mapping(template.get("spec"))
    pod_spec = spec(pod)
    return _containers_match(
        template_spec.get("containers"), pod_spec.get("containers")
    ) and _containers_match(template_spec.get("initContainers"), pod_spec.get("initContainers"))


def _owned_by(child: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """Tell whether `child` names `owner` among its ownerReferences (by uid when known)."""
    owner_meta = metadata(owner)
    uid = owner_meta.get("uid")
    for reference in items(metadata(child).get("ownerReferences")):
        if reference.get("kind") != owner.get("kind"):
            continue
        if uid and reference.get("uid") == uid:
            return True
        if not uid and reference.get("name") == owner_meta.get("name"):
            return True
    return False


def template_digest(obj: Mapping[str, Any]) -> str:
    """Return a SHA-256 of a workload's pod template without its `pod-template-hash` label.

    A Deployment and the ReplicaSet of its current template have the same digest. Reads
    TEMPLATE_DIGEST_KEY when projection.py stored the digest in place of the template.
    """
    stored = obj.get(TEMPLATE_DIGEST_KEY)
    if isinstance(stored, str):
        return stored
    template = dict(mapping(spec(obj).get("template")))
    template_meta = dict(mapping(template.get("metadata")))
    labels = dict(mapping(template_meta.get("labels")))
    labels.pop(POD_TEMPLATE_HASH_LABEL, None)
    template_meta["labels"] = labels
    template["metadata"] = template_meta
    text = json.dumps(template, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _revision(obj: Mapping[str, Any]) -> int:
    text = str(mapping(metadata(obj).get("annotations")).get(REVISION_ANNOTATION) or "")
    return int(text) if text.isdigit() else 0


def current_replica_set(
    deployment: Mapping[str, Any], replica_sets: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """Return the Deployment's ReplicaSet of its current template, or None if none exists yet."""
    namespace = metadata(deployment).get("namespace")
    wanted = template_digest(deployment)
    found: Mapping[str, Any] | None = None
    for replica_set in replica_sets:
        meta = metadata(replica_set)
        if namespace and meta.get("namespace") and meta.get("namespace") != namespace:
            continue
        if not _owned_by(replica_set, deployment) or template_digest(replica_set) != wanted:
            continue
        if found is None or _revision(replica_set) > _revision(found):
            found = replica_set
    return found


def _template_hash(replica_set: Mapping[str, Any]) -> str | None:
    for labels in (
        metadata(replica_set).get("labels"),
        dig(replica_set, "spec", "selector", "matchLabels"),
    ):
        value = mapping(labels).get(POD_TEMPLATE_HASH_LABEL)
        if value is not None:
            return str(value)
    return None


def _current_label(
    obj: Mapping[str, Any], replica_sets: Sequence[Mapping[str, Any]] | None
) -> tuple[str, str | None] | None:
    """Return (label, value) that marks the pods of the object's current revision.

    The value is None when the pods of the current revision cannot be identified yet (a
    Deployment whose current ReplicaSet has not been created or seen), and the result is
    None when the object gives no revision to compare with.
    """
    kind = obj.get("kind")
    annotations = mapping(metadata(obj).get("annotations"))
    if kind == "Deployment" and replica_sets is not None and REVISION_ANNOTATION in annotations:
        # The controller writes the annotation with the first ReplicaSet it creates.
        replica_set = current_replica_set(obj, replica_sets)
        return POD_TEMPLATE_HASH_LABEL, _template_hash(replica_set) if replica_set else None
    if kind == "StatefulSet":
        revision = status(obj).get("updateRevision")
        return (REVISION_LABEL, str(revision)) if revision else None
    if kind == "DaemonSet":
        generation = annotations.get(TEMPLATE_GENERATION_ANNOTATION)
        return (TEMPLATE_GENERATION_LABEL, str(generation)) if generation is not None else None
    return None


def current_pods(
    obj: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    replica_sets: Sequence[Mapping[str, Any]] | None = None,
) -> list[Mapping[str, Any]]:
    """Keep the selected pods that run the object's current revision (module docstring).

    `replica_sets` are the Deployment's ReplicaSets, or None when the caller did not look
    them up; a Deployment is then judged by `runs_template`.
    """
    selected = select_pods(obj, pods)
    marker = _current_label(obj, replica_sets)
    if marker is None:
        template = mapping(spec(obj).get("template"))
        return [pod for pod in selected if runs_template(pod, template)]
    label, value = marker
    if value is None:
        return []
    return [
        pod for pod in selected if str(mapping(metadata(pod).get("labels")).get(label)) == value
    ]
