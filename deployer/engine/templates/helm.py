"""The `helm` template kind: Helm owns the release, deployer owns CRDs and readiness.

Order of one run: resolve the chart, layer the values, apply the chart's `crds/` with
server-side apply and wait until each CRD is Established, then `helm upgrade --install`
without `--wait`, then wait for every object of the release through deployer's
readiness rules. Helm never upgrades `crds/`, so applying them here on every run is
what lets a newer chart version add or change a CRD. A CRD that cannot be applied
fails the step before helm applies any template.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import yaml

from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.templates import deploy, fields
from deployer.engine.templates.common import Spec, describe_refs, guarded, step_path
from deployer.engine.templates.helm_client import Helm, Release, context_of, kubeconfig_of
from deployer.engine.templates.outputs import resolve_outputs
from deployer.engine.templates.render_checks import MAX_RELEASE_NAME, release_name_problem
from deployer.errors import (
    ApiError,
    ConflictError,
    InputError,
    ObjectFailed,
    Problem,
    ReadinessTimeout,
    ValidationError,
    WorkflowError,
)
from deployer.model.objects import Manifest
from deployer.sources.helm import (
    chart_location,
    crd_manifests,
    load_values_files,
    parse_release_manifest,
)
from deployer.sources.values import deleted_keys, merge_values, values_for_helm

log = logging.getLogger(__name__)

# The text of helm 4's error for a server-side apply conflict in an upgrade (seen in v4.3.2).
HELM_CONFLICT = "conflict occurred while applying object"
FIELDS = tuple(fields.HELM)


class HelmKind:
    """Install or upgrade a Helm release and wait for it with deployer's readiness."""

    def run(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        return guarded("helm", ctx, lambda: self._run(spec, ctx))

    def destroy(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        return guarded("helm", ctx, lambda: self._destroy(spec, ctx))

    def _run(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        reader = Spec("helm", spec, FIELDS)
        release = _release_name(reader, ctx)
        namespace = reader.string("namespace") or ctx.namespace
        timeout = reader.timeout(ctx, default=deploy.DEFAULT_TIMEOUT_SECONDS)
        helm = Helm(kubeconfig=kubeconfig_of(ctx.cluster), context=context_of(ctx.cluster))

        repo = reader.string("repo")
        location = chart_location(reader.required("chart"), base_dir=ctx.base_dir, repo=repo)
        chart = helm.chart(location, repo=repo, version=reader.string("version"))
        values = _layered_values(reader, ctx, helm.chart_values(chart))
        force_conflicts = reader.flag("forceConflicts", default=False)
        if not reader.flag("skipCrds", default=False):
            crds = helm.chart_crds(chart)
            _apply_crds(ctx, crds, chart=location.ref, timeout=timeout, force=force_conflicts)

        installed, change = _install(helm, reader, ctx, chart, values, release, namespace, timeout)
        if ctx.dry_run:
            return TemplateResult(phase="Succeeded", message=f"dry run of helm release {release}")

        manifests = _release_objects(helm, ctx, release, namespace)
        applied = change != "unchanged"
        deploy.wait_step(ctx, manifests, kind="helm", timeout=timeout, applied=applied)
        outputs = resolve_outputs(ctx, manifests=manifests, kind="helm")
        refs = [manifest.ref for manifest in manifests]
        return TemplateResult(
            phase="Succeeded",
            message=f"helm release {namespace}/{release} revision {installed.revision} "
            f"({change}) ready: {describe_refs(refs)}",
            outputs=outputs,
            objects=refs,
        )

    def _destroy(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        reader = Spec("helm", spec, FIELDS)
        release = _release_name(reader, ctx)
        namespace = reader.string("namespace") or ctx.namespace
        timeout = reader.timeout(ctx, default=deploy.DEFAULT_TIMEOUT_SECONDS)
        helm = Helm(kubeconfig=kubeconfig_of(ctx.cluster), context=context_of(ctx.cluster))
        if release not in helm.releases(namespace=namespace):
            return TemplateResult(
                phase="Succeeded", message=f"helm release {namespace}/{release} is not installed"
            )

        manifests = _release_objects(helm, ctx, release, namespace)
        helm.uninstall(release, namespace=namespace, timeout=timeout)
        deploy.wait_gone(ctx, manifests, kind="helm", timeout=timeout)
        return TemplateResult(
            phase="Succeeded",
            message=f"helm release {namespace}/{release} uninstalled; "
            f"{describe_refs([m.ref for m in manifests])} gone",
            objects=[manifest.ref for manifest in manifests],
        )


def _install(
    helm: Helm,
    reader: Spec,
    ctx: TemplateContext,
    chart: Any,
    values: dict[str, Any],
    release: str,
    namespace: str,
    timeout: float,
) -> tuple[Release, str]:
    """Install or upgrade unless nothing would change; return the revision and the change.

    An upgrade that would change nothing still runs when an object of the release is
    missing from the cluster, because helm then creates it again.
    """
    unchanged = None
    if not ctx.dry_run:
        _recover(helm, ctx, release, namespace, timeout)
        unchanged = helm.current_if_unchanged(release, chart, values, namespace=namespace)
    if unchanged:
        missing = deploy.missing_objects(ctx, _release_objects(helm, ctx, release, namespace))
        if missing:
            log.info(
                "helm step %s: release %s/%s is unchanged, but %s is not in the cluster; "
                "upgrading to create it again",
                ctx.node_name,
                namespace,
                release,
                describe_refs([manifest.ref for manifest in missing]),
            )
            unchanged = None
    if unchanged:
        installed, change = unchanged, "unchanged"
    else:
        with _helm_conflict_advice():
            installed = helm.upgrade(
                release,
                chart,
                values,
                namespace=namespace,
                timeout=timeout,
                create_namespace=reader.flag("createNamespace", default=True),
                force_conflicts=reader.flag("forceConflicts", default=False),
                dry_run=ctx.dry_run,
            )
        change = "installed" if installed.revision == 1 else "upgraded"
    log.info(
        "helm step %s: release %s/%s is at revision %d (%s, %s)",
        ctx.node_name,
        namespace,
        release,
        installed.revision,
        installed.status,
        change,
    )
    return installed, change


@contextmanager
def _helm_conflict_advice() -> Iterator[None]:
    """Turn helm's server-side apply conflict into a ConflictError that names the fix."""
    try:
        yield
    except ApiError as failure:
        if HELM_CONFLICT not in str(failure):
            raise
        advice = (
            "Set forceConflicts: true in this step's helm template to take these fields over "
            "(helm --force-conflicts), or stop changing them outside the release."
        )
        raise ConflictError(f"{failure}\n{advice}", status=409, reason="Conflict") from None


def _recover(
    helm: Helm, ctx: TemplateContext, release: str, namespace: str, timeout: float
) -> None:
    stuck = helm.recover_pending(release, namespace=namespace, timeout=timeout)
    if stuck:
        log.warning(
            "helm step %s: release %s/%s was left %s by an interrupted helm; "
            "rolled it back (or uninstalled it) before the upgrade",
            ctx.node_name,
            namespace,
            release,
            stuck,
        )


def _release_name(reader: Spec, ctx: TemplateContext) -> str:
    """Return `release`, else the step's own name made a valid release name."""
    given = reader.string("release")
    if given:
        problem = release_name_problem(given)
        if problem:
            raise WorkflowError(f"helm.release: {problem}")
        return given
    step = step_path(ctx).rpartition(".")[2]
    name = re.sub(r"[^a-z0-9-]+", "-", step.lower()).strip("-")[:MAX_RELEASE_NAME].strip("-")
    if not name:
        raise WorkflowError(f"helm step {ctx.node_name}: set `release:`")
    return name


def _layered_values(
    reader: Spec, ctx: TemplateContext, chart_defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """Layer chart defaults < valuesFiles < values < stackValues, then prepare for helm."""
    files = load_values_files(reader.strings("valuesFiles"), base_dir=ctx.base_dir)
    layers = [*files, reader.mapping("values"), *_stack_values(reader)]
    merged = merge_values(chart_defaults, *layers)
    return values_for_helm(chart_defaults, merged, deleted_keys(*layers))


def _stack_values(reader: Spec) -> list[dict[str, Any]]:
    """Return the `stackValues` layers, lowest first: one value, or a list of them.

    A stack file's `values` for this template arrive as the last item of the list.
    """
    value = reader.body.get("stackValues")
    items = value if isinstance(value, list) else [value]
    return [layer for layer in (_stack_layer(item) for item in items) if layer]


def _stack_layer(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        parsed = yaml.safe_load(str(value))
    except yaml.YAMLError as failure:
        raise InputError(f"helm.stackValues is not valid YAML or JSON: {failure}") from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise WorkflowError(
            "helm.stackValues must be a mapping, YAML/JSON text of one, or a list of those"
        )
    return parsed


def _apply_crds(
    ctx: TemplateContext, crds: list[dict[str, Any]], *, chart: str, timeout: float, force: bool
) -> None:
    """Apply the chart's CRDs and wait until Established, before any chart template."""
    manifests = crd_manifests(crds, chart=chart)
    if not manifests:
        return
    names = ", ".join(manifest.name for manifest in manifests)
    prefix = f"CustomResourceDefinition(s) {names} from crds/ of chart {chart} could not be applied"
    suffix = "no chart template was applied"
    try:
        deploy.apply_crds(ctx, manifests, kind="helm", timeout=timeout, force_conflicts=force)
    except ApiError as failure:
        raise type(failure)(
            f"{prefix}: {failure}; {suffix}", status=failure.status, reason=failure.reason
        ) from None
    except (ReadinessTimeout, ObjectFailed) as failure:
        raise type(failure)(f"{prefix}: {failure}; {suffix}") from None
    except ValidationError as invalid:
        note = Problem(object=f"chart {chart}", path="crds/", message=f"{suffix}; fix the CRD")
        raise ValidationError([*invalid.problems, note]) from None


def _release_objects(
    helm: Helm, ctx: TemplateContext, release: str, namespace: str
) -> list[Manifest]:
    text = helm.manifest(release, namespace=namespace)
    manifests = parse_release_manifest(text, release=release)
    return deploy.with_namespace(ctx, manifests, namespace=namespace)
