"""The `manifests` template kind: files, folders and globs applied in waves with readiness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.templates import deploy, fields
from deployer.engine.templates.common import Spec, guarded, inventory_name
from deployer.sources.loader import load_paths

FIELDS = tuple(fields.MANIFESTS)


class ManifestsKind:
    """Load manifests with Jinja2 parameters and apply them under the step's inventory."""

    def run(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        return guarded("manifests", ctx, lambda: self._run(spec, ctx))

    def destroy(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        return guarded("manifests", ctx, lambda: self._destroy(spec, ctx))

    def _run(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        reader = Spec("manifests", spec, FIELDS)
        paths = reader.strings("paths")
        if not paths:
            reader.required("paths")
        parameters = {
            **ctx.workflow_parameters,
            **ctx.parameters,
            **reader.mapping("parameters"),
        }
        manifests = load_paths(paths, parameters=parameters, base_dir=ctx.base_dir)
        return deploy.apply_step(
            ctx,
            manifests,
            kind="manifests",
            namespace=reader.string("namespace") or ctx.namespace,
            inventory=inventory_name(ctx, reader.string("inventory")),
            timeout=reader.timeout(ctx, default=deploy.DEFAULT_TIMEOUT_SECONDS),
            force_conflicts=reader.flag("forceConflicts", default=False),
        )

    def _destroy(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        reader = Spec("manifests", spec, FIELDS)
        return deploy.destroy_step(
            ctx,
            kind="manifests",
            namespace=reader.string("namespace") or ctx.namespace,
            inventory=inventory_name(ctx, reader.string("inventory")),
            timeout=reader.timeout(ctx, default=deploy.DEFAULT_TIMEOUT_SECONDS),
        )
