"""The `jsonnet` template kind: one Jsonnet main file evaluated and applied like manifests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployer.engine.kinds import TemplateContext, TemplateResult
from deployer.engine.templates import deploy, fields
from deployer.engine.templates.common import Spec, guarded, inventory_name
from deployer.sources.jsonnet import load_jsonnet

FIELDS = tuple(fields.JSONNET)


class JsonnetKind:
    """Evaluate Jsonnet with external variables and top-level arguments, then apply it."""

    def run(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        return guarded("jsonnet", ctx, lambda: self._run(spec, ctx))

    def destroy(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        return guarded("jsonnet", ctx, lambda: self._destroy(spec, ctx))

    def _run(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        reader = Spec("jsonnet", spec, FIELDS)
        manifests = load_jsonnet(
            reader.required("main"),
            base_dir=ctx.base_dir,
            lib_paths=reader.strings("libPaths"),
            ext_vars=reader.mapping("extVars"),
            ext_code=_code(reader, "extCode"),
            tlas=reader.mapping("tlas"),
            tla_code=_code(reader, "tlaCode"),
        )
        return deploy.apply_step(
            ctx,
            manifests,
            kind="jsonnet",
            namespace=reader.string("namespace") or ctx.namespace,
            inventory=inventory_name(ctx, reader.string("inventory")),
            timeout=reader.timeout(ctx, default=deploy.DEFAULT_TIMEOUT_SECONDS),
            force_conflicts=reader.flag("forceConflicts", default=False),
        )

    def _destroy(self, spec: Mapping[str, Any], ctx: TemplateContext) -> TemplateResult:
        reader = Spec("jsonnet", spec, FIELDS)
        return deploy.destroy_step(
            ctx,
            kind="jsonnet",
            namespace=reader.string("namespace") or ctx.namespace,
            inventory=inventory_name(ctx, reader.string("inventory")),
            timeout=reader.timeout(ctx, default=deploy.DEFAULT_TIMEOUT_SECONDS),
        )


def _code(reader: Spec, key: str) -> dict[str, str]:
    return {name: str(text) for name, text in reader.mapping(key).items()}
