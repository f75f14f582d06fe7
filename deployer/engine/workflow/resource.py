"""`resource` templates: create, apply, patch, delete or get objects, then wait on conditions.

Unlike Argo, the manifest may contain several YAML documents, and the action applies to each
in order. The success and failure conditions and the jsonPath outputs are about the first
document's object, so companions such as a ConfigMap for a Job need no status. Conditions use
the readiness condition language (`status.phase == Ready`, `status.succeeded > 0`, ...).

`setOwnerReference: true` cannot point at a Workflow object, because deployer installs no
controller or CRD. Created objects are owned by an anchor ConfigMap `deployer-run-<run>` in the
object's own namespace (Kubernetes forbids owners in another namespace), so `deployer delete
RUN` removes them through garbage collection. Cluster-scoped objects cannot have a namespaced
owner, so `setOwnerReference` on them is an error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import yaml

from deployer.engine.workflow.executor import ResourceRequest, ResourceResult
from deployer.engine.workflow.pods import RUN_LABEL
from deployer.errors import ApiError, DeployerError, WorkflowError

ACTIONS = ("create", "apply", "patch", "delete", "get")
# Patch types of action patch. A JSON patch (`json`) is rejected by the parser, because Argo
# names its object in `resource.flags`, which deployer does not take.
MERGE_STRATEGIES = frozenset({"strategic", "merge"})


def anchor_name(run: str) -> str:
    return f"deployer-run-{run}"[:253]


def parse_manifest(text: str, *, where: str) -> list[dict[str, Any]]:
    """Parse a resource template's manifest text into objects; empty documents are skipped."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as bad:
        raise WorkflowError(f"{where}: resource manifest is not valid YAML: {bad}") from bad
    objects = []
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
            raise WorkflowError(
                f"{where}: resource manifest document {index} needs apiVersion and kind"
            )
        objects.append(doc)
    if not objects:
        raise WorkflowError(f"{where}: resource manifest is empty")
    return objects


def ensure_anchor(cluster: Any, run: str, namespace: str) -> dict[str, Any]:
    """Create (or find) the run's anchor ConfigMap in `namespace`; return an ownerReference."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": anchor_name(run), "namespace": namespace, "labels": {RUN_LABEL: run}},
        "data": {"run": run},
    }
    stored = cluster.apply(body)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": stored["metadata"]["name"],
        "uid": stored["metadata"]["uid"],
    }


def _identity(cluster: Any, body: dict[str, Any], default_namespace: str) -> tuple[str, str | None]:
    """Return (description, namespace) of a manifest, filling in the default namespace."""
    info = cluster.resource(body["apiVersion"], body["kind"])
    meta = body.setdefault("metadata", {})
    namespace = None
    if info.namespaced:
        namespace = meta.get("namespace") or default_namespace
        meta["namespace"] = namespace
    name = meta.get("name") or meta.get("generateName") or "(no name)"
    where = f"{namespace}/{name}" if namespace else str(name)
    return f"{body['kind']} {where}", namespace


def _act(cluster: Any, request: ResourceRequest, body: dict[str, Any]) -> dict[str, Any]:
    described, namespace = _identity(cluster, body, request.namespace)
    meta = body["metadata"]
    if request.owner is not None and request.action in ("create", "apply"):
        if namespace is None:
            raise WorkflowError(
                f"setOwnerReference is not supported for cluster-scoped {described}"
            )
        meta.setdefault("ownerReferences", []).append(dict(request.owner))
    if request.action == "create" or (request.action == "apply" and not meta.get("name")):
        return dict(cluster.create(body))
    if request.action == "apply":
        return dict(cluster.apply(body))
    if request.action == "patch":
        if request.merge_strategy not in MERGE_STRATEGIES:
            allowed = ", ".join(sorted(MERGE_STRATEGIES))
            raise WorkflowError(
                f"resource mergeStrategy {request.merge_strategy!r} is not one of {allowed}"
            )
        patch = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
        return dict(
            cluster.patch(
                body["apiVersion"],
                body["kind"],
                meta["name"],
                namespace,
                patch,
                patch_type=request.merge_strategy,
            )
        )
    if request.action == "delete":
        cluster.delete(body["apiVersion"], body["kind"], meta["name"], namespace)
        return body
    found = cluster.get(body["apiVersion"], body["kind"], meta["name"], namespace)
    if found is None:
        raise WorkflowError(f"{described} not found")
    return dict(found)


def carry_out(
    cluster: Any, request: ResourceRequest, *, cancel: threading.Event, deadline: float | None
) -> ResourceResult:
    """Carry out the action on every manifest, then wait for the conditions on the first object.

    Only the first document's object is watched, so companion objects such as a ConfigMap
    for a Job need no status of their own.
    """
    if request.action not in ACTIONS:
        return ResourceResult(
            "Error", f"resource action {request.action!r} is not one of {ACTIONS}"
        )
    objects = []
    try:
        for body in request.manifests:
            objects.append(_act(cluster, request, body))
    except DeployerError as failed:
        return ResourceResult("Failed", str(failed), objects)
    if not (request.success_condition or request.failure_condition) or request.action == "delete":
        return ResourceResult("Succeeded", "", objects)

    from deployer.readiness.conditions import parse_condition

    success = parse_condition(request.success_condition) if request.success_condition else None
    failure = parse_condition(request.failure_condition) if request.failure_condition else None
    phase, message, latest = _wait_conditions(
        cluster, objects[0], success, failure, cancel=cancel, deadline=deadline
    )
    return ResourceResult(phase, message, [latest, *objects[1:]])


def _describe(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else meta.get("name")
    return f"{obj.get('kind')} {where}"


def _wait_conditions(
    cluster: Any,
    obj: dict[str, Any],
    success: Any,
    failure: Any,
    *,
    cancel: threading.Event,
    deadline: float | None,
) -> tuple[str, str, dict[str, Any]]:
    """Watch one object until a condition matches; return (phase, message, latest object)."""
    meta = obj["metadata"]
    stop = threading.Event()
    relay = threading.Thread(target=_relay_cancel, args=(cancel, stop), daemon=True)
    relay.start()
    latest = obj
    try:
        remaining = None if deadline is None else max(0.1, deadline - time.monotonic())
        events = cluster.watch(
            obj["apiVersion"],
            obj["kind"],
            meta.get("namespace"),
            field_selector=f"metadata.name={meta['name']}",
            stop=stop,
            timeout_seconds=remaining,
        )
        for kind, current in events:
            if kind == "DELETED":
                return "Failed", f"{_describe(obj)} was deleted while waiting", current
            latest = current
            if failure is not None and failure.matches(current):
                return "Failed", f"{_describe(obj)} matched the failure condition", current
            if success is None or success.matches(current):
                return "Succeeded", "", current
    except ApiError as failed:
        return "Error", f"watching {_describe(obj)} failed: {failed}", latest
    finally:
        stop.set()
    if cancel.is_set():
        return "Failed", "the run was stopped", latest
    return (
        "Failed",
        f"{_describe(obj)} did not match the success condition before the deadline",
        latest,
    )


def _relay_cancel(cancel: threading.Event, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        if cancel.is_set():
            stop.set()
