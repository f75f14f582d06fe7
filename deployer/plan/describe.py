"""Describe a plan for people (`deployer plan`) and as plain data (`-o json|yaml`)."""

from __future__ import annotations

from typing import Any

from deployer.model.objects import Manifest
from deployer.model.plan import Plan
from deployer.plan.graph import object_label
from deployer.plan.ranks import RANK_NAMES, kind_rank

MAX_LABEL_WIDTH = 60  # characters; longer object names push their source column right


def format_plan(plan: Plan, *, dependencies: bool = True) -> str:
    """Return the waves of `plan` as text: each object with its source file:line.

    With `dependencies`, each object is followed by the objects it waits for, except its
    own Namespace, which every namespaced object waits for. Waves are numbered from 1.
    """
    if not plan.waves:
        return "no objects to apply\n"
    width = min(MAX_LABEL_WIDTH, max(len(object_label(m.ref)) for m in plan.manifests()))
    lines = []
    total = len(plan.waves)
    for wave in plan.waves:
        count = len(wave.manifests)
        noun = "object" if count == 1 else "objects"
        lines.append(
            f"wave {wave.index + 1} of {total}: {_wave_title(wave.manifests)} ({count} {noun})"
        )
        for manifest in wave.manifests:
            label = object_label(manifest.ref)
            source = str(manifest.source) if manifest.source else ""
            lines.append(f"  {label:<{width}}  {source}".rstrip())
            waits = [
                object_label(ref)
                for ref in manifest.depends_on
                if not (ref.kind == "Namespace" and ref.name == manifest.namespace)
            ]
            if dependencies and waits:
                lines.append(f"    after {', '.join(waits)}")
    return "\n".join(lines) + "\n"


def _wave_title(manifests: tuple[Manifest, ...]) -> str:
    ranks = sorted({kind_rank(m.group, m.kind) for m in manifests})
    return ", ".join(RANK_NAMES[rank] for rank in ranks)


def plan_to_data(plan: Plan) -> list[dict[str, Any]]:
    """Return `plan` as JSON-ready data: a list of waves, each with its objects."""
    return [
        {
            "wave": wave.index + 1,
            "objects": [_object_data(manifest) for manifest in wave.manifests],
        }
        for wave in plan.waves
    ]


def _object_data(manifest: Manifest) -> dict[str, Any]:
    ref = manifest.ref
    return {
        "apiVersion": manifest.api_version,
        "kind": ref.kind,
        "namespace": ref.namespace,
        "name": ref.name,
        "source": str(manifest.source) if manifest.source else None,
        "dependsOn": [object_label(dep) for dep in manifest.depends_on],
    }
