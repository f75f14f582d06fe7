"""Helm values of a stack: the values a stack entry gives the helm templates of its workflow."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from deployer.engine.stack import Stack, StackWorkflow
from deployer.errors import InputError
from deployer.model.workflow import Workflow


def add_stack_values(
    stack: Stack, entry: StackWorkflow, workflow: Workflow, document: Mapping[str, Any]
) -> tuple[Workflow, dict[str, Any]]:
    """Add the entry's Helm values to the workflow's helm templates, in changed copies.

    Each named helm template gets the values as its top `stackValues` layer, after any
    `stackValues` it sets itself, so they override the template's `valuesFiles` and
    `values` and the chart's defaults, and a `null` deletes a key of those layers. The
    document is changed too, because the run record keeps it for `deployer retry`.
    Raises InputError for a name that is not a helm template of the workflow file.
    """
    copied: dict[str, Any] = copy.deepcopy(dict(document))
    if not entry.values:
        return workflow, copied
    written = {
        str(item.get("name")): item
        for item in (copied.get("spec") or {}).get("templates") or []
        if isinstance(item, dict) and isinstance(item.get("helm"), dict)
    }
    unknown = sorted(set(entry.values) - set(written))
    if unknown:
        raise InputError(
            f"{entry.label}.values: workflow {entry.file.name} has no helm template "
            f"{', '.join(unknown)}; its helm templates: {', '.join(sorted(written)) or 'none'}",
            file=str(stack.file),
            line=entry.key_lines.get(f"values.{unknown[0]}", entry.line) or None,
        )
    templates = dict(workflow.templates)
    for name, values in entry.values.items():
        body = dict(templates[name].body)
        body["stackValues"] = _stack_layers(body.get("stackValues"), values)
        templates[name] = replace(templates[name], body=body)
        written[name]["helm"]["stackValues"] = copy.deepcopy(body["stackValues"])
    return replace(workflow, templates=templates), copied


def _stack_layers(own: Any, values: Mapping[str, Any]) -> list[Any]:
    """Return the `stackValues` layers: the template's own, then the stack entry's."""
    layer = copy.deepcopy(dict(values))
    if own is None or own == "":
        return [layer]
    if isinstance(own, list):
        return [*own, layer]
    return [own, layer]
