"""Helm values layering: later layers override earlier ones, and `null` deletes a key.

Layers are given lowest first, for example chart defaults, then the workflow's
`valuesFiles` and inline `values`, then the stack's values. Mappings merge key by key
at every depth. Any other value (a list, a string, a number) replaces the one below
it whole, as Helm does. A `None` (YAML `null`) in a layer removes that key from the
result, so a stack can switch off a default block without knowing its contents.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def merge_values(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge values layers, lowest first, into a new dict in which `None` deletes a key.

    A layer that is `None` counts as empty. The inputs are never modified.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer:
            _merge_into(merged, layer)
    return merged


def _merge_into(target: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping):
            below = target.get(key)
            nested = below if isinstance(below, dict) else {}
            _merge_into(nested, value)
            target[key] = nested
        else:
            target[key] = copy.deepcopy(value)


def values_for_helm(chart_defaults: Mapping[str, Any], merged: Mapping[str, Any]) -> dict[str, Any]:
    """Return the values document that makes Helm arrive at `merged` over its chart defaults.

    Helm always merges user values over the chart's own `values.yaml`, so a key that the
    layers deleted would come back from the defaults. This adds an explicit `null` for
    every such key, which Helm treats as "remove this default".
    """
    result = copy.deepcopy(dict(merged))
    for key, default in chart_defaults.items():
        if key not in merged:
            result[key] = None
            continue
        value = merged[key]
        if isinstance(default, Mapping) and isinstance(value, Mapping):
            result[key] = values_for_helm(default, value)
    return result
