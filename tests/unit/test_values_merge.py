"""Helm values layering: override order, deep merges and null deletion."""

from __future__ import annotations

import copy
from typing import Any

from deployer.sources.values import deleted_keys, merge_values, values_for_helm

CHART_DEFAULTS: dict[str, Any] = {
    "replicas": 1,
    "image": {"repository": "openzipkin/zipkin", "tag": "2.24"},
    "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}},
    "env": ["A=1", "B=2"],
}


def test_upper_layer_overrides_scalar() -> None:
    merged = merge_values(CHART_DEFAULTS, {"replicas": 3})
    assert merged["replicas"] == 3


def test_mappings_merge_key_by_key() -> None:
    merged = merge_values(CHART_DEFAULTS, {"image": {"tag": "3.0"}})
    assert merged["image"] == {"repository": "openzipkin/zipkin", "tag": "3.0"}


def test_lists_are_replaced_not_concatenated() -> None:
    merged = merge_values(CHART_DEFAULTS, {"env": ["C=3"]})
    assert merged["env"] == ["C=3"]


def test_stack_wins_over_workflow_over_chart() -> None:
    workflow = {"replicas": 2, "image": {"tag": "workflow"}}
    stack = {"image": {"tag": "stack"}}
    merged = merge_values(CHART_DEFAULTS, workflow, stack)
    assert merged["replicas"] == 2
    assert merged["image"]["tag"] == "stack"
    assert merged["image"]["repository"] == "openzipkin/zipkin"


def test_null_deletes_key_from_lower_layer() -> None:
    merged = merge_values(CHART_DEFAULTS, {"resources": None})
    assert "resources" not in merged


def test_null_deletes_nested_key_only() -> None:
    merged = merge_values(CHART_DEFAULTS, {"resources": {"limits": {"cpu": None}}})
    assert merged["resources"] == {"limits": {"memory": "512Mi"}}


def test_null_in_middle_layer_then_value_above() -> None:
    merged = merge_values(CHART_DEFAULTS, {"image": None}, {"image": {"tag": "x"}})
    assert merged["image"] == {"tag": "x"}


def test_null_for_absent_key_is_ignored() -> None:
    merged = merge_values({"a": 1}, {"missing": None})
    assert merged == {"a": 1}


def test_mapping_replaces_scalar_below() -> None:
    merged = merge_values({"a": "text"}, {"a": {"b": 1}})
    assert merged == {"a": {"b": 1}}


def test_none_layer_counts_as_empty() -> None:
    assert merge_values(None, {"a": 1}, None) == {"a": 1}


def test_inputs_are_not_modified() -> None:
    before = copy.deepcopy(CHART_DEFAULTS)
    upper = {"image": {"tag": "3.0"}, "resources": None}
    upper_before = copy.deepcopy(upper)
    merged = merge_values(CHART_DEFAULTS, upper)
    merged["image"]["repository"] = "changed"
    merged["env"].append("D=4")
    assert before == CHART_DEFAULTS
    assert upper_before == upper


def test_helm_values_restore_deletions_as_null() -> None:
    merged = merge_values(CHART_DEFAULTS, {"resources": {"limits": {"cpu": None}}, "env": None})
    for_helm = values_for_helm(CHART_DEFAULTS, merged)
    assert for_helm["env"] is None
    assert for_helm["resources"] == {"limits": {"cpu": None, "memory": "512Mi"}}
    assert for_helm["replicas"] == 1


def test_helm_values_keep_keys_absent_from_defaults() -> None:
    for_helm = values_for_helm({"a": 1}, {"a": 2, "extra": {"b": 3}})
    assert for_helm == {"a": 2, "extra": {"b": 3}}


def test_deleted_keys_tracks_last_null() -> None:
    layers: list[dict[str, Any]] = [
        {"redis": {"auth": {"enabled": True}, "port": 1}},
        {"redis": {"auth": None, "port": None}, "metrics": None},
        {"redis": {"port": 2}},
    ]
    assert deleted_keys(*layers) == {"redis": {"auth": None}, "metrics": None}


def test_deleted_keys_ignores_layers_without_nulls() -> None:
    assert deleted_keys({"a": {"b": 1}}, None, {"c": 2}) == {}


def test_helm_values_keep_nulls_for_subchart_defaults() -> None:
    # The top chart's values.yaml has no `redis` block: the subchart brings its own.
    workflow = {"redis": {"auth": None, "replicas": 2}}
    merged = merge_values(CHART_DEFAULTS, workflow)
    for_helm = values_for_helm(CHART_DEFAULTS, merged, deleted_keys(workflow))
    assert for_helm["redis"] == {"auth": None, "replicas": 2}


def test_helm_values_null_block_not_in_defaults() -> None:
    stack = {"postgresql": None}
    merged = merge_values(CHART_DEFAULTS, stack)
    for_helm = values_for_helm(CHART_DEFAULTS, merged, deleted_keys(stack))
    assert "postgresql" in for_helm
    assert for_helm["postgresql"] is None


def test_stack_values_list_gives_layers_in_order() -> None:
    from deployer.engine.templates.common import Spec
    from deployer.engine.templates.helm import FIELDS, _stack_values

    reader = Spec("helm", {"stackValues": ["a: 1\nb: 1", "", {"b": 2, "c": None}]}, FIELDS)
    layers = _stack_values(reader)
    assert layers == [{"a": 1, "b": 1}, {"b": 2, "c": None}]
    merged = merge_values({"c": 0, "d": 0}, *layers)
    assert merged == {"a": 1, "b": 2, "d": 0}


def test_stack_values_single_text_is_one_layer() -> None:
    from deployer.engine.templates.common import Spec
    from deployer.engine.templates.helm import FIELDS, _stack_values

    assert _stack_values(Spec("helm", {"stackValues": "message: hi"}, FIELDS)) == [
        {"message": "hi"}
    ]
    assert _stack_values(Spec("helm", {}, FIELDS)) == []
