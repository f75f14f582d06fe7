"""Selection of a workload's pods, and of those among them that run its current template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deployer.readiness.fields import dig, items, mapping, metadata, spec

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
    NOTE: two revisions that differ only elsewhere (volumes, resources, env from a
    ConfigMap) look the same here, so an old pod may be judged as a current one. A pod
    whose image an admission webhook rewrote looks old, so its failures wait for the timeout.
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


def current_pods(
    obj: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Keep the selected pods that run the object's current pod template."""
    template = mapping(spec(obj).get("template"))
    return [pod for pod in select_pods(obj, pods) if runs_template(pod, template)]
