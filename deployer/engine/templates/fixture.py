"""The `fixture` template kind: what a stack needs but does not own.

`resources` lists objects that must already exist (a StorageClass, a CRD, a Secret made
by someone else). The step waits through watches until each one exists and is ready by
deployer's readiness rules, and never changes or deletes it. A resource still missing
when the timeout runs out fails the step, naming what was looked for and on which
cluster.

`external` attaches an endpoint outside the cluster so the stack can reach it by a
Service name: a Service without a selector plus an EndpointSlice with the given
addresses, or a Service of type ExternalName. deployer applies those two objects, but
they describe something the stack does not own, so `destroy` leaves them in place
together with every listed resource. They go away only with their namespace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.live import judge_live
from deployer.engine.prepare import problem_from_error
from deployer.engine.templates import fields
from deployer.engine.templates.common import Spec, describe_refs, guarded
from deployer.engine.templates.external import external_objects
from deployer.engine.templates.outputs import resolve_outputs
from deployer.errors import ApiError, ObjectFailed, ReadinessTimeout, ValidationError, WorkflowError
from deployer.model.events import ObjectEvent
from deployer.model.objects import Manifest
from deployer.model.status import State, Status

log = logging.getLogger(__name__)

FIELDS = tuple(fields.FIXTURE)
RESOURCE_FIELDS = tuple(fields.FIXTURE_RESOURCE)
DEFAULT_TIMEOUT_SECONDS = 120.0
# Seconds between the progress events of a step whose resource is still missing.
MISSING_REPORT_SECONDS = 10.0


class FixtureKind:
    """Wait for existing objects and attach external endpoints; destroy touches nothing."""

    def run(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        return guarded("fixture", ctx, lambda: self._run(spec, ctx))

    def destroy(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        return TemplateResult(
            phase="Succeeded",
            message="fixture left in place: its resources and attached endpoints are not "
            "owned by the stack",
        )

    def _run(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        reader = Spec("fixture", spec, FIELDS)
        deadline = time.monotonic() + reader.timeout(ctx, default=DEFAULT_TIMEOUT_SECONDS)
        targets = [_target(entry, ctx) for entry in _entries(spec.get("resources"))]
        attached = external_objects(spec.get("external"), default_namespace=ctx.namespace)
        _dry_run(ctx, attached)
        if ctx.dry_run:
            return TemplateResult(phase="Succeeded", message="dry run: nothing was waited for")

        for target in targets:
            _wait_ready(ctx, target, deadline=deadline)
        # NOTE: a write rejected after its dry run passed (such as an object changed
        # meanwhile) leaves the objects written before it in place.
        for manifest in attached:
            ctx.cluster.apply(manifest.body)
            _emit(ctx, manifest, Status(State.READY, "Attached"))
            log.info("fixture step %s attached %s", ctx.node_name, manifest.ref)

        found = targets + attached
        outputs = resolve_outputs(ctx, manifests=found, kind="fixture")
        refs = [manifest.ref for manifest in found]
        return TemplateResult(
            phase="Succeeded",
            message=f"fixture ready: {describe_refs(refs)}",
            outputs=outputs,
            objects=refs,
        )


def _dry_run(ctx: TemplateContext, attached: list[Manifest]) -> None:
    """Send every attached object as a server-side dry run before any is written.

    Raises ValidationError naming each rejected object, so that a rejected EndpointSlice
    does not leave its Service behind.
    """
    problems = []
    for manifest in attached:
        try:
            ctx.cluster.apply(manifest.body, dry_run=True)
        except ApiError as rejected:
            problems.append(problem_from_error(manifest, rejected))
    if problems:
        raise ValidationError(problems)


def _entries(value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise WorkflowError(
            "fixture.resources must be a list of {apiVersion, kind, name, namespace} mappings"
        )
    return list(value)


def _target(entry: Mapping[str, Any], ctx: TemplateContext) -> Manifest:
    """Build a stand-in manifest for one listed resource, with its namespace filled in."""
    reader = Spec("fixture.resources[]", entry, RESOURCE_FIELDS)
    api_version = reader.required("apiVersion")
    kind = reader.required("kind")
    name = reader.required("name")
    info = ctx.cluster.find_resource(api_version, kind)
    if info is None:
        # The cache may predate a CRD installed meanwhile, so read discovery once more.
        ctx.cluster.refresh_mapping()
        info = ctx.cluster.find_resource(api_version, kind)
    if info is None:
        namespace = reader.string("namespace")
        where = f"namespace {namespace}" if namespace else "no namespace given"
        raise ReadinessTimeout(
            f"fixture not found: apiVersion {api_version}, kind {kind}, name {name}, {where}, "
            f"on {_cluster_location(ctx.cluster)}: the server does not serve this kind; "
            "install its CustomResourceDefinition first, or fix apiVersion and kind"
        )
    metadata: dict[str, Any] = {"name": name}
    if info.namespaced:
        metadata["namespace"] = reader.string("namespace") or ctx.namespace
    return Manifest(body={"apiVersion": api_version, "kind": kind, "metadata": metadata})


def _wait_ready(ctx: TemplateContext, target: Manifest, *, deadline: float) -> None:
    """Watch one object until it exists and is ready, or raise naming what is missing.

    The watch restarts every MISSING_REPORT_SECONDS. Each time the object is still
    missing, an InProgress/NotFound event names it and the seconds left, so `deployer up`
    shows what the step waits for.
    """
    last: Status | None = None
    while not ctx.stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, last = _watch_once(ctx, target, last, seconds=min(remaining, MISSING_REPORT_SECONDS))
        if ready:
            return
        left = deadline - time.monotonic()
        if last is None and left > 0 and not ctx.stop.is_set():
            _report_missing(ctx, target, seconds_left=left)
    if ctx.stop.is_set():
        raise WorkflowError(f"fixture step {ctx.node_name} was stopped")
    raise ReadinessTimeout(_timeout_message(ctx, target, last))


def _watch_once(
    ctx: TemplateContext, target: Manifest, last: Status | None, *, seconds: float
) -> tuple[bool, Status | None]:
    """Watch the object for up to `seconds` and return whether it became ready, with its status.

    The status is None while the object does not exist. Raises ObjectFailed when the
    readiness rules find it failed.
    """
    events = ctx.cluster.watch(
        target.api_version,
        target.kind,
        target.namespace,
        field_selector=f"metadata.name={target.name}",
        stop=ctx.stop,
        timeout_seconds=max(seconds, 0.1),
    )
    for event_type, obj in events:
        if event_type == "DELETED":
            last = None
            continue
        status = judge_live(ctx.cluster, obj)
        if status != last:
            _emit(ctx, target, status)
            last = status
        if status.state in (State.READY, State.SKIPPED):
            return True, last
        if status.state == State.FAILED:
            raise ObjectFailed(f"fixture {target.ref} failed: {status.reason}: {status.message}")
    return False, last


def _report_missing(ctx: TemplateContext, target: Manifest, *, seconds_left: float) -> None:
    message = f"waiting for it to be created ({seconds_left:.0f} s left)"
    _emit(ctx, target, Status(State.IN_PROGRESS, "NotFound", message))
    log.info(
        "fixture step %s is still waiting for %s to be created (%.0f s left)",
        ctx.node_name,
        target.ref,
        seconds_left,
    )


def _timeout_message(ctx: TemplateContext, target: Manifest, last: Status | None) -> str:
    where = _cluster_location(ctx.cluster)
    looked_for = f"apiVersion {target.api_version}, kind {target.kind}, name {target.name}, " + (
        f"namespace {target.namespace}" if target.namespace else "cluster-scoped"
    )
    if last is None:
        return (
            f"fixture not found: {looked_for}, on {where}; create it before running this "
            "workflow, or fix the reference under fixture.resources"
        )
    return (
        f"fixture not ready: {looked_for}, on {where}: {last.state.value} "
        f"{last.reason} {last.message}".rstrip()
    )


def _cluster_location(cluster: Any) -> str:
    connection = getattr(cluster, "connection", None)
    context = getattr(connection, "context", "") or "(no context name)"
    server = getattr(connection, "server", "") or "(unknown server)"
    return f"cluster context {context} at {server}"


def _emit(ctx: TemplateContext, manifest: Manifest, status: Status) -> None:
    ctx.progress(
        ObjectEvent(
            ref=manifest.ref,
            state=status.state,
            reason=status.reason,
            message=status.message,
            step=ctx.node_name,
        )
    )
