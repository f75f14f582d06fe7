"""Reading template kind specs: field checks, timeouts and inventory names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from deployer.engine.kinds import TemplateContext
from deployer.engine.templates.common import MAX_INVENTORY_NAME, Spec, inventory_name, phase_for
from deployer.errors import DeployerError, InputError, ObjectFailed, RenderError, WorkflowError


def _context(**fields: Any) -> TemplateContext:
    values: dict[str, Any] = {
        "cluster": None,
        "base_dir": Path("."),
        "parameters": {},
        "workflow_parameters": {},
        "namespace": "default",
        "run_name": "sock-shop-x7k2p",
        "node_name": "sock-shop-x7k2p.databases",
    }
    values.update(fields)
    return TemplateContext(**values)


def test_unknown_field_lists_supported_ones() -> None:
    with pytest.raises(WorkflowError) as raised:
        Spec("helm", {"chart": "x", "valuesFile": "a.yaml"}, ("chart", "valuesFiles"))
    assert "not supported: helm.valuesFile (did you mean valuesFiles?)" in str(raised.value)
    assert "chart, valuesFiles" in str(raised.value)


def test_strings_accepts_one_string_or_list() -> None:
    spec = Spec("manifests", {"paths": "a.yaml", "more": ["b", "c"]}, ("paths", "more"))
    assert spec.strings("paths") == ["a.yaml"]
    assert spec.strings("more") == ["b", "c"]
    assert spec.strings("missing") == []


@pytest.mark.parametrize(
    ("body", "call"),
    [
        ({"paths": [1]}, lambda s: s.strings("paths")),
        ({"values": [1]}, lambda s: s.mapping("values")),
        ({"flag": "maybe"}, lambda s: s.flag("flag", default=False)),
        ({"name": {"a": 1}}, lambda s: s.string("name")),
        ({}, lambda s: s.required("name")),
    ],
)
def test_wrong_field_type_is_rejected(body: dict[str, Any], call: Any) -> None:
    spec = Spec("kind", body, ("paths", "values", "flag", "name"))
    with pytest.raises(WorkflowError):
        call(spec)


def test_flag_reads_substituted_strings() -> None:
    spec = Spec("helm", {"a": "true", "b": "False", "c": True}, ("a", "b", "c"))
    assert spec.flag("a", default=False) is True
    assert spec.flag("b", default=True) is False
    assert spec.flag("c", default=False) is True
    assert spec.flag("d", default=True) is True


def test_timeout_from_spec_or_default() -> None:
    assert Spec("k", {"timeout": "1m30s"}, ("timeout",)).timeout(_context(), default=5) == 90
    assert Spec("k", {}, ("timeout",)).timeout(_context(), default=5) == 5


def test_timeout_capped_by_node_deadline() -> None:
    node_limited = _context(timeout_seconds=42.0)
    assert Spec("k", {"timeout": "5m"}, ("timeout",)).timeout(node_limited, default=5) == 42
    assert Spec("k", {"timeout": "10s"}, ("timeout",)).timeout(node_limited, default=5) == 10
    assert Spec("k", {}, ("timeout",)).timeout(node_limited, default=300) == 42


def test_invalid_timeout_names_field() -> None:
    with pytest.raises(InputError, match=r"k\.timeout"):
        Spec("k", {"timeout": "soon"}, ("timeout",)).timeout(_context(), default=5)


def test_inventory_name_uses_workflow_and_step() -> None:
    ctx = _context(workflow_name="sock-shop")
    assert inventory_name(ctx, None) == "sock-shop.databases"


def test_inventory_name_falls_back_to_run_name() -> None:
    assert inventory_name(_context(), None) == "sock-shop-x7k2p.databases"


def test_inventory_name_explicit_is_cleaned() -> None:
    assert inventory_name(_context(), "My_Inventory") == "my-inventory"


def test_inventory_name_for_loop_child() -> None:
    ctx = _context(workflow_name="wf", node_name="sock-shop-x7k2p.deploy(0:carts)")
    assert inventory_name(ctx, None) == "wf.deploy-0-carts"


@pytest.mark.parametrize(
    ("node_name", "expected"),
    [
        ("sock-shop-x7k2p[1].databases", "sock-shop.databases"),
        ("sock-shop-x7k2p[0].outer[2].inner", "sock-shop.outer.inner"),
        ("sock-shop-x7k2p.db", "sock-shop.db"),
        ("sock-shop-x7k2p[0].Deploy_DB(1:{a: b})", "sock-shop.deploy-db-1-a-b"),
    ],
)
def test_inventory_name_from_display_path(node_name: str, expected: str) -> None:
    ctx = _context(workflow_name="sock-shop", node_name=node_name)
    assert inventory_name(ctx, None) == expected


def test_inventory_name_is_valid_object_name() -> None:
    ctx = _context(workflow_name="-wf.", node_name="sock-shop-x7k2p[1].-x-.(y)")
    name = inventory_name(ctx, None)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", name)


def test_long_inventory_names_stay_unique() -> None:
    first = inventory_name(_context(workflow_name="w" * 300), None)
    second = inventory_name(_context(workflow_name="w" * 299 + "x"), None)
    assert len(first) <= MAX_INVENTORY_NAME
    assert first != second


@pytest.mark.parametrize(
    ("error", "phase"),
    [
        (RenderError("x"), "Error"),
        (WorkflowError("x"), "Error"),
        (ObjectFailed("x"), "Failed"),
    ],
)
def test_phase_for_error_class(error: DeployerError, phase: str) -> None:
    assert phase_for(error) == phase
