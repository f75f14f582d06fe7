"""Custom resources checked offline against the schema of a CRD from the same set."""

from __future__ import annotations

from typing import Any

from deployer.model.objects import Manifest, Source
from deployer.plan.crd_schema import custom_resource_problems, defines_kind, json_schema

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size", "mode"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
                "owner": {"type": "string", "nullable": True},
                "port": {"x-kubernetes-int-or-string": True},
                "nullable": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    },
}


def _crd(schema: dict[str, Any] | None = SCHEMA, *, served: bool = True) -> Manifest:
    version: dict[str, Any] = {"name": "v1", "served": served, "storage": True}
    if schema is not None:
        version["schema"] = {"openAPIV3Schema": schema}
    body = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [version],
        },
    }
    return Manifest(body=body, source=Source("crd.yaml", 1))


def _widget(spec: dict[str, Any], api_version: str = "example.com/v1") -> Manifest:
    body = {
        "apiVersion": api_version,
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
        "spec": spec,
    }
    return Manifest(body=body, source=Source("widget.yaml", 4))


def test_valid_custom_resource_has_no_problems() -> None:
    spec = {"size": 3, "owner": None, "port": "http", "nullable": True, "tags": ["a"]}
    assert custom_resource_problems(_widget(spec), _crd()) == []


def test_wrong_type_names_path_and_value() -> None:
    problems = custom_resource_problems(_widget({"size": "three"}), _crd())
    assert problems is not None
    assert [problem.path for problem in problems] == ["spec.size"]
    assert "'three' is not of type 'integer'" in problems[0].message
    assert problems[0].object == "Widget.example.com shop/w (widget.yaml:4)"


def test_every_problem_is_listed_with_its_path() -> None:
    problems = custom_resource_problems(
        _widget({"size": 0, "mode": "slow", "tags": ["a", 2]}), _crd()
    )
    assert problems is not None
    assert sorted(problem.path for problem in problems) == [
        "spec.mode",
        "spec.size",
        "spec.tags[1]",
    ]


def test_missing_required_field_is_named() -> None:
    problems = custom_resource_problems(_widget({"mode": "fast"}), _crd())
    assert problems is not None
    assert [(problem.path, problem.message) for problem in problems] == [
        ("spec", "'size' is a required property")
    ]


def test_required_field_with_default_may_be_left_out() -> None:
    assert custom_resource_problems(_widget({"size": 2}), _crd()) == []


def test_unserved_version_is_a_problem() -> None:
    problems = custom_resource_problems(_widget({"size": 2}, "example.com/v2"), _crd())
    assert problems is not None
    assert [problem.path for problem in problems] == ["apiVersion"]
    assert "version v2 is not served by CustomResourceDefinition" in problems[0].message
    assert "served versions: v1" in problems[0].message


def test_version_without_schema_cannot_be_checked() -> None:
    assert custom_resource_problems(_widget({"size": "x"}), _crd(None)) is None


def test_translation_keeps_properties_named_like_keywords() -> None:
    translated = json_schema(SCHEMA)
    spec = translated["properties"]["spec"]
    assert spec["properties"]["nullable"] == {"type": "boolean"}
    assert spec["properties"]["owner"] == {"type": ["string", "null"]}
    assert spec["properties"]["port"] == {}
    assert spec["required"] == ["size"]


def test_defines_kind_matches_group_and_kind() -> None:
    crd = _crd()
    assert defines_kind(crd, "example.com", "Widget")
    assert not defines_kind(crd, "example.org", "Widget")
    assert not defines_kind(_widget({}), "example.com", "Widget")
