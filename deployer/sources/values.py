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


def values_for_helm(
    chart_defaults: Mapping[str, Any],
    merged: Mapping[str, Any],
    deletions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the values document that makes Helm arrive at `merged` over its chart defaults.

    Helm always merges user values over the chart's own `values.yaml`, so a key that the
    layers deleted would come back from the defaults. This adds an explicit `null` for
    every such key, which Helm treats as "remove this default". `deletions` (from
    `deleted_keys`) adds the nulls the layers wrote for keys that `chart_defaults` does
    not show, such as defaults of a subchart.
    """
    result = _with_defaults_deleted(chart_defaults, merged)
    if deletions:
        _add_nulls(result, deletions)
    return result


def deleted_keys(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the keys that the last layer to mention them set to `null`, as a tree.

    For example `{"redis": {"auth": None}}` over `{"redis": {"port": 1}}` gives
    `{"redis": {"auth": None}}`. A key that a later layer sets again is not included.
    """
    tree: dict[str, Any] = {}
    for layer in layers:
        if layer:
            _track_deletions(tree, layer)
    return _prune_empty(tree)


def _track_deletions(tree: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if value is None:
            tree[key] = None
        elif isinstance(value, Mapping):
            below = tree.get(key)
            nested = below if isinstance(below, dict) else {}
            _track_deletions(nested, value)
            tree[key] = nested
        else:
            tree.pop(key, None)


def _prune_empty(tree: dict[str, Any]) -> dict[str, Any]:
    pruned: dict[str, Any] = {}
    for key, value in tree.items():
        if value is None:
            pruned[key] = None
        elif isinstance(value, dict):
            inner = _prune_empty(value)
            if inner:
                pruned[key] = inner
    return pruned


def _add_nulls(target: dict[str, Any], deletions: Mapping[str, Any]) -> None:
    for key, value in deletions.items():
        if value is None:
            target.setdefault(key, None)
        elif isinstance(value, Mapping):
            below = target.get(key)
            if below is None and key not in target:
                below = target[key] = {}
            if isinstance(below, dict):
                _add_nulls(below, value)


def _with_defaults_deleted(
    chart_defaults: Mapping[str, Any], merged: Mapping[str, Any]
) -> dict[str, Any]:
    result = copy.deepcopy(dict(merged))
    for key, default in chart_defaults.items():
        if key not in merged:
            result[key] = None
            continue
        value = merged[key]
        if isinstance(default, Mapping) and isinstance(value, Mapping):
            result[key] = _with_defaults_deleted(default, value)
    return result
