"""Output parameters read by jsonPath from the live objects a step deployed or found.

An entry looks like
`{name: address, valueFrom: {jsonPath: "{.spec.clusterIP}", object: "Service/zipkin"}}`.
`object` is `Kind/name` or `Kind/namespace/name`, and the kind may carry its API group
(`Deployment.apps/grafana`). Without a namespace, the object's namespace in the step is
used (for a cluster-scoped object, none). `object` may be left out when the step has
exactly one object. `valueFrom.default` is used when the path selects nothing.

A value is secret when it is read from a Secret (any field except apiVersion, kind, type,
metadata.name and metadata.namespace), or when the output parameter's name or the last
field name of its path looks secret by the masker's rule (`password`, `token`, ...).
Secret values are passed to `TemplateContext.register_secret`, so the run masks them
wherever it shows them, while the steps that consume the output get the real value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deployer.engine.kinds import TemplateContext
from deployer.engine.templates import jsonpath
from deployer.engine.workflow.masking import looks_secret
from deployer.errors import WorkflowError
from deployer.model.objects import Manifest

# Paths into a Secret whose values are not secret, as lists of field names.
PUBLIC_SECRET_FIELDS = (
    ["apiVersion"],
    ["kind"],
    ["type"],
    ["metadata", "name"],
    ["metadata", "namespace"],
)


@dataclass(frozen=True)
class ObjectSelector:
    """A parsed `valueFrom.object`: kind, optional group, optional namespace, name."""

    kind: str
    group: str | None
    namespace: str | None
    name: str

    def matches(self, manifest: Manifest) -> bool:
        if manifest.kind != self.kind or manifest.name != self.name:
            return False
        if self.group is not None and manifest.group != self.group:
            return False
        return self.namespace is None or manifest.namespace == self.namespace


def parse_selector(text: str) -> ObjectSelector:
    """Parse `Kind/name`, `Kind/namespace/name` or `Kind.group/...`."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise WorkflowError(
            f"output object {text!r} is invalid; write Kind/name or Kind/namespace/name "
            "(for example Service/zipkin or Deployment.apps/monitoring/grafana)"
        )
    kind, _, group = parts[0].partition(".")
    namespace = parts[1] if len(parts) == 3 else None
    return ObjectSelector(kind=kind, group=group or None, namespace=namespace, name=parts[-1])


def resolve_outputs(
    ctx: TemplateContext, *, manifests: Sequence[Manifest], kind: str
) -> dict[str, str]:
    """Read every jsonPath output parameter in `ctx.output_parameters` from the live
    objects among `manifests`, and register the secret values (see the module docstring).

    Entries without `valueFrom.jsonPath` are skipped because the runner resolves them.
    Raises WorkflowError when an entry names an object the step does not have, or
    when the path selects nothing and no default is given.
    """
    outputs: dict[str, str] = {}
    for entry in ctx.output_parameters:
        value_from = entry.get("valueFrom")
        if not isinstance(value_from, Mapping):
            continue
        name = str(entry.get("name", ""))
        if "path" in value_from:
            raise WorkflowError(
                f"output parameter {name}: valueFrom.path reads a file in a container, "
                f"which a {kind} step does not have; use valueFrom.jsonPath with object"
            )
        if "jsonPath" not in value_from:
            continue
        path = str(value_from["jsonPath"])
        manifest = _pick_object(value_from.get("object"), manifests, name=name, kind=kind)
        live = _live(ctx.cluster, manifest)
        found = jsonpath.find(live, path)
        if found:
            outputs[name] = jsonpath.format_values(found)
        elif "default" in value_from:
            outputs[name] = str(value_from["default"])
        else:
            raise WorkflowError(
                f"output parameter {name}: {path} selects nothing on "
                f"{manifest.ref}; fix the path or give valueFrom.default"
            )
        if is_secret(name, manifest, path):
            # Each selected string too, because a consumer may see one of several matches.
            for value in [outputs[name], *(item for item in found if isinstance(item, str))]:
                ctx.register_secret(value)
    return outputs


def is_secret(name: str, manifest: Manifest, path: str) -> bool:
    """Tell whether the output `name`, read by `path` from `manifest`, must be masked."""
    fields = jsonpath.field_names(path)
    if manifest.kind == "Secret" and fields not in PUBLIC_SECRET_FIELDS:
        return True
    last_field = next((field for field in reversed(fields) if field is not None), "")
    return looks_secret(name) or looks_secret(last_field)


def _pick_object(
    selector_text: Any, manifests: Sequence[Manifest], *, name: str, kind: str
) -> Manifest:
    if selector_text is None:
        if len(manifests) == 1:
            return manifests[0]
        raise WorkflowError(
            f"output parameter {name}: the {kind} step has {len(manifests)} objects, "
            "so valueFrom.object must name one (Kind/name or Kind/namespace/name)"
        )
    selector = parse_selector(str(selector_text))
    for manifest in manifests:
        if selector.matches(manifest):
            return manifest
    raise WorkflowError(
        f"output parameter {name}: object {selector_text} is not among the "
        f"{len(manifests)} objects of this {kind} step"
    )


def _live(cluster: Any, manifest: Manifest) -> Mapping[str, Any]:
    live = cluster.get(manifest.api_version, manifest.kind, manifest.name, manifest.namespace)
    if live is None:
        raise WorkflowError(
            f"output object {manifest.ref} was not found in the cluster after the step"
        )
    return dict(live)
