"""The template kinds' bridge to the apply engine: apply, wait, destroy and wait until gone."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from deployer.cluster import inventory as inventories
from deployer.engine.apply import ApplyOptions, apply_manifests
from deployer.engine.deletion import delete_in_reverse, entry_ref
from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.prepare import resolve_namespaces
from deployer.engine.targets import Target
from deployer.engine.templates.common import describe_refs
from deployer.engine.templates.outputs import resolve_outputs
from deployer.engine.waiter import Waiter
from deployer.errors import ConflictError, ReadinessTimeout
from deployer.model.events import ObjectEvent
from deployer.model.objects import Manifest

DEFAULT_TIMEOUT_SECONDS = 300.0
# The start of the apply engine's advice line in a ConflictError, and its step form.
CLI_CONFLICT_ADVICE = "Rerun with --force-conflicts"
STEP_CONFLICT_ADVICE = (
    "Set forceConflicts: true in this step's {kind} template to take these fields over, "
    "or remove them from the manifest."
)


def with_namespace(
    ctx: TemplateContext, manifests: Sequence[Manifest], *, namespace: str
) -> list[Manifest]:
    """Give namespaced objects without a namespace the step's namespace."""
    return resolve_namespaces(ctx.cluster, manifests, namespace)


def apply_step(
    ctx: TemplateContext,
    manifests: Sequence[Manifest],
    *,
    kind: str,
    namespace: str,
    inventory: str,
    timeout: float,
    force_conflicts: bool = False,
) -> TemplateResult:
    """Apply a step's manifests in waves under its inventory and read its outputs.

    The inventory is stored in the step's namespace, which `destroy_step` reads back.
    """
    resolved = with_namespace(ctx, manifests, namespace=namespace)
    options = ApplyOptions(
        namespace=namespace,
        inventory=inventory,
        timeout_seconds=timeout,
        dry_run=ctx.dry_run,
        cancel=ctx.stop,
        force_conflicts=force_conflicts,
    )
    with step_conflict_advice(kind):
        result = apply_manifests(ctx.cluster, resolved, options=options, progress=_tagged(ctx))
    refs = [item.ref for item in result.objects]
    if ctx.dry_run:
        return TemplateResult(phase="Succeeded", message=f"dry run: {describe_refs(refs)}")
    outputs = resolve_outputs(ctx, manifests=resolved, kind=kind)
    pruned = f"; pruned {describe_refs(result.pruned)}" if result.pruned else ""
    return TemplateResult(
        phase="Succeeded",
        message=f"{kind} ready: {describe_refs(refs)}{pruned}",
        outputs=outputs,
        objects=refs,
    )


def destroy_step(
    ctx: TemplateContext, *, kind: str, namespace: str, inventory: str, timeout: float
) -> TemplateResult:
    """Delete exactly the objects in a step's inventory, in reverse waves, until gone."""
    entries = inventories.read(ctx.cluster, inventory, namespace)
    if entries is None:
        return TemplateResult(
            phase="Succeeded",
            message=f"nothing to delete: no inventory {inventory} in namespace {namespace}",
        )
    deleted = delete_in_reverse(
        ctx.cluster, entries, progress=_tagged(ctx), timeout_seconds=timeout
    )
    inventories.remove(ctx.cluster, inventory, namespace)
    refs = [entry_ref(entry) for entry in deleted]
    return TemplateResult(
        phase="Succeeded",
        message=f"{kind} step deleted {describe_refs(refs)}",
        objects=refs,
    )


def apply_crds(
    ctx: TemplateContext,
    manifests: Sequence[Manifest],
    *,
    kind: str,
    timeout: float,
    force_conflicts: bool = False,
) -> None:
    """Apply CRDs with server-side apply and wait until Established, without an inventory."""
    options = ApplyOptions(
        timeout_seconds=timeout,
        dry_run=ctx.dry_run,
        cancel=ctx.stop,
        force_conflicts=force_conflicts,
    )
    with step_conflict_advice(kind):
        apply_manifests(ctx.cluster, list(manifests), options=options, progress=_tagged(ctx))


@contextmanager
def step_conflict_advice(kind: str) -> Iterator[None]:
    """Point a conflict error's advice at the step's `forceConflicts` field.

    The apply engine advises the CLI flag `--force-conflicts`, which a workflow step
    cannot take; the step's own field does the same.
    """
    try:
        yield
    except ConflictError as conflict:
        lines = [
            STEP_CONFLICT_ADVICE.format(kind=kind) if line.startswith(CLI_CONFLICT_ADVICE) else line
            for line in str(conflict).split("\n")
        ]
        raise ConflictError(
            "\n".join(lines), status=conflict.status, reason=conflict.reason
        ) from None


def missing_objects(ctx: TemplateContext, manifests: Sequence[Manifest]) -> list[Manifest]:
    """Return the manifests whose object is not in the cluster, including unserved kinds."""
    missing = []
    for manifest in manifests:
        info = ctx.cluster.find_resource(manifest.api_version, manifest.kind)
        namespace = manifest.namespace if info is not None and info.namespaced else None
        if info is None or (
            ctx.cluster.get(manifest.api_version, manifest.kind, manifest.name, namespace) is None
        ):
            missing.append(manifest)
    return missing


def wait_step(
    ctx: TemplateContext,
    manifests: Sequence[Manifest],
    *,
    kind: str,
    timeout: float,
    applied: bool = True,
) -> None:
    """Wait until objects that something else applied (helm) are ready, through watches.

    `applied` is False when the step found the objects in place and applied nothing. The
    error for an object deleted meanwhile then reports that the step found it.
    """
    cluster = ctx.cluster
    targets: list[Target] = []
    for manifest in manifests:
        info = cluster.resource(manifest.api_version, manifest.kind)
        namespace = manifest.namespace if info.namespaced else None
        live = cluster.get(manifest.api_version, manifest.kind, manifest.name, namespace)
        if live is None:
            seen = "applied" if applied else "found"
            raise ReadinessTimeout(
                f"{manifest.describe()} of the {kind} step is not in the cluster: something "
                f"deleted it after the step {seen} it. Run the step again to recreate it."
            )
        targets.append(
            Target(
                manifest=manifest,
                info=info,
                name=manifest.name,
                namespace=namespace,
                wave=0,
                live=live,
                change="unchanged",
                timeout_seconds=timeout,
            )
        )
    Waiter(cluster, targets, progress=_tagged(ctx), wave_timeout=timeout, cancel=ctx.stop).run()


def wait_gone(
    ctx: TemplateContext, manifests: Sequence[Manifest], *, kind: str, timeout: float
) -> None:
    """Wait until every object is deleted; raise ReadinessTimeout naming what remains."""
    deadline = time.monotonic() + timeout
    for manifest in manifests:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReadinessTimeout(f"{manifest.describe()} of the {kind} step is still there")
        ctx.cluster.wait_deleted(
            manifest.api_version,
            manifest.kind,
            manifest.name,
            manifest.namespace,
            timeout_seconds=remaining,
        )


def _tagged(ctx: TemplateContext) -> Any:
    """Return a progress sink that marks each event with the step's node name."""

    def forward(event: ObjectEvent) -> None:
        ctx.progress(
            ObjectEvent(
                ref=event.ref,
                state=event.state,
                reason=event.reason,
                message=event.message,
                wave=event.wave,
                step=event.step or ctx.node_name,
                at=event.at,
            )
        )

    return forward
